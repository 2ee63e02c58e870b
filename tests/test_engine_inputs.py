"""The discrete engine refuses bad input cleanly and is covariant under the scale of d.

Scale: R(D) depends on d only through beta * d, so R_{c d}(c D) = R_d(D) with beta -> beta / c.
The solver normalises d by a power of two internally; these tests check the certificate and
the closed form at d scaled by 1e-300 .. 1e150.

FP = 1e-12 bits: float64 rounding of the certificate arithmetic, whose terms are O(1) bits
(a few hundred roundings of relative size 1.1e-16 each stay far below it); the same bound
``tests/test_discrete.py`` uses. A broken certificate (lower > rate by 1.2e-9 bits before the
fix at scale 1e-300) fails it by four orders of magnitude.
"""
import jax
import numpy as np
import pytest

from rdtheory.discrete import (blahut_arimoto, closed_form as cf, default_betas, distortion_range, hamming,
                               rate_at_distortion, rd_curve)

FP = 1e-12
P03 = np.array([0.7, 0.3])  # Bernoulli(0.3): R(D) = h(0.3) - h(D) for D < 0.3


# ---------------------------------------------------------------- devices=
def _has_platform(name):
    return any(dev.platform == name for dev in jax.devices())


@pytest.mark.parametrize("devices, msg", [
    ("nonsense", "devices must be None, one of"),
    ([], "non-empty sequence"),
    (["cpu"], "sequence of distinct jax devices"),
    (3, "devices must be"),
])
def test_devices_bad_values(devices, msg):
    with pytest.raises(ValueError, match=msg):
        blahut_arimoto(P03, hamming(2), np.array([1.0, 2.0]), devices=devices)


def test_devices_missing_platform_names_the_argument():
    if _has_platform("gpu"):
        pytest.skip("this machine has a GPU")
    with pytest.raises(ValueError, match=r"devices='gpu'.*platforms present"):
        blahut_arimoto(P03, hamming(2), np.array([1.0, 2.0]), devices="gpu")


def test_devices_duplicate_and_platform_name():
    dev = jax.devices()[0]
    with pytest.raises(ValueError, match="more than once"):
        blahut_arimoto(P03, hamming(2), np.array([1.0, 2.0]), devices=[dev, dev])
    betas = np.array([1.0, 2.0])
    plain = blahut_arimoto(P03, hamming(2), betas)
    named = blahut_arimoto(P03, hamming(2), betas, devices=dev.platform)
    # the same computation on the same device(s): identical numbers
    np.testing.assert_array_equal(plain.rate, named.rate)
    np.testing.assert_array_equal(plain.lower, named.lower)


# ---------------------------------------------------------------- scale of d
@pytest.mark.parametrize("scale", [1e-300, 1e-150, 1.0, 1e150])
def test_rd_curve_is_scale_covariant(scale):
    curve = rd_curve(P03, hamming(2) * scale, num=8)
    assert np.all(curve.converged)
    assert np.all(curve.lower <= curve.rate + FP), curve.lower - curve.rate
    exact = cf.binary_hamming(curve.distortion / scale, 0.3)   # closed form at the unscaled D
    assert np.all(curve.lower - FP <= exact) and np.all(exact <= curve.rate + FP)
    # slopes are nats per unit of the *scaled* distortion: beta * scale is scale-free
    ref = default_betas(P03, hamming(2), 8)
    np.testing.assert_allclose(curve.beta * scale, ref, rtol=1e-12)


def test_batch_with_a_different_scale_per_member():
    scales = np.array([1e-300, 1e-150, 1.0, 1e150])
    D = hamming(2)[None] * scales[:, None, None]
    # the same problem four times, at a slope where D ~ 1e-11 (so ~1e-311 at scale 1e-300,
    # below float64's normal range without the solver's normalisation)
    res = blahut_arimoto(P03, D, 25.0 / scales)
    assert np.all(res.converged)
    exact = cf.binary_hamming(res.distortion / scales, 0.3)
    assert np.all(res.lower - FP <= exact) and np.all(exact <= res.rate + FP)
    np.testing.assert_array_equal(res.beta, 25.0 / scales)   # the power-of-two scaling is undone exactly


@pytest.mark.parametrize("scale", [1e-300, 1e-150, 1.0, 1e150])
def test_rate_at_distortion_at_scaled_targets(scale):
    pt = rate_at_distortion([0.5, 0.5], hamming(2) * scale, 0.11 * scale)
    exact = cf.binary_hamming(0.11)
    assert pt.lower - FP <= exact <= pt.rate + FP
    assert pt.gap <= 1e-7 + FP
    assert abs(pt.distortion / scale - 0.11) <= 1e-12


def test_beta_times_d_overflow_is_refused():
    with pytest.raises(ValueError, match=r"beta \* max\(d\) overflows"):
        blahut_arimoto(P03, hamming(2) * 1e300, 1e10)


# ---------------------------------------------------------------- closed forms
@pytest.mark.parametrize("call, name", [
    (lambda: cf.gaussian_squared(0.5, variance=-1.0), "variance"),
    (lambda: cf.gaussian_squared(0.5, variance=np.nan), "variance"),
    (lambda: cf.discretised_gaussian(16, variance=-1.0), "variance"),
    (lambda: cf.gaussian_grid_bracket(0.5, np.arange(4.0), np.full(4, 0.25), variance=-2.0), "variance"),
    (lambda: cf.mary_hamming(0.1, 0), "m must be an integer"),
    (lambda: cf.mary_hamming(0.1, 2.5), "m must be an integer"),
    (lambda: cf.erasure(0.1, 0), "m must be an integer"),
    (lambda: cf.erasure(0.1, 3.5), "m must be an integer"),
    (lambda: cf.erasure_matrix(0), "m must be an integer"),
    (lambda: cf.erasure_matrix(3, penalty=-1.0), "penalty"),
    (lambda: cf.binary_hamming(np.nan), "D must be finite"),
    (lambda: cf.mary_hamming([0.1, np.nan], 4), "D must be finite"),
    (lambda: cf.gaussian_squared(-0.1), "D must be finite and >= 0"),
    (lambda: cf.binary_hamming(0.1, p=1.5), "p must be a probability"),
])
def test_closed_form_bad_arguments(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_closed_form_good_arguments_still_work():
    assert cf.mary_hamming(0.0, np.int64(4)) == pytest.approx(2.0, abs=1e-15)   # log2 4
    assert cf.erasure(0.5, 4) == pytest.approx(1.0, abs=1e-15)                  # (1 - D) log2 m
    assert cf.gaussian_squared(0.25, variance=1.0) == pytest.approx(1.0, abs=1e-15)


# ---------------------------------------------------------------- default_betas / distortion_range
@pytest.mark.parametrize("p, d, name", [
    ([0.5, np.nan], hamming(2), "p contains"),
    ([0.5, 0.5], np.array([[0.0, np.inf], [1.0, 0.0]]), "d contains"),
    ([np.inf, 0.5], hamming(2), "p contains"),
    ([0.5, 0.5], np.array([[0.0, np.nan], [1.0, 0.0]]), "d contains"),
    ([0.5, 0.5], hamming(3), "rows but the source has 2"),
])
def test_curve_helpers_refuse_non_finite_input(p, d, name):
    with pytest.raises(ValueError, match=name):
        default_betas(p, d)
    with pytest.raises(ValueError, match=name):
        distortion_range(p, d)
