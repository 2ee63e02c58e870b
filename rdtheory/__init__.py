"""rdtheory: rate-distortion theory for coding for machines.

Subpackages (one idea each; see README for the map):

- :mod:`rdtheory.info` — entropy, mutual information, KL (bits by default)
- :mod:`rdtheory.discrete` — certified Blahut–Arimoto R(D) engine in JAX
- :mod:`rdtheory.machines` — R_X(D;T), R_Y(D;T), R_XY(D;T) on finite task models, Theorems 1–4
- :mod:`rdtheory.appropriateness`, :mod:`rdtheory.toy` — task-appropriateness rho, circles/squares
- :mod:`rdtheory.vinfo` — predictive V-information
- :mod:`rdtheory.vision`, :mod:`rdtheory.codecs` — torch companion (optional extra ``[torch]``)

``import rdtheory`` is light: it imports neither JAX nor torch until a subpackage is used.
"""
__version__ = "0.1.0"
