"""JPEG / WebP baseline: round trip, rate and distortion move the right way with quality, headers, errors."""
import numpy as np
import pytest

# baselines.py needs only numpy + Pillow, but importing it runs rdtheory/codecs/__init__.py,
# which loads torch and CompressAI.
pytest.importorskip("torch")
pytest.importorskip("compressai")
pytestmark = pytest.mark.torch

from rdtheory.codecs.baselines import (CODECS, check_codec, decode, encode, encode_decode, header_bytes,
                                       header_overhead, top1_accuracy, traditional_codec_curve)


def _natural_ish(n=4, size=32, seed=0):
    """Smooth colour gradients + a few edges + mild noise: compresses like a photo, not like noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(n):
        base = np.stack([80 + 120 * yy, 60 + 150 * xx, 140 - 60 * (xx + yy) / 2], -1)
        cx, cy, r = rng.uniform(0.2, 0.8, 3)
        disc = ((xx - cx) ** 2 + (yy - cy) ** 2) < (0.3 * r) ** 2
        base[disc] = rng.uniform(0, 255, 3)
        base += 20 * np.sin(2 * np.pi * rng.uniform(1, 4) * xx)[..., None]
        out.append(np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8))
    return np.stack(out)


IMAGES = _natural_ish()


@pytest.mark.parametrize("codec, quality", [("jpeg", 1), ("jpeg", 75), ("jpeg", 100), ("webp", 0), ("webp", 100)])
def test_round_trip_shape_dtype_and_bits_are_file_sizes(codec, quality):
    decoded, bits = encode_decode(IMAGES, codec, quality)
    assert decoded.shape == IMAGES.shape and decoded.dtype == np.uint8
    assert bits.shape == (IMAGES.shape[0],) and bits.dtype == np.int64
    for img, b, dec in zip(IMAGES, bits, decoded):
        blob = encode(img, codec, quality)
        assert b == 8 * len(blob)                         # real bytes, whole file
        np.testing.assert_array_equal(decode(blob), dec)  # deterministic
        assert 0 < header_bytes(blob, codec) < len(blob)


@pytest.mark.parametrize("codec, qualities", [("jpeg", [5, 20, 50, 90]), ("webp", [0, 20, 50, 90])])
def test_rate_falls_and_error_rises_as_quality_drops(codec, qualities):
    bits, mse = [], []
    for q in qualities:
        decoded, b = encode_decode(IMAGES, codec, q)
        bits.append(b.mean())
        mse.append(np.mean((decoded.astype(float) - IMAGES) ** 2))
    assert np.all(np.diff(bits) > 0), bits    # higher quality -> more bits
    assert np.all(np.diff(mse) < 0), mse      # higher quality -> smaller pixel error


def test_jpeg_optimize_is_lossless_and_smaller():
    # Optimised Huffman tables change only the entropy coding: same pixels, fewer bytes.
    dec_opt, bits_opt = encode_decode(IMAGES, "jpeg", 50, jpeg_optimize=True)
    dec_std, bits_std = encode_decode(IMAGES, "jpeg", 50, jpeg_optimize=False)
    np.testing.assert_array_equal(dec_opt, dec_std)
    assert np.all(bits_opt < bits_std)


def test_header_overhead_values():
    # WebP lossy: RIFF/WEBP 12 + 'VP8 ' chunk header 8 + VP8 key-frame header 10 (+1 pad if odd).
    for q in (0, 50, 100):
        h = header_overhead("webp", q)
        assert h["header_bytes_flat"] in (30, 31) and h["header_bytes_noise"] in (30, 31)
    # JPEG with Pillow's standard Huffman tables: a fixed header (tables do not depend on the image).
    std = header_overhead("jpeg", 50, jpeg_optimize=False)
    assert std["header_bytes_flat"] == std["header_bytes_noise"]
    assert 550 < std["header_bytes_flat"] < 700
    opt = header_overhead("jpeg", 50)
    assert opt["header_bytes_flat"] < std["header_bytes_flat"]
    assert opt["file_bytes_flat"] - opt["header_bytes_flat"] < 20  # a flat image's scan is tiny


def test_header_bytes_rejects_other_layouts():
    blob = encode(IMAGES[0], "jpeg", 50)
    with pytest.raises(ValueError, match="not a complete JPEG"):
        header_bytes(blob[:-2], "jpeg")
    with pytest.raises(ValueError, match="not a RIFF/WEBP"):
        header_bytes(blob, "webp")
    with pytest.raises(ValueError, match="codec must be one of"):
        header_bytes(blob, "png")


class _Brightness:
    """A 'classifier' with known answers: class 1 iff the normalised image mean is > 0."""

    def __call__(self, x):
        import torch

        m = x.mean(dim=(1, 2, 3))
        return torch.stack([-m, m], 1)


def test_curve_rows_and_accuracy_on_a_known_task():
    dark = np.full((3, 32, 32, 3), 30, np.uint8)
    bright = np.full((3, 32, 32, 3), 220, np.uint8)
    images, labels = np.concatenate([dark, bright]), np.array([0] * 3 + [1] * 3)
    rows = traditional_codec_curve(_Brightness(), images, labels, "webp", [10, 80], batch_size=4)
    assert [r["quality"] for r in rows] == [10, 80]
    for r in rows:
        assert set(r) == {"codec", "quality", "n", "bpp", "bpp_payload", "header_bytes_mean", "accuracy", "psnr_db"}
        assert r["codec"] == "webp" and r["n"] == 6
        assert r["accuracy"] == 1.0  # brightness survives coding of flat images
        assert 30 <= r["header_bytes_mean"] <= 31
        assert r["bpp_payload"] == pytest.approx(r["bpp"] - 8 * r["header_bytes_mean"] / 1024)
    _, bits = encode_decode(images, "webp", 10)
    assert rows[0]["bpp"] == pytest.approx(bits.mean() / 1024)  # bpp = bits per image / (32 * 32)
    assert top1_accuracy(_Brightness(), images, labels, batch_size=5) == 1.0
    assert top1_accuracy(_Brightness(), images, 1 - labels) == 0.0


@pytest.mark.parametrize("codec, quality, match", [
    ("png", 50, "codec must be one of"),
    ("JPEG", 50, "codec must be one of"),
    ("jpeg", 0, r"quality must be in 1\.\.100"),
    ("jpeg", 101, r"quality must be in 1\.\.100"),
    ("webp", -1, r"quality must be in 0\.\.100"),
    ("jpeg", 50.0, "quality must be an int"),
    ("webp", "50", "quality must be an int"),
    ("jpeg", True, "quality must be an int"),
])
def test_bad_codec_or_quality(codec, quality, match):
    with pytest.raises(ValueError, match=match):
        encode_decode(IMAGES, codec, quality)
    with pytest.raises(ValueError, match=match):
        check_codec(codec, quality)


def test_quality_accepts_numpy_integers_and_ranges_match_table():
    assert check_codec("jpeg", np.int64(30)) == ("jpeg", 30)
    assert CODECS["jpeg"][1:] == (1, 100) and CODECS["webp"][1:] == (0, 100)


@pytest.mark.parametrize("images, match", [
    (IMAGES[0], r"shape \(N, H, W, 3\).*images\[None\]"),
    (IMAGES[..., :2], r"shape \(N, H, W, 3\)"),
    (IMAGES[:0], r"N, H, W >= 1"),
    (IMAGES.astype(np.float32), "dtype uint8"),
    (IMAGES.tolist(), "numpy uint8 array"),
])
def test_bad_images(images, match):
    with pytest.raises(ValueError, match=match):
        encode_decode(images, "jpeg", 50)


def test_curve_rejects_bad_labels_and_qualities_before_work():
    with pytest.raises(ValueError, match=r"labels must have shape \(N,\) = \(4,\)"):
        traditional_codec_curve(_Brightness(), IMAGES, [0, 1], "jpeg", [50])
    with pytest.raises(ValueError, match=r"quality must be in 1\.\.100"):
        traditional_codec_curve(_Brightness(), IMAGES, [0, 1, 0, 1], "jpeg", [50, 0])
