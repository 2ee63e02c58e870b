"""rdtheory.codecs: shapes, training reduces the loss, exact bitstreams whose size matches the
rate estimate, Eq. 22 / Eq. 23 values, and clear errors for bad configurations."""
import doctest
import math
import subprocess
import sys
import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")

pytestmark = pytest.mark.torch

from rdtheory.codecs import (DepthwiseSeparableConv2d, DepthwiseSeparableConvTranspose2d,  # noqa: E402
                             ModelSplittingCodec, RateDistortionLoss, rate_bits)
from rdtheory.codecs import layers as layers_mod, losses as losses_mod, splitting as splitting_mod  # noqa: E402

warnings.filterwarnings("ignore", message=".*torch.jit.script.*")  # CompressAI 1.2.8 on torch 2.14

C, CR, N = 16, 4, 16          # cut-point channels, latent channels, hyper channels
MIX = torch.Generator().manual_seed(0)
MIXING = torch.randn(C, 4, generator=MIX) / 2


def synthetic_features(n, size, seed):
    """A fixed synthetic 'cut-point' distribution: 4 smooth sources mixed into C channels + noise.

    Shape (n, C, size, size). Convolutional, so the same distribution exists at any size.
    """
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(n, 4, size // 2, size // 2, generator=g) * 2
    s = torch.nn.functional.interpolate(s, scale_factor=2, mode="nearest")
    return torch.einsum("ck,bkhw->bchw", MIXING, s) + 0.05 * torch.randn(n, C, size, size, generator=g)


@pytest.fixture(scope="module")
def trained():
    """200 steps of R + 8·MSE on 8×8 synthetic features (~3 s on one CPU thread)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    codec = ModelSplittingCodec(C, CR, stride=2, quant_step=0.5, hyper_channels=N)
    loss_fn = RateDistortionLoss(8.0, "mse", layers=("cut",))
    main = [p for n, p in codec.named_parameters() if not n.endswith(".quantiles")]
    aux = [p for n, p in codec.named_parameters() if n.endswith(".quantiles")]
    opt, aux_opt = torch.optim.Adam(main, lr=3e-3), torch.optim.Adam(aux, lr=1e-2)
    losses = []
    for step in range(200):
        y = synthetic_features(32, 8, seed=1000 + step)
        out = codec(y)
        L = loss_fn(out["likelihoods"], 32 * 8 * 8, targets={"cut": y}, estimates={"cut": out["output"]})
        opt.zero_grad()
        L["loss"].backward()
        opt.step()
        a = codec.aux_loss()
        aux_opt.zero_grad()
        a.backward()
        aux_opt.step()
        losses.append(L["loss"].item())
    codec.eval()
    codec.update(force=True)
    torch.set_num_threads(threads)
    return codec, losses


def test_import_rdtheory_does_not_import_torch_or_compressai():
    code = "import rdtheory, rdtheory.metrics, sys; print('torch' in sys.modules, 'compressai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("mod", [layers_mod, losses_mod, splitting_mod])
def test_doctests(mod):
    res = doctest.testmod(mod)
    # attempted > 0: a module whose examples vanish would otherwise pass with nothing run
    assert res.attempted > 0 and res.failed == 0, res


@pytest.mark.parametrize("stride", [1, 2])
def test_shapes(stride):
    torch.manual_seed(0)
    codec = ModelSplittingCodec(C, CR, stride=stride, quant_step=0.5, hyper_channels=N)
    y = torch.randn(3, C, 8, 8)
    out = codec(y)
    assert out["output"].shape == y.shape
    assert out["likelihoods"]["z"].shape == (3, CR, 8 // stride, 8 // stride)
    assert out["likelihoods"]["z_h"].shape == (3, N, 8 // stride // 2, 8 // stride // 2)
    for p in out["likelihoods"].values():  # bin probabilities
        assert bool(((p > 0) & (p <= 1)).all())
    assert codec.aux_loss().ndim == 0


def test_depthwise_separable_layers():
    enc, dec = DepthwiseSeparableConv2d(8, 3, stride=2), DepthwiseSeparableConvTranspose2d(3, 8, stride=2)
    x = torch.randn(2, 8, 12, 12)
    assert enc(x).shape == (2, 3, 6, 6) and dec(enc(x)).shape == x.shape
    # in*k^2 + in (depthwise) + in*out + out (pointwise), vs 8*3*9 = 216 for a full conv
    assert sum(p.numel() for p in enc.parameters()) == 8 * 9 + 8 + 8 * 3 + 3


def test_training_reduces_loss(trained):
    _, losses = trained
    first, last = sum(losses[:20]) / 20, sum(losses[-20:]) / 20
    # Measured here: ~45 -> ~25. Require a clear (20%) drop, not a particular value.
    assert last < 0.8 * first, (first, last)


def test_bitstream_round_trip_is_exact(trained):
    codec, _ = trained
    y = synthetic_features(8, 8, seed=99)
    enc = codec.compress(y)
    assert all(isinstance(s, bytes) for lst in enc["strings"] for s in lst)
    dec = codec.decompress(enc["strings"], enc["shape"])
    with torch.no_grad():
        z = codec.g_a(y) / codec.quant_step
        ref = codec(y)["output"]
    # the quantiser by its defining property, not by re-deriving its formula: integers, each the
    # nearest to the encoder's latent (1e-6: float32 rounding of g_a's output); not all zero
    assert torch.equal(dec["z_hat"], dec["z_hat"].round()) and dec["z_hat"].abs().max() > 0
    assert float((z - dec["z_hat"]).abs().max()) <= 0.5 + 1e-6
    assert torch.equal(dec["output"], ref)


def _est_and_measured(codec, y):
    with torch.no_grad():
        lik = codec(y)["likelihoods"]
    enc = codec.compress(y)
    rows = []
    for i in range(y.shape[0]):
        est = [float(-torch.log2(lik[k][i]).sum()) for k in ("z", "z_h")]
        meas = [8 * len(enc["strings"][j][i]) for j in (0, 1)]
        rows.append((est, meas))
    return rows


# CompressAI's rANS (rans64) flushes a 64-bit state per stream and writes 32-bit words, so a
# stream costs its information content plus up to 64 + 31 bits; part of the flushed state
# carries information, so the observed excess on small streams is ~30-65 bits.
PER_STREAM_OVERHEAD_MAX_BITS = 64 + 32


def test_small_streams_cost_estimate_plus_per_stream_overhead(trained):
    codec, _ = trained
    for est, meas in _est_and_measured(codec, synthetic_features(16, 8, seed=123)):
        for e, m in zip(est, meas):
            # 1% of the estimate on top covers CDF/scale-table quantisation (measured < 1.7%).
            assert 0 <= m - e <= PER_STREAM_OVERHEAD_MAX_BITS + 0.01 * e, (e, m)


def test_measured_size_matches_estimate_on_large_streams(trained):
    codec, _ = trained
    # Same distribution on 64x64 maps: ~14 kbit per stream pair, so the fixed overhead is < 1%.
    rows = _est_and_measured(codec, synthetic_features(4, 64, seed=321))
    est = sum(sum(e) for e, _ in rows)
    meas = sum(sum(m) for _, m in rows)
    overhead = 2 * 64 * len(rows)
    # Measured here: meas/est = 1.026 with the overhead, 1.017 without. The remainder comes from
    # the coder's 16-bit CDFs and the 64-level scale table (scales rounded up by <= 13%, at most
    # ~0.02 bit per element). The 3% criterion, checked at this scale.
    assert est <= meas <= 1.03 * est + overhead, (est, meas)
    assert abs(meas - overhead - est) <= 0.03 * est, (est, meas)


def test_state_dict_round_trip_gives_identical_bytes(trained):
    codec, _ = trained
    clone = ModelSplittingCodec(C, CR, stride=2, quant_step=0.5, hyper_channels=N)
    clone.load_state_dict(codec.state_dict())
    clone.eval()
    y = synthetic_features(2, 8, seed=5)
    assert codec.compress(y)["strings"] == clone.compress(y)["strings"]


def test_compress_before_update_is_a_clear_error():
    codec = ModelSplittingCodec(C, CR, quant_step=0.5).eval()
    with pytest.raises(ValueError, match="update"):
        codec.compress(torch.zeros(1, C, 8, 8))


def test_rate_and_distortion_values():
    # Eq. 22 vs Eq. 23: layer a has 2 elements with error 1 (MSE 1), layer b 6 elements with
    # error 0 (MSE 0): mean of MSEs = 1/2, element-weighted = 2/8 = 1/4.
    t = {"a": torch.zeros(2), "b": torch.zeros(6)}
    e = {"a": torch.ones(2), "b": torch.zeros(6)}
    lik = {"z": torch.full((4,), 0.25)}  # 4 elements x 2 bits = 8 bits
    assert float(rate_bits(lik)) == 8.0
    eq22 = RateDistortionLoss(1.0, "multilayer_mse", layers=("a", "b"))(lik, 4, targets=t, estimates=e)
    eq23 = RateDistortionLoss(1.0, "element_weighted_mse", layers=("a", "b"))(lik, 4, targets=t, estimates=e)
    assert float(eq22["distortion"]) == pytest.approx(0.5) and float(eq23["distortion"]) == pytest.approx(0.25)
    assert float(eq22["rate_bpp"]) == 2.0 and float(eq22["loss"]) == pytest.approx(2.5)
    sup = RateDistortionLoss(3.0, "supervised")(lik, 4, logits=torch.zeros(5, 10), labels=torch.arange(5))
    assert float(sup["distortion"]) == pytest.approx(math.log(10))  # uniform logits: CE = ln 10 nats
    assert float(sup["loss"]) == pytest.approx(2.0 + 3.0 * math.log(10))


def test_supervised_training_steps_reduce_loss():
    torch.manual_seed(0)
    codec = ModelSplittingCodec(C, CR, stride=2, quant_step=0.5, hyper_channels=N)
    head = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(C, 2))
    loss_fn = RateDistortionLoss(1.0, "supervised")
    opt = torch.optim.Adam(list(codec.parameters()) + list(head.parameters()), lr=1e-2)
    y = synthetic_features(32, 8, seed=7)
    labels = (y.mean(dim=(1, 2, 3)) > 0).long()  # a task the back end can learn from Y
    vals = []
    for _ in range(30):
        out = codec(y)
        L = loss_fn(out["likelihoods"], 32 * 64, logits=head(out["output"]), labels=labels)
        opt.zero_grad()
        L["loss"].backward()
        opt.step()
        vals.append(L["loss"].item())
    assert sum(vals[-5:]) / 5 < 0.8 * sum(vals[:5]) / 5, vals


@pytest.mark.parametrize("kwargs, match", [
    (dict(in_channels=0), "in_channels must be a positive int"),
    (dict(latent_channels=2.5), "latent_channels must be a positive int"),
    (dict(stride=0), "stride must be a positive int"),
    (dict(quant_step=0.0), "quant_step must be a finite number > 0"),
    (dict(quant_step=float("nan")), "quant_step"),
    (dict(hyper_channels=-1), "hyper_channels"),
])
def test_bad_codec_config(kwargs, match):
    args = dict(in_channels=C, latent_channels=CR)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        ModelSplittingCodec(args.pop("in_channels"), args.pop("latent_channels"), **args)


@pytest.mark.parametrize("y, match", [
    (torch.zeros(1, C + 1, 8, 8), r"shape \(B, 16, H, W\)"),
    (torch.zeros(C, 8, 8), r"shape \(B, 16, H, W\)"),
    (torch.zeros(1, C, 6, 8), "divisible by 4"),
    (torch.zeros(1, C, 8, 8, dtype=torch.long), "floating-point"),
    (torch.full((1, C, 8, 8), float("nan")), "NaN"),
])
def test_bad_codec_input(y, match):
    codec = ModelSplittingCodec(C, CR, stride=2)
    with pytest.raises(ValueError, match=match):
        codec(y)


@pytest.mark.parametrize("args, match", [
    ((0.0, "mse", ("a",)), "lmbda must be a finite number > 0"),
    ((-1.0, "mse", ("a",)), "lmbda must be a finite number > 0"),
    ((float("inf"), "mse", ("a",)), "lmbda"),
    ((1.0, "l1", ("a",)), "distortion must be one of"),
    ((1.0, "mse", ("a", "b")), "exactly one layer"),
    ((1.0, "mse", "a"), "sequence of layer names"),
    ((1.0, "multilayer_mse", ()), "at least one layer"),
    ((1.0, "supervised", ("a",)), "layers=()"),
    ((1.0, "element_weighted_mse", ("a", "a")), "duplicates"),
])
def test_bad_loss_config(args, match):
    with pytest.raises(ValueError, match=match):
        RateDistortionLoss(*args)


def test_bad_loss_inputs():
    lik = {"z": torch.full((4,), 0.5)}
    loss = RateDistortionLoss(1.0, "multilayer_mse", layers=("layer2", "layer3"))
    t = {"layer2": torch.zeros(2, 3), "layer3": torch.zeros(4)}
    with pytest.raises(ValueError, match="unknown layer 'layer3'.*available: \\['layer2'\\]"):
        loss(lik, 4, targets={"layer2": t["layer2"]}, estimates=t)
    with pytest.raises(ValueError, match="targets shape"):
        loss(lik, 4, targets=t, estimates={"layer2": torch.zeros(3, 2), "layer3": torch.zeros(4)})
    with pytest.raises(ValueError, match="num_pixels must be a positive int"):
        loss(lik, 0, targets=t, estimates=t)
    with pytest.raises(ValueError, match="needs targets= and estimates="):
        loss(lik, 4)
    with pytest.raises(ValueError, match="likelihoods must be a non-empty mapping"):
        loss({}, 4, targets=t, estimates=t)
    sup = RateDistortionLoss(1.0, "supervised")
    with pytest.raises(ValueError, match="logits of shape"):
        sup(lik, 4, logits=torch.zeros(5), labels=torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="labels must be an integer tensor"):
        sup(lik, 4, logits=torch.zeros(5, 3), labels=torch.zeros(5))
