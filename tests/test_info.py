"""Information measures against hand-computed values (exact up to float64 rounding)."""
import numpy as np
import pytest

from rdtheory.info import binary_entropy, conditional_mutual_information, entropy, kl_divergence, mutual_information


def test_entropy_known_values():
    assert entropy([0.5, 0.5]) == pytest.approx(1.0, abs=1e-15)
    assert entropy([1.0, 0.0, 0.0]) == 0.0  # 0 log 0 = 0
    assert entropy(np.ones(8) / 8) == pytest.approx(3.0, abs=1e-14)
    assert entropy([0.5, 0.5], base=np.e) == pytest.approx(np.log(2), abs=1e-15)
    assert binary_entropy(0.11) == pytest.approx(-(0.11 * np.log2(0.11) + 0.89 * np.log2(0.89)), abs=1e-15)


def test_kl_and_mutual_information():
    assert kl_divergence([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.5 * np.log2(2) + 0.5 * np.log2(2 / 3), abs=1e-15)
    assert kl_divergence([0.5, 0.5], [1.0, 0.0]) == np.inf
    assert kl_divergence([1.0, 0.0], [0.5, 0.5]) == pytest.approx(1.0, abs=1e-15)
    assert mutual_information([[0.5, 0], [0, 0.5]]) == pytest.approx(1.0, abs=1e-15)
    assert mutual_information(np.outer([0.3, 0.7], [0.6, 0.4])) == pytest.approx(0.0, abs=1e-15)
    # X uniform bit, Y = X through BSC(0.1): I = 1 - h(0.1)
    joint = 0.5 * np.array([[0.9, 0.1], [0.1, 0.9]])
    assert mutual_information(joint) == pytest.approx(1 - binary_entropy(0.1), abs=1e-14)
    # I(X;Y|Z) with Z independent of (X, Y) equals I(X;Y)
    pxyz = joint[:, :, None] * np.array([0.25, 0.75])[None, None, :]
    assert conditional_mutual_information(pxyz) == pytest.approx(1 - binary_entropy(0.1), abs=1e-14)


@pytest.mark.parametrize("bad, msg", [([0.5, 0.6], "sum to 1"), ([-0.1, 1.1], "negative"),
                                      ([np.nan, 1.0], "NaN"), ([], "empty")])
def test_bad_probabilities(bad, msg):
    with pytest.raises(ValueError, match=msg):
        entropy(bad)


def test_bad_base_and_shapes():
    with pytest.raises(ValueError, match="base"):
        entropy([0.5, 0.5], base=1)
    with pytest.raises(ValueError, match="same shape"):
        kl_divergence([0.5, 0.5], [1 / 3] * 3)
    with pytest.raises(ValueError, match="2-D"):
        mutual_information([0.5, 0.5])


def test_channel_mutual_information_is_log_domain_and_checked():
    from rdtheory.info import LN2, channel_mutual_information

    # identity channel: I = H(p). With eps = 1e-309 (subnormal output marginal) the ratio
    # q / r overflows; the log form gives eps*log2(1/eps) (the (1-eps)log(1-eps) term is
    # below float64 resolution: 1 - 1e-309 == 1.0), to the ~1e-15 relative rounding of logs
    eps = 1e-309
    val = channel_mutual_information([1 - eps, eps], np.eye(2))
    assert val == pytest.approx(eps * 309 * np.log2(10), rel=1e-12)
    with pytest.raises(ValueError, match="NaN"):
        channel_mutual_information([np.nan, 1.0], np.eye(2))
    with pytest.raises(ValueError, match="negative"):
        channel_mutual_information([0.5, 0.5], [[1.2, -0.2], [0.0, 1.0]])
    with pytest.raises(ValueError, match="sum to 1"):
        channel_mutual_information([0.5, 0.5], [[0.5, 0.4], [0.0, 1.0]])
    with pytest.raises(ValueError, match="shape"):
        channel_mutual_information([0.5, 0.5], np.eye(3))
    # a random channel agrees with I(joint) to float64 rounding (1e-12 on values ~1 bit)
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(7), 3), rng.dirichlet(np.ones(5), (3, 7))
    got = channel_mutual_information(p, q)
    assert got.shape == (3,)
    for b in range(3):
        assert got[b] == pytest.approx(mutual_information(p[b][:, None] * q[b]), abs=1e-12)
    assert channel_mutual_information(p[0], q[0], base=np.e) == pytest.approx(got[0] * LN2, abs=1e-12)
