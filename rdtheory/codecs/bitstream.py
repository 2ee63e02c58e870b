r"""Low-rate bit accounting: where the bits of a learned codec's bitstreams go, per image or per batch.

At 32×32 a code of a few hundred bits per image is common, and two costs that vanish for large
images become a large share: the **side information** (the hyper-latent stream) and the rANS
coder's **flush**. This module codes a batch in two layouts and accounts for every bit:

* ``"per_image"`` — one latent and one side stream per image (what
  :meth:`~rdtheory.codecs.hyperprior.HyperpriorCodec.compress` writes; an image decodes alone);
* ``"one_stream"`` — the latents of the whole batch in one rANS stream and the hyper-latents in
  another (:func:`compress_batch`; the symbols and their probabilities are the same, only the
  packaging differs), so the flush is paid once per batch.

**The flush, derived.** CompressAI's coder is rANS with a 64-bit state ``x`` kept in
``[L, 2^32 L)``, ``L = 2^31``, 32-bit output words and 16-bit frequencies (Duda [2]_; CompressAI's
``rans64``). Starting from ``x = L`` and coding symbols of table probability ``q_k`` moves
``log2 x`` by ``−log2 q_k`` each (up to ``log2(1 + 2^16/x) ≤ 4.5·10⁻⁵`` bits per symbol, since
``x ≥ 2^31``), spilling 32-bit words; the flush writes the final state as 64 bits. With ``W`` words
spilled, ``32 W + log2 x_end = 31 + I_q`` where :math:`I_q = \sum_k -\log_2 q_k` (+4 bits per
bypass nibble of escaped values) is the *table* information, so the stream has
``B = 32 W + 64 = I_q + 95 − log2 x_end`` bits with ``log2 x_end ∈ [31, 63)``:

.. math:: B - I_q \in (32,\ 64] \ \text{bits per stream} \quad (\pm\, 4.5\cdot10^{-5}\ \text{bits per symbol}).

So per image (two streams) the flush costs 64–128 bits (0.0625–0.125 bpp at 32×32), and in a
batch stream 64–128 bits per *batch*. :func:`table_bits` computes ``I_q`` from the coder's own
tables (CompressAI's ``encode_with_indexes``: 16-bit CDFs, values outside a table escaped as the
last symbol plus 4-bit bypass nibbles), and :func:`bit_breakdown` returns every term:
latent / side / total bits (the real byte counts), the model's estimate
:math:`\sum -\log_2 p` (Eq. 21 of [1]_), the table excess ``I_q −`` estimate (16-bit CDFs, the
64-level scale table) and the overhead ``B − I_q`` (the flush).

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Eq. 21).
.. [2] J. Duda, "Asymmetric numeral systems", arXiv:0902.0271, 2009 (rANS).
.. [3] J. Bégaint, F. Racapé, S. Feltman and A. Pushparaja, "CompressAI: a PyTorch library and
   evaluation platform for end-to-end compression research", arXiv:2011.03029, 2020 (the coder,
   ``rans64`` with 16-bit precision and 4-bit bypass).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .context import ContextDirectCodec
from .hyperprior import HyperpriorCodec

__all__ = ["MODES", "FLUSH_BITS", "RENORM_BITS_PER_SYMBOL", "compress_batch", "decompress_batch", "table_bits",
           "cdf_floor_bits",
           "bit_breakdown", "overhead_bounds", "estimate_interval", "size_matches_estimate"]

MODES = ("per_image", "one_stream")
#: Per-stream overhead ``B − I_q`` of the rANS coder, bits: the interval ``(32, 64]`` derived above.
FLUSH_BITS = (32, 64)
#: Bound on the renormalisation slack per coded symbol, ``log2(1 + 2^16 / 2^31)`` bits.
RENORM_BITS_PER_SYMBOL = math.log2(1 + 2.0 ** 16 / 2.0 ** 31)
_PRECISION, _BYPASS = 16, 4


def overhead_bounds(n_streams: int, n_symbols: int) -> tuple[float, float]:
    """Interval of ``B − I_q`` (bits) for ``n_streams`` rANS streams holding ``n_symbols`` symbols."""
    slack = n_symbols * RENORM_BITS_PER_SYMBOL
    return FLUSH_BITS[0] * n_streams - slack, FLUSH_BITS[1] * n_streams + slack


def _rows(t: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) → (1, C, B·h, w): the batch as one tall image (elementwise entropy models only)."""
    b, c, h, w = t.shape
    return t.permute(1, 0, 2, 3).reshape(1, c, b * h, w)


def _unrows(t: torch.Tensor, b: int) -> torch.Tensor:
    _, c, bh, w = t.shape
    return t.reshape(c, b, bh // b, w).permute(1, 0, 2, 3)


def _check_codec(codec) -> None:
    if not isinstance(codec, HyperpriorCodec):
        raise ValueError(f"codec must be a HyperpriorCodec (DirectCodec, ModelSplittingCodec, ...); got "
                         f"{type(codec).__name__}")
    codec._check_tables()


@torch.no_grad()
def compress_batch(codec: HyperpriorCodec, x: torch.Tensor, condition=None) -> dict:
    """The whole batch as **one latent and one side rANS stream**:
    ``{"strings": [[latent], [side]], "shape": (h, w), "n": B}`` (decode with :func:`decompress_batch`)."""
    _check_codec(codec)
    codec.check_input(x)
    z = codec.g_a(x) / codec.quant_step
    z_h = codec.h_a(codec.hyper_input(z))
    n, shape = x.shape[0], tuple(z_h.shape[-2:])
    side = codec.entropy_bottleneck.compress(_rows(z_h))
    z_h_hat = _unrows(codec.entropy_bottleneck.decompress(side, (n * shape[0], shape[1])), n)
    if isinstance(codec, ContextDirectCodec):
        latent, z_hat = codec._encode_latents(z, codec.h_s(z_h_hat), one_stream=True)
    else:
        indexes = codec.gaussian_conditional.build_indexes(codec.scales(z_h_hat, condition))
        latent = codec.gaussian_conditional.compress(_rows(z), _rows(indexes))
        z_hat = torch.round(z)
    return {"strings": [latent, side], "shape": shape, "n": n, "z_hat": z_hat}


@torch.no_grad()
def decompress_batch(codec: HyperpriorCodec, compressed: dict, condition=None) -> dict:
    """Decode :func:`compress_batch`'s output: ``{"output", "z_hat"}`` for the whole batch."""
    _check_codec(codec)
    (latent, side), (h, w), n = compressed["strings"], compressed["shape"], compressed["n"]
    z_h_hat = _unrows(codec.entropy_bottleneck.decompress(side, (n * h, w)), n)
    if isinstance(codec, ContextDirectCodec):
        return codec.decode_from_side(latent, z_h_hat)
    indexes = codec.gaussian_conditional.build_indexes(codec.scales(z_h_hat, condition))
    z_hat = _unrows(codec.gaussian_conditional.decompress(latent, _rows(indexes), z_h_hat.dtype), n)
    return {"output": codec.synthesis(z_hat, condition), "z_hat": z_hat}


def table_bits(symbols, indexes, cdfs, cdf_lengths, offsets) -> float:
    r""":math:`I_q` in bits: what CompressAI's ``encode_with_indexes`` codes for ``symbols`` under the
    tables (``cdfs[i]``: 16-bit CDF of table ``i``; a value outside ``[0, cdf_length − 2)`` is the
    escape symbol plus 4-bit bypass nibbles: their count, in unary base-15 digits, then the raw value)."""
    s, idx = np.asarray(symbols, np.int64).ravel(), np.asarray(indexes, np.int64).ravel()
    cdfs, lengths, offs = np.asarray(cdfs, np.int64), np.asarray(cdf_lengths, np.int64), np.asarray(offsets, np.int64)
    if s.shape != idx.shape:
        raise ValueError(f"symbols and indexes must have the same size; got {s.shape} and {idx.shape}")
    value = s - offs[idx]
    max_value = lengths[idx] - 2
    raw = np.where(value < 0, -2 * value - 1, np.where(value >= max_value, 2 * (value - max_value), 0))
    escaped = (value < 0) | (value >= max_value)
    value = np.where(escaped, max_value, value)
    freq = cdfs[idx, value + 1] - cdfs[idx, value]
    if (freq <= 0).any():
        raise ValueError("a coded symbol has zero frequency in its table; the tables do not match the symbols")
    bits = float(np.sum(_PRECISION - np.log2(freq)))
    for r in raw[escaped]:
        n_bypass = 0
        while (int(r) >> (n_bypass * _BYPASS)) != 0:
            n_bypass += 1
        bits += _BYPASS * (n_bypass // 15 + 1 + n_bypass)
    return bits


def cdf_floor_bits(indexes, cdf_lengths) -> float:
    r"""The 16-bit CDF floor: :math:`\sum_k -\log_2(1 - (L_k - 1)\,2^{-16})` bits, ``L_k`` the length of
    symbol ``k``'s table. Every one of a table's ``L`` entries (the escape included) gets a frequency
    ≥ 1 of 2^16, so even a certain symbol (model probability 1, estimate 0 bits) costs this much —
    what dominates :func:`table_bits` − estimate for codes of almost no information."""
    lengths = np.asarray(cdf_lengths, np.int64)[np.asarray(indexes, np.int64).ravel()]
    return float(-np.sum(np.log2(1.0 - (lengths - 1) / 2.0 ** _PRECISION)))


def _tables(model) -> tuple[list, list, list]:
    return model.quantized_cdf.tolist(), model.cdf_length.tolist(), model.offset.tolist()


@torch.no_grad()
def _symbols_and_estimates(codec, x, condition, z_hat, z_h) -> dict:
    """Coded symbols, their table indexes and the model's −log2 p, for the latent and the side stream."""
    eb, gc = codec.entropy_bottleneck, codec.gaussian_conditional
    medians = eb._get_medians().detach()
    side_sym = torch.round(z_h - medians.view(1, -1, 1, 1)).int()
    side_idx = eb._build_indexes(z_h.size())
    z_h_hat, side_p = eb(z_h, training=False)
    if isinstance(codec, ContextDirectCodec):
        scales, means = codec.gaussian_params(codec.h_s(z_h_hat), codec.context_prediction(z_hat))
        lat_p = codec.likelihoods_of(z_hat, z_h_hat)
        lat_sym = torch.round(z_hat - means).int()
    else:
        scales = codec.scales(z_h_hat, condition)
        lat_p = gc.likelihood_lower_bound(gc._likelihood(z_hat, scales))
        lat_sym = z_hat.int()
    lat_idx = gc.build_indexes(scales)
    return {"latent": (lat_sym, lat_idx, float(-torch.log2(lat_p).sum()), _tables(gc)),
            "side": (side_sym, side_idx, float(-torch.log2(side_p).sum()), _tables(eb))}


@torch.no_grad()
def bit_breakdown(codec: HyperpriorCodec, x: torch.Tensor, *, mode: str = "per_image", condition=None,
                  return_output: bool = False) -> dict:
    """Every bit of coding the batch ``x`` in ``mode`` (one of :data:`MODES`), decoded and checked.

    Returns (bits for the whole batch unless ``per_image_``): ``latent_bits``, ``side_bits``,
    ``total_bits`` (8 × bytes of the real streams); ``latent_estimate_bits``,
    ``side_estimate_bits``, ``estimate_bits`` (the model's Σ −log2 p of the coded symbols);
    ``table_bits`` (``I_q``, :func:`table_bits`); ``table_excess_bits`` = ``table_bits −
    estimate_bits`` and ``cdf_floor_bits`` (:func:`cdf_floor_bits`, its part for certain symbols); ``overhead_bits`` = ``total_bits − table_bits`` (the flush) and its derived
    interval ``overhead_bounds``; ``n_streams``, ``n_symbols``, ``n_images``, ``pixels`` (of
    the batch); ``per_image_total_bits`` (``per_image`` mode); ``decode_exact`` (the decoder's
    latent equals the encoder's, bit for bit); ``output`` (the decoded tensor) if ``return_output``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
    _check_codec(codec)
    codec.eval()
    n = x.shape[0]
    if mode == "per_image":
        comp = codec.compress(x, condition) if condition is not None else codec.compress(x)
        dec = codec.decompress(comp["strings"], comp["shape"], condition) if condition is not None else \
            codec.decompress(comp["strings"], comp["shape"])
        enc_z_hat = comp.get("z_hat")
    else:
        comp = compress_batch(codec, x, condition)
        dec = decompress_batch(codec, comp, condition)
        enc_z_hat = comp["z_hat"]
    z = codec.g_a(x) / codec.quant_step
    z_h = codec.h_a(codec.hyper_input(z))
    if enc_z_hat is None:
        enc_z_hat = torch.round(z)
    latent_strings, side_strings = comp["strings"]
    parts = _symbols_and_estimates(codec, x, condition, enc_z_hat, z_h)
    lat_bits, side_bits = 8 * sum(map(len, latent_strings)), 8 * sum(map(len, side_strings))
    iq = {k: table_bits(sym.cpu().numpy(), idx.cpu().numpy(), *tabs) for k, (sym, idx, _, tabs) in parts.items()}
    est = {k: v[2] for k, v in parts.items()}
    floor = sum(cdf_floor_bits(idx.cpu().numpy(), tabs[1]) for _, idx, _, tabs in parts.values())
    n_symbols = sum(v[0].numel() for v in parts.values())
    n_streams = len(latent_strings) + len(side_strings)
    total, tq, te = lat_bits + side_bits, iq["latent"] + iq["side"], est["latent"] + est["side"]
    res = {"mode": mode, "n_images": n, "pixels": n * x.shape[-2] * x.shape[-1], "n_streams": n_streams,
           "n_symbols": n_symbols, "latent_bits": lat_bits, "side_bits": side_bits, "total_bits": total,
           "latent_estimate_bits": est["latent"], "side_estimate_bits": est["side"], "estimate_bits": te,
           "latent_table_bits": iq["latent"], "side_table_bits": iq["side"], "table_bits": tq,
           "table_excess_bits": tq - te, "cdf_floor_bits": floor, "overhead_bits": total - tq,
           "overhead_bounds": overhead_bounds(n_streams, n_symbols),
           "decode_exact": bool(torch.equal(dec["z_hat"], enc_z_hat))}
    if return_output:
        res["output"] = dec["output"]
    if mode == "per_image":
        res["per_image_total_bits"] = [8 * (len(a) + len(b)) for a, b in zip(latent_strings, side_strings)]
    return res


def estimate_interval(breakdown: dict, rel_tol: float = 0.03) -> tuple[float, float]:
    r"""Allowed interval of ``total_bits − estimate_bits`` for a :func:`bit_breakdown` record:

    .. math:: [\,O_- - \epsilon E,\ O_+ + F + \epsilon E\,]

    with ``(O_−, O_+)`` the derived flush interval of its streams (:func:`overhead_bounds`: 64–128
    bits per image in ``per_image`` mode, 64–128 bits per batch in ``one_stream`` mode), ``F`` the
    16-bit CDF floor (:func:`cdf_floor_bits`), ``E`` the estimate and ``ε = rel_tol`` for the rest of
    the coder's table precision (its 64-level scale table and rounded frequencies; issue 8's 3 %)."""
    if not (isinstance(rel_tol, (int, float)) and 0 <= rel_tol < 1):
        raise ValueError(f"rel_tol must be a number in [0, 1); got {rel_tol!r}")
    lo, hi = breakdown["overhead_bounds"]
    e = rel_tol * breakdown["estimate_bits"]
    return lo - e, hi + breakdown["cdf_floor_bits"] + e


def size_matches_estimate(breakdown: dict, rel_tol: float = 0.03) -> bool:
    """True when the real size minus the model's estimate lies in :func:`estimate_interval`."""
    lo, hi = estimate_interval(breakdown, rel_tol)
    return lo <= breakdown["total_bits"] - breakdown["estimate_bits"] <= hi
