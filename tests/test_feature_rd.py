"""rdtheory.vision.feature_rd and the summary of experiments/cifar_feature_rd.py on a tiny random
ResNet-20 and random images (no data needed): the channel's sums against analytic values, exact
resume, the split model equals the plain forward, and the bits-at-accuracy interpolation."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rdtheory.empirical.water_filling import gaussian_curve, levels_for_rates  # noqa: E402
from rdtheory.vision.data import ImageArrays, to_tensor  # noqa: E402
from rdtheory.vision.feature_rd import evaluate_channels, fit_bases, split_cifar_resnet  # noqa: E402
from rdtheory.vision.models import cifar_resnet  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _data(n, seed):
    rng = np.random.default_rng(seed)
    return ImageArrays(rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), np.arange(n) % 4,
                       tuple("abcd"), "random")


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = cifar_resnet(20, num_classes=4).eval()
    split = split_cifar_resnet(model)
    bases = fit_bases(split, _data(64, 0), ("layer3", "pool"), batch_size=32, progress=False)
    levels = {p: levels_for_rates(b.variances, [4.0, 64.0]) for p, b in bases.items()}
    return model, split, bases, levels


def test_split_model_is_the_plain_forward(setup):
    model, split, _, _ = setup
    x = to_tensor(_data(8, 1).images, "imagenet")
    with torch.no_grad():
        assert torch.allclose(split.run(x)["output"], model(x), atol=1e-5)


def test_channel_sums_match_the_training_curve_on_the_training_images(setup):
    # evaluated on the images the bases were fitted on, the mean of c^2 is exactly v, so the mean rate term is
    # exactly R_G(theta) and the expected distortion exactly D(theta) (float64 round-off)
    _, split, bases, levels = setup
    st = evaluate_channels(split, _data(64, 0), bases, levels, n_groups=4, batch_size=32, progress=False)
    for p, b in bases.items():
        r_g, d_g = gaussian_curve(b.variances, levels[p])
        n = st["counts"].sum()
        assert np.allclose(st["sums"][p]["rate"].sum(1) / n, r_g, rtol=1e-4)
        assert np.allclose(st["sums"][p]["distortion"].sum(1) / n, d_g, rtol=1e-4)
        # one noise draw per image: realised = expected + a zero-mean sum over >= 64 coefficients x 64 images of
        # independent noise terms (relative sd < 0.05 at these sizes); 0.25 is > 5 sd, a wrong noise scale (x2) fails
        assert np.allclose(st["sums"][p]["realised"].sum(1) / n, d_g, rtol=0.25)
    assert st["counts"].sum() == 64 and np.all(st["counts"] == 16)


def test_resume_from_a_checkpoint_is_bit_identical(setup):
    _, split, bases, levels = setup
    data = _data(48, 2)
    full = evaluate_channels(split, data, bases, levels, n_groups=4, batch_size=16, seed=3, progress=False)
    saved = []

    def stop_after_first(st):
        saved.append({k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in st.items() if k != "sums"}
                     | {"sums": {p: {f: a.copy() for f, a in d.items()} for p, d in st["sums"].items()}})
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        evaluate_channels(split, data, bases, levels, n_groups=4, batch_size=16, seed=3, checkpoint=stop_after_first,
                          every=1, progress=False)
    assert saved[0]["batch"] == 1
    resumed = evaluate_channels(split, data, bases, levels, n_groups=4, batch_size=16, seed=3, state=saved[0],
                                progress=False)
    for p in levels:
        for f, a in full["sums"][p].items():
            assert np.array_equal(a, resumed["sums"][p][f]), (p, f)


def test_bad_points_and_missing_bases_are_value_errors(setup):
    _, split, bases, levels = setup
    with pytest.raises(ValueError, match="unknown layer"):
        fit_bases(split, _data(4, 0), ("layer9",), progress=False)
    with pytest.raises(ValueError, match="not a feature point"):
        fit_bases(split, _data(4, 0), ("output",), progress=False)
    with pytest.raises(ValueError, match="no fitted basis"):
        evaluate_channels(split, _data(16, 0), {}, levels, n_groups=2, progress=False)
    with pytest.raises(ValueError, match="per group"):
        evaluate_channels(split, _data(6, 0), bases, levels, n_groups=4, progress=False)


def _experiment():
    sys.path.insert(0, str(ROOT / "experiments"))
    try:
        return __import__("cifar_feature_rd")
    finally:
        sys.path.pop(0)


def test_bits_at_accuracy_interpolates_in_log_rate():
    exp = _experiment()
    rate = np.array([[8.0, 16.0, 32.0, 64.0]] * 4)
    acc = np.array([[0.1, 0.5, 0.7, 0.8],      # crosses 0.6 halfway between 16 and 32 (in log2): 2^4.5
                    [0.7, 0.8, 0.8, 0.8],      # already at the first point: the first rate
                    [0.1, 0.2, 0.3, 0.4],      # never: inf
                    [0.1, 0.6, 0.5, 0.9]])     # first crossing counts (16), not the later one
    got = exp.bits_at_accuracy(rate, acc, 0.6)
    assert math.isclose(got[0], 2 ** 4.5, rel_tol=1e-12)
    assert got[1] == 8.0 and got[2] == math.inf and got[3] == 16.0
    with pytest.raises(ValueError, match="same shape"):
        exp.bits_at_accuracy(rate, acc[:, :3], 0.6)
