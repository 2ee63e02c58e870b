"""The autoregressive context model (Fig. 14) and the low-rate bit accounting (rdtheory.codecs.context,
rdtheory.codecs.bitstream): causality, bit-exact serial decoding in both stream layouts, the derived
rANS flush interval, table information against hand-computed values, and the size-vs-estimate verdict."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")
warnings.filterwarnings("ignore", message=".*torch.jit.script.*")

from compressai.ans import BufferedRansEncoder  # noqa: E402

from rdtheory.codecs.bitstream import (FLUSH_BITS, bit_breakdown, cdf_floor_bits, compress_batch,  # noqa: E402
                                       decompress_batch, estimate_interval, overhead_bounds, size_matches_estimate,
                                       table_bits)
from rdtheory.codecs.context import ContextDirectCodec  # noqa: E402
from rdtheory.codecs.direct import DirectCodec  # noqa: E402
from rdtheory.codecs.losses import rate_bits  # noqa: E402

torch.set_num_threads(1)


def _images(n, seed, size=16):
    """Smooth random images (16×16: a 4×4 latent keeps the serial coder's loop short)."""
    g = torch.Generator().manual_seed(seed)
    base = torch.nn.functional.interpolate(torch.randn(n, 3, size // 4, size // 4, generator=g), size=size,
                                           mode="bilinear", align_corners=False)
    return base + 0.1 * torch.randn(n, 3, size, size, generator=g)


@pytest.fixture(scope="module")
def trained():
    """A context codec and a hyperprior-only codec after 40 Adam steps of R + 20·MSE on smooth images."""
    out = {}
    for ctx in (True, False):
        torch.manual_seed(0)
        codec = DirectCodec(3, 3, latent_channels=8, channels=16, quant_step=0.5, context_model=ctx)
        opt = torch.optim.Adam(codec.parameters(), lr=3e-3)
        for step in range(40):
            x = _images(16, step)
            o = codec(x)
            loss = rate_bits(o["likelihoods"]) / (16 * 256) + 20 * (o["output"] - x).pow(2).mean()
            opt.zero_grad()
            (loss + codec.aux_loss()).backward()
            opt.step()
        codec.eval()
        codec.update(force=True)
        out[ctx] = codec
    return out


def test_option_builds_the_context_codec():
    assert type(DirectCodec(3, 8, out_downsample=2, latent_channels=4, channels=8)) is DirectCodec
    c = DirectCodec(3, 8, out_downsample=2, latent_channels=4, channels=8, context_model=True)
    assert isinstance(c, ContextDirectCodec) and isinstance(c, DirectCodec)
    assert c(torch.zeros(1, 3, 32, 32))["output"].shape == (1, 8, 16, 16)
    with pytest.raises(ValueError, match="always has the context model"):
        ContextDirectCodec(3, 8, context_model=False)


def test_context_is_causal():
    """φ at (i, j) must not depend on Ẑ at (i, j) or later in raster order (mask "A")."""
    torch.manual_seed(1)
    c = ContextDirectCodec(3, 3, latent_channels=4, channels=8)
    z = torch.randn(1, 4, 8, 8)
    z2 = z.clone()
    z2[0, :, 3, 5] += 10.0                      # change one position
    d = (c.context_prediction(z2) - c.context_prediction(z)).abs().sum(1)[0]
    order = torch.arange(64).view(8, 8)
    d = d.detach()
    assert float(d[order <= 3 * 8 + 5].max()) == 0.0   # itself and everything before: untouched (exact)
    assert float(d[order > 3 * 8 + 5].max()) > 0.0     # later positions see it


@pytest.mark.parametrize("one_stream", [False, True])
def test_serial_decoding_is_bit_exact(trained, one_stream):
    codec = trained[True]
    x = _images(3, 100)
    if one_stream:
        comp = compress_batch(codec, x)
        assert len(comp["strings"][0]) == 1 and len(comp["strings"][1]) == 1
        dec = decompress_batch(codec, comp)
    else:
        comp = codec.compress(x)
        assert len(comp["strings"][0]) == 3
        dec = codec.decompress(comp["strings"], comp["shape"])
    assert torch.equal(dec["z_hat"], comp["z_hat"])                 # every value, bit for bit
    assert torch.equal(dec["output"], codec.synthesis(comp["z_hat"]))
    # the decoded latent is the encoder's quantisation of Z̃: Ẑ − μ is an integer, |Z̃ − Ẑ| ≤ 1/2, with μ from
    # the parallel context on Ẑ (float differences to the serial μ are ~1e-6, far from a rounding boundary)
    with torch.no_grad():
        z = codec.g_a(x) / codec.quant_step
        zh = codec.entropy_bottleneck.decompress(codec.entropy_bottleneck.compress(codec.h_a(z)), comp["shape"])
        _, mu = codec.gaussian_params(codec.h_s(zh), codec.context_prediction(dec["z_hat"]))
    k = dec["z_hat"] - mu
    assert float((k - k.round()).abs().max()) < 1e-4
    assert float((z - dec["z_hat"]).abs().max()) <= 0.5 + 1e-4


def test_both_layouts_code_the_same_latent(trained):
    codec = trained[True]
    x = _images(2, 7)
    assert torch.equal(codec.compress(x)["z_hat"], compress_batch(codec, x)["z_hat"])


@pytest.mark.parametrize("ctx", [True, False])
@pytest.mark.parametrize("mode", ["per_image", "one_stream"])
def test_breakdown_overhead_in_derived_interval(trained, ctx, mode):
    """B − I_q ∈ (32, 64] bits per stream (derived in rdtheory.codecs.bitstream) ± 4.5e-5 bits per symbol."""
    r = bit_breakdown(trained[ctx], _images(4, 11), mode=mode)
    assert r["decode_exact"]
    assert r["n_streams"] == (8 if mode == "per_image" else 2)
    lo, hi = r["overhead_bounds"]
    assert lo <= r["overhead_bits"] <= hi
    assert r["total_bits"] == r["latent_bits"] + r["side_bits"]
    assert size_matches_estimate(r)
    if mode == "per_image":
        assert sum(r["per_image_total_bits"]) == r["total_bits"]


def test_context_codes_no_more_than_the_estimate_says(trained):
    """The serial coder's table information equals the model's estimate up to the table precision: 3 %
    plus the CDF floor (tolerances of estimate_interval)."""
    r = bit_breakdown(trained[True], _images(4, 12), mode="one_stream")
    assert abs(r["table_excess_bits"]) <= 0.03 * r["estimate_bits"] + r["cdf_floor_bits"]


def _encode(symbols, indexes, cdfs, lengths, offsets):
    enc = BufferedRansEncoder()
    enc.encode_with_indexes(list(symbols), list(indexes), cdfs, lengths, offsets)
    return enc.flush()


def test_table_bits_hand_computed_and_flush_interval():
    """One table of length 3: value 0 with frequency 2^15 (1 bit), the escape with 2^15 (1 bit) + bypass."""
    cdfs, lengths, offsets = [[0, 2 ** 15, 2 ** 16]], [3], [0]
    assert table_bits([0] * 10, [0] * 10, cdfs, lengths, offsets) == 10.0
    # value 5 ≥ max_value 1: escape (1 bit), raw 2·(5 − 1) = 8 → one nibble: count nibble + raw nibble (8 bits)
    assert table_bits([5], [0], cdfs, lengths, offsets) == 9.0
    # value −1 < 0: raw −2·(−1) − 1 = 1 → one nibble
    assert table_bits([-1], [0], cdfs, lengths, offsets) == 9.0
    with pytest.raises(ValueError, match="same size"):
        table_bits([0, 0], [0], cdfs, lengths, offsets)
    # the derived per-stream overhead, on real rANS streams of known information content
    rng = np.random.default_rng(0)
    for n in (1, 5, 31, 32, 33, 100, 1000, 5000):  # n = 0: compressai 1.2.8 segfaults on an empty list
        sym = rng.choice([0, 0, 0, 5, -3], size=n).tolist()
        iq = table_bits(sym, [0] * n, cdfs, lengths, offsets)
        b = 8 * len(_encode(sym, [0] * n, cdfs, lengths, offsets))
        lo, hi = overhead_bounds(1, n)
        assert lo <= b - iq <= hi, (n, b, iq)
        assert FLUSH_BITS[0] - 1 <= b - iq <= FLUSH_BITS[1] + 1


def test_cdf_floor_closed_form():
    # L = 3: two other entries of frequency ≥ 1 → −log2(1 − 2/65536) bits per certain symbol
    assert cdf_floor_bits([0] * 1000, [3]) == pytest.approx(-1000 * math.log2(1 - 2 / 65536), rel=1e-12)


def test_size_verdict_mutation(trained):
    """Shifting the real size just past either end of estimate_interval flips the verdict."""
    r = bit_breakdown(trained[False], _images(2, 13), mode="per_image")
    lo, hi = estimate_interval(r)
    # 1 bit past an end (float round-off of est + excess − est is far below 0.01 bit)
    for excess, ok in ((hi - 0.01, True), (hi + 1.0, False), (lo + 0.01, True), (lo - 1.0, False)):
        assert size_matches_estimate({**r, "total_bits": r["estimate_bits"] + excess}) is ok
    with pytest.raises(ValueError, match="rel_tol"):
        estimate_interval(r, rel_tol=1.5)


def test_breakdown_errors(trained):
    with pytest.raises(ValueError, match="mode"):
        bit_breakdown(trained[True], _images(1, 0), mode="batch")
    with pytest.raises(ValueError, match="HyperpriorCodec"):
        bit_breakdown(torch.nn.Identity(), _images(1, 0))


def test_scale_indexes_equal_compressai(trained):
    """The serial coder's searchsorted index = GaussianConditional.build_indexes, ties and bounds included."""
    codec = trained[True]
    t = codec.gaussian_conditional.scale_table
    s = torch.cat([torch.rand(2000) * 300, t, t * (1 + 1e-7), torch.tensor([0.0, 0.05, 0.11, 1e6])])
    assert torch.equal(codec.scale_indexes(s).long(), codec.gaussian_conditional.build_indexes(s).long())


def test_config_context_model_reaches_the_codec():
    """CodecConfig(context_model=True) trains the Fig. 14 codec; other approaches refuse it by name."""
    from rdtheory.codecs.config import CodecConfig
    from rdtheory.codecs.tasks import SplitTaskModel
    from rdtheory.codecs.train import _make_codec

    task = SplitTaskModel([("layer1", torch.nn.Conv2d(3, 4, 3, stride=2, padding=1))])
    cfg = CodecConfig(approach="direct", cut="layer1", context_model=True, latent_channels=8, channels=8,
                      latent_downsample=2).validate()
    assert isinstance(_make_codec(cfg, task, torch.zeros(1, 3, 16, 16)), ContextDirectCodec)
    assert "context_model" in cfg.as_dict() and "context_model" not in CodecConfig().as_dict()
    with pytest.raises(ValueError, match="context_model"):
        CodecConfig(approach="model_splitting", context_model=True).validate()
