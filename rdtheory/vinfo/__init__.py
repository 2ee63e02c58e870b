r"""Predictive V-information (Xu, Zhao, Song, Stewart, Ermon, ICLR 2020), in bits.

For a predictive family :math:`\mathcal V` (the predictors an observer can use),
:math:`I_\mathcal V(X\to Y) = H_\mathcal V(Y\mid\varnothing) - H_\mathcal V(Y\mid X)` with
:math:`H_\mathcal V(Y\mid X) = \inf_{f\in\mathcal V}\mathbb E[-\log_2 f[X](Y)]`. It equals
Shannon mutual information for the unrestricted family, can *increase* under computation,
and is not symmetric. The scalable-coding slides use it to choose analysis transforms
(``sup_f I_Vb(f(X)->Zb) + beta I_Va(f(X)->Za)``, ``Za = X`` with a Gaussian decoder family).

Entry points
------------
- :func:`v_information` - :math:`I_\mathcal V(X\to Y)` with held-out / cross-fitted estimation and CIs
- :func:`conditional_v_information` - :math:`I_\mathcal V(X\to Y\mid C)`
- :func:`pointwise_v_information` - PVI per sample (Ethayarajh et al. 2022)
- :func:`paired_difference` - interval for the difference of two estimates
- families: :class:`TabularFamily`, :class:`LogisticFamily`, :class:`MLPFamily`,
  :class:`LinearGaussianFamily`, :class:`GaussianDecoderFamily` (+ :func:`jax_mlp`), :class:`IgnoreInput`
- :mod:`rdtheory.vinfo.examples` - known-answer generators, the cipher/XOR example, the
  finite-sample bias study and the digits base-layer trade-off.

See ``docs/vinfo.md`` for the maths, the API and measured numbers. Modules: ``estimators``
(the estimates and intervals), ``_checks`` (input validation), ``families`` (the protocol and
the classifier families), ``gaussian`` (Gaussian families for continuous targets).

References
----------
.. [1] Y. Xu, S. Zhao, J. Song, R. Stewart and S. Ermon, "A Theory of Usable Information
   under Computational Constraints", ICLR 2020.
"""
from .estimators import (Difference, VInformation, conditional_v_information, paired_difference,
                         pointwise_v_information, v_information)
from .families import (GaussianDecoderFamily, IgnoreInput, LinearGaussianFamily, LogisticFamily, MLPFamily,
                       PredictiveFamily, Predictor, TabularFamily, jax_mlp)

__all__ = [
    "v_information", "conditional_v_information", "pointwise_v_information", "paired_difference",
    "VInformation", "Difference",
    "PredictiveFamily", "Predictor", "TabularFamily", "LogisticFamily", "MLPFamily",
    "LinearGaussianFamily", "GaussianDecoderFamily", "IgnoreInput", "jax_mlp",
]
