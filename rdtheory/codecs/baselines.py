"""Traditional-codec baseline for coding for machines: JPEG / WebP, then the task model.

The issue-8 experiments compare learned codecs for machines (rate in bits per pixel from real
bitstreams vs top-1 accuracy of the task model) with what a standard image codec gives: encode
each image with JPEG or WebP at a quality setting, decode it, run the task model on the decoded
pixels. This module does that with Pillow in memory (numpy + PIL; torch only inside
:func:`traditional_codec_curve` / :func:`top1_accuracy`, never CompressAI).

Rates are **real file sizes**: ``8 × len(bytes)`` of the complete file Pillow writes, so every
container and header byte is included — for a 32×32 image this is a large share:

- JPEG (baseline, one scan, JFIF, chroma 4:2:0 = Pillow's default): SOI, the 18-byte APP0/JFIF
  segment, two quantisation tables (DQT), SOF0, the Huffman tables (DHT), the SOS header and
  EOI. With ``jpeg_optimize=True`` (the default here: image-specific Huffman tables, still
  baseline JPEG, decoded pixels unchanged) the header is ≈ 250–330 bytes; with Pillow's
  standard tables (``jpeg_optimize=False``) it is ≈ 620 bytes (≈ 4.8 bpp on 32×32 alone).
- WebP (lossy, simple format): 12-byte RIFF/WEBP header + 8-byte ``VP8 `` chunk header + the
  10-byte VP8 key-frame header (frame tag, start code, size) = 30 bytes (+1 RIFF pad byte when
  the chunk is odd); the rest, including VP8's compressed first partition (modes,
  probabilities, quantiser), is counted as payload.

:func:`header_bytes` parses a file into these parts and :func:`header_overhead` measures them
for a given image size; :func:`encode_decode` returns total bits, and
:func:`traditional_codec_curve` reports both the total and the payload-only rate.

Note on the data: the shipped CIFAR-10 is itself a JPEG q75 re-export (4:2:0). What is
measured here is **re-encoding** those decoded pixels; accuracy is relative to labels, and the
reference point is the task model on the shipped pixels (ResNet-20: 81.0 %).

Units: ``bits`` per image; ``bpp`` = bits per pixel of the image (bits / (H·W), e.g. / 1024
for 32×32 CIFAR — per pixel, not per colour sample); accuracy as a fraction in [0, 1].

References
----------
.. [1] ITU-T Rec. T.81 | ISO/IEC 10918-1, "Information technology - Digital compression and
   coding of continuous-tone still images - Requirements and guidelines", 1992 (baseline JPEG
   and its SOI, DQT, SOF0, DHT, SOS and EOI markers).
.. [2] ITU-T Rec. T.871 | ISO/IEC 10918-5, "Information technology - Digital compression and
   coding of continuous-tone still images: JPEG File Interchange Format (JFIF)", 2011 (the
   APP0/JFIF segment).
.. [3] J. Bankoski, J. Koleszar, L. Quillio, J. Salonen, P. Wilkins and Y. Xu, "VP8 Data Format
   and Decoding Guide", RFC 6386, IETF, 2011 (the key-frame header: frame tag, start code, size).
.. [4] J. Zern, P. Massimino and J. Alakuijala, "WebP Image Format", RFC 9649, IETF, 2024 (the
   RIFF/WEBP container and its ``VP8 `` / ``VP8L`` / ``VP8X`` chunks).
"""
from __future__ import annotations

import io
import numbers
from typing import Sequence

import numpy as np

__all__ = ["CODECS", "check_codec", "check_images", "encode", "decode", "encode_decode", "header_bytes",
           "header_overhead", "top1_accuracy", "traditional_codec_curve"]

#: Supported codecs → (Pillow format name, lowest quality, highest quality).
CODECS = {"jpeg": ("JPEG", 1, 100), "webp": ("WEBP", 0, 100)}


# ----------------------------------------------------------------------------- validation
def check_codec(codec: str, quality) -> tuple[str, int]:
    """Validate ``codec`` (``"jpeg"`` | ``"webp"``) and its integer ``quality``; return them.

    JPEG takes 1..100 (libjpeg's quality scale), WebP 0..100 (libwebp's). Booleans, floats and
    strings are refused rather than rounded.
    """
    if codec not in CODECS:
        raise ValueError(f"codec must be one of {sorted(CODECS)}; got {codec!r}")
    _, lo, hi = CODECS[codec]
    if isinstance(quality, bool) or not isinstance(quality, numbers.Integral):
        raise ValueError(f"quality must be an int in {lo}..{hi} for codec {codec!r}; got {quality!r} "
                         f"({type(quality).__name__}); pass e.g. quality=50")
    if not lo <= int(quality) <= hi:
        raise ValueError(f"quality must be in {lo}..{hi} for codec {codec!r}; got {quality}")
    return codec, int(quality)


def check_images(images) -> np.ndarray:
    """Validate a batch of RGB images: a uint8 numpy array of shape ``(N, H, W, 3)``, N ≥ 1."""
    if not isinstance(images, np.ndarray):
        raise ValueError(f"images must be a numpy uint8 array of shape (N, H, W, 3); got {type(images).__name__}")
    if images.dtype != np.uint8:
        raise ValueError(f"images must have dtype uint8 (0..255 pixels); got {images.dtype}. Convert with "
                         f"np.clip(np.rint(x), 0, 255).astype(np.uint8) (x in 0..255)")
    if images.ndim != 4 or images.shape[-1] != 3 or min(images.shape[:3]) < 1:
        hint = " (a single image: pass images[None])" if images.ndim == 3 else ""
        raise ValueError(f"images must have shape (N, H, W, 3) with N, H, W >= 1 (CIFAR: (N, 32, 32, 3)); "
                         f"got {images.shape}{hint}")
    return images


# ----------------------------------------------------------------------------- one image
def encode(image: np.ndarray, codec: str, quality: int, *, jpeg_optimize: bool = True) -> bytes:
    """Encode one ``(H, W, 3)`` uint8 image to the complete file bytes (in memory).

    JPEG: baseline, JFIF, Pillow's default chroma subsampling 4:2:0, ``optimize`` Huffman
    tables if ``jpeg_optimize``. WebP: lossy, Pillow's defaults (``method=4``), no metadata.
    """
    from PIL import Image

    codec, quality = check_codec(codec, quality)
    fmt = CODECS[codec][0]
    kwargs = {"quality": quality}
    if codec == "jpeg":
        kwargs.update(optimize=bool(jpeg_optimize), subsampling="4:2:0")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image), mode=None).save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def decode(blob: bytes) -> np.ndarray:
    """Decode file bytes (JPEG or WebP) to an ``(H, W, 3)`` uint8 RGB array."""
    from PIL import Image

    with Image.open(io.BytesIO(blob)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def header_bytes(blob: bytes, codec: str) -> int:
    """Bytes of a file that are container/header rather than coded image data.

    Layouts: JPEG markers [1]_ and the JFIF APP0 segment [2]_; the VP8 key-frame header [3]_ inside
    the RIFF/WebP container [4]_.

    JPEG: everything up to the end of the (single) SOS header, plus the 2-byte EOI marker —
    i.e. all bytes except the entropy-coded scan. WebP (lossy ``VP8 ``): the file size minus
    the VP8 partitions, i.e. RIFF/WEBP (12) + chunk header (8) + VP8 key-frame header (10)
    (+1 RIFF pad byte if the chunk is odd); lossless ``VP8L``: 12 + 8 + 5.

    Raises ValueError for other layouts (progressive JPEG, extended WebP ``VP8X``).
    """
    if codec == "jpeg":
        if blob[:2] != b"\xff\xd8" or blob[-2:] != b"\xff\xd9":
            raise ValueError("not a complete JPEG file (needs SOI ... EOI)")
        pos = 2
        while pos + 4 <= len(blob):
            if blob[pos] != 0xFF:
                raise ValueError(f"JPEG marker expected at byte {pos}")
            marker, length = blob[pos + 1], int.from_bytes(blob[pos + 2:pos + 4], "big")
            pos += 2 + length
            if marker == 0xDA:  # SOS: the entropy-coded scan follows, up to EOI
                if blob.find(b"\xff\xda", pos) != -1:
                    raise ValueError("JPEG has several scans (progressive); header_bytes handles baseline only")
                return pos + 2
        raise ValueError("JPEG has no SOS segment")
    if codec == "webp":
        if blob[:4] != b"RIFF" or blob[8:12] != b"WEBP":
            raise ValueError("not a RIFF/WEBP file")
        fourcc, size = blob[12:16], int.from_bytes(blob[16:20], "little")
        if fourcc == b"VP8 ":
            return len(blob) - (size - 10)
        if fourcc == b"VP8L":
            return len(blob) - (size - 5)
        raise ValueError(f"WebP chunk {fourcc!r} not handled (only simple lossy 'VP8 ' / lossless 'VP8L')")
    raise ValueError(f"codec must be one of {sorted(CODECS)}; got {codec!r}")


def header_overhead(codec: str, quality: int, *, size: tuple[int, int] = (32, 32), seed: int = 0,
                    jpeg_optimize: bool = True) -> dict:
    """Measure the header share of files at ``size`` (H, W): a noise image and a flat grey one.

    Returns ``{"codec", "quality", "size", "header_bytes_noise", "file_bytes_noise",
    "header_bytes_flat", "file_bytes_flat"}``. The flat image's file size is the smallest
    file the codec makes at this size and quality — a floor on any per-image rate.
    """
    codec, quality = check_codec(codec, quality)
    h, w = size
    noise = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    flat = np.full((h, w, 3), 128, dtype=np.uint8)
    out = {"codec": codec, "quality": quality, "size": [h, w]}
    for name, img in (("noise", noise), ("flat", flat)):
        blob = encode(img, codec, quality, jpeg_optimize=jpeg_optimize)
        out[f"header_bytes_{name}"] = header_bytes(blob, codec)
        out[f"file_bytes_{name}"] = len(blob)
    return out


# ----------------------------------------------------------------------------- batches
def _encode_batch(images, codec, quality, jpeg_optimize):
    images = check_images(images)
    codec, quality = check_codec(codec, quality)
    decoded = np.empty_like(images)
    bits = np.empty(images.shape[0], dtype=np.int64)
    head = np.empty(images.shape[0], dtype=np.int64)
    for i, img in enumerate(images):
        blob = encode(img, codec, quality, jpeg_optimize=jpeg_optimize)
        decoded[i] = decode(blob)
        bits[i] = 8 * len(blob)
        head[i] = 8 * header_bytes(blob, codec)
    return decoded, bits, head


def encode_decode(images: np.ndarray, codec: str, quality: int, *,
                  jpeg_optimize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Encode and decode every image with ``codec`` at ``quality``; return pixels and file sizes.

    Args:
        images: uint8 ``(N, H, W, 3)`` RGB (CIFAR: ``(N, 32, 32, 3)``).
        codec: ``"jpeg"`` (quality int 1..100) or ``"webp"`` (quality int 0..100).
        quality: the codec's quality setting (higher = more bits, less distortion).
        jpeg_optimize: image-specific Huffman tables (lossless; smaller files) — see module doc.

    Returns:
        ``(decoded, bits)``: decoded uint8 ``(N, H, W, 3)``, and int64 ``(N,)`` bits per image
        = 8 × the complete file size (headers and container included; divide by H·W for bpp).

    Raises:
        ValueError: unknown codec, quality not an int in range, images not uint8 ``(N, H, W, 3)``.
    """
    decoded, bits, _ = _encode_batch(images, codec, quality, jpeg_optimize)
    return decoded, bits


def top1_accuracy(model, images: np.ndarray, labels, *, batch_size: int = 500, device="cpu",
                  mean_std="imagenet") -> float:
    """Top-1 accuracy (fraction) of a torch classifier on uint8 ``(N, H, W, 3)`` images.

    Images are scaled to [0, 1] and normalised with ``mean_std`` (a key of
    :data:`rdtheory.vision.data.MEAN_STD` — ``"imagenet"`` for the shipped pretrained CIFAR
    ResNets — or a ``(mean, std)`` pair), in batches, under ``torch.inference_mode``. The
    model is used as given (put it in eval mode and on ``device`` first).
    """
    import torch

    from rdtheory.vision.data import iterate_batches, to_tensor

    images = check_images(images)
    labels = np.asarray(labels)
    if labels.shape != (images.shape[0],):
        raise ValueError(f"labels must have shape (N,) = ({images.shape[0]},) to match images; got {labels.shape}")
    correct = 0
    with torch.inference_mode():
        for idx in iterate_batches(images.shape[0], batch_size):
            logits = model(to_tensor(images[idx], mean_std, device=device))
            correct += int((logits.argmax(1).cpu().numpy() == labels[idx]).sum())
    return correct / images.shape[0]


def traditional_codec_curve(model, images: np.ndarray, labels, codec: str, qualities: Sequence[int], *,
                            batch_size: int = 500, device="cpu", mean_std="imagenet",
                            jpeg_optimize: bool = True, log=None) -> list[dict]:
    """Rate–accuracy points of ``codec`` at each quality: encode, decode, classify.

    Returns one dict per quality (in the given order):

    - ``codec``, ``quality``, ``n`` (images);
    - ``bpp`` — mean file bits per image / (H·W), headers included;
    - ``bpp_payload`` — the same without header/container bytes (:func:`header_bytes`);
    - ``header_bytes_mean`` — mean header/container bytes per file;
    - ``accuracy`` — top-1 fraction of ``model`` on the decoded images against ``labels``;
    - ``psnr_db`` — 10·log10(255² / MSE) with the MSE pooled over all pixels and channels of
      all images, decoded vs the given ``images`` (not vs any original before them).

    ``log``: optional callable taking a progress line per quality.
    """
    images = check_images(images)
    for q in qualities:
        check_codec(codec, q)
    labels = np.asarray(labels)
    if labels.shape != (images.shape[0],):
        raise ValueError(f"labels must have shape (N,) = ({images.shape[0]},) to match images; got {labels.shape}")
    n, h, w, _ = images.shape
    rows = []
    for q in qualities:
        decoded, bits, head = _encode_batch(images, codec, q, jpeg_optimize)
        acc = top1_accuracy(model, decoded, labels, batch_size=batch_size, device=device, mean_std=mean_std)
        mse = float(np.mean((decoded.astype(np.float64) - images.astype(np.float64)) ** 2))
        row = {"codec": codec, "quality": int(q), "n": int(n), "bpp": float(bits.mean() / (h * w)),
               "bpp_payload": float((bits - head).mean() / (h * w)), "header_bytes_mean": float(head.mean() / 8),
               "accuracy": acc, "psnr_db": float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))}
        rows.append(row)
        if log is not None:
            log(f"{codec} q{q}: {row['bpp']:.3f} bpp ({row['bpp_payload']:.3f} payload), "
                f"top-1 {100 * acc:.2f} %, PSNR {row['psnr_db']:.2f} dB")
    return rows
