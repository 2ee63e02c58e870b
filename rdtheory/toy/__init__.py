r"""The circles/squares toy example of Sec. III-B.1 (Fig. 2), exactly as in the paper.

The model
---------
Input :math:`X = (u, v)`, two equiprobable classes, u and v independent:

* "squares" (label :data:`SQUARE` = 0): :math:`u \sim U[0, 10]`, :math:`v \sim U[0.8, 1.2]`;
* "circles" (label :data:`CIRCLE` = 1): :math:`u \sim U[0, 10]`, :math:`v \sim U[2.8, 3.2]`.

The task model is :math:`f = h \circ g` with :math:`Y = g(X)`:

.. math::

    g(u, v) = \begin{cases}
      (2.5 + \operatorname{sgn}(u-5)\sqrt{|0.2^2 - (v-3)^2|},\ v), & v > 2,\\
      (7.5 + \operatorname{sgn}(u-5)\sqrt{|0.2^2 - (v-1)^2|},\ v), & v \le 2,
    \end{cases}
    \qquad
    h(u, v) = \text{circle if } v > 2 \text{ else square}.

So g folds each class onto a circle of radius 0.2: circles around (2.5, 3), squares around
(7.5, 1); the side (left/right half of the circle) is the sign of u − 5.

Analytic task-appropriateness (MSE = squared l2, footnote 6)
------------------------------------------------------------
*At X.* Class means :math:`\bar x^{sq} = (5, 1)`, :math:`\bar x^{ci} = (5, 3)`. The
intra-cluster distortion is the trace of the covariance,
:math:`D_X^{(i)} = \operatorname{Var} u + \operatorname{Var} v = 10^2/12 + 0.4^2/12 = 100.16/12 = 8.34\overline{6}`
for both classes, and :math:`D_X^{(sq,ci)} = (3 - 1)^2 = 4`. Hence (Eqs. 16–18)

.. math:: \rho_X = \frac{4}{\sqrt{8.34\overline{6}^2}} = \frac{48}{100.16} = 0.479233\ldots \approx 0.48.

*At Y.* For circles write :math:`w = v - 3 \sim U[-0.2, 0.2]` and :math:`s = \operatorname{sgn}(u-5) = \pm 1`
(equiprobable, independent of w). Then :math:`Y - (2.5, 3) = (s\sqrt{0.04 - w^2}, w)`, which
has mean 0 (E s = 0, E w = 0) and squared norm exactly :math:`0.04 - w^2 + w^2 = 0.04`. So
:math:`\bar y^{ci} = (2.5, 3)`, :math:`D_Y^{ci} = 0.04`; likewise :math:`\bar y^{sq} = (7.5, 1)`,
:math:`D_Y^{sq} = 0.04`, and :math:`D_Y^{(sq,ci)} = 5^2 + 2^2 = 29`:

.. math:: \rho_Y = \frac{29}{0.04} = 725.

Both classes have the same :math:`\rho^{(i)}`, matching the paper's
:math:`\rho_X = \rho_X^{sq} = \rho_X^{ci}` and :math:`\rho_Y = \rho_Y^{sq} = \rho_Y^{ci}`.

Optimal 1-bit MSE quantisers
----------------------------
At X, splitting u at 5 lowers the MSE by :math:`(10^2 - 5^2)/12 = 6.25`, splitting v between
the strips by only :math:`\operatorname{Var} v - 0.16/12 = 1`: the optimum is
:math:`\{u \le 5, u > 5\}` with codewords (2.5, 2), (7.5, 2), each bin holds half of each class
and :math:`f` maps both codewords to one label: 50% task error. At Y the two circles are 5.4
apart and 0.4 wide, so the optimal two cells are the two circles with codewords at their
centres and h decodes them correctly: 0% error. :func:`lloyd_quantizer` *learns* these with
k-means (Lloyd's algorithm), nothing is hard-coded; :func:`quantized_task_error` measures the
error on a fresh sample and :func:`rate_task_distortion` goes beyond 1 bit with the R(D)
engine on a discretised version of the model. The figures are drawn by
:func:`rdtheory.plotting.plot_fig2` and :func:`rdtheory.plotting.plot_rate_task`.

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. III-B.1, Fig. 2).
.. [2] S. P. Lloyd, "Least squares quantization in PCM", IEEE Trans. Inf. Theory 28(2):129-137,
   1982 (the 1-bit quantisers).

Layout: :mod:`.model` (the model, g, h, samples, ρ), :mod:`.quantize` (Lloyd quantisers and
their task error), :mod:`.grid` (the discretised model through the R(D) engine).
"""
from .grid import RateTaskCurve, ToyGrid, discretize, rate_for_task_error, rate_task_distortion, supervised_rate
from .model import (CENTRE_Y, CIRCLE, CLASS_NAMES, LAYERS, RADIUS, SQUARE, U_RANGE, V_RANGE, SampledRho, ToySample,
                    g, h, rho_analytic, rho_sampled, sample, task_model)
from .quantize import (LloydQuantizer, QuantizedTaskResult, lloyd_quantizer, quantized_task_error,
                       task_error_vs_rate, wilson)

__all__ = [
    "SQUARE", "CIRCLE", "CLASS_NAMES", "U_RANGE", "V_RANGE", "RADIUS", "CENTRE_Y", "LAYERS",
    "ToySample", "sample", "g", "h", "task_model",
    "rho_analytic", "rho_sampled", "SampledRho", "LloydQuantizer", "lloyd_quantizer",
    "QuantizedTaskResult", "quantized_task_error", "wilson", "task_error_vs_rate", "ToyGrid", "discretize",
    "RateTaskCurve", "rate_task_distortion", "rate_for_task_error", "supervised_rate",
]
