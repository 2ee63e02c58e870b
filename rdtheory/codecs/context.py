r"""Direct coding with the paper's autoregressive context model and entropy parameters (Fig. 14).

The joint autoregressive and hierarchical prior of Minnen et al. [2]_, which the direct-coding
codec of Harell et al. [1]_ (App. B-C, Fig. 14: "CTX" and "EP") uses, on the
:class:`~rdtheory.codecs.direct.DirectCodec` transforms. Each element of the latent
:math:`\tilde Z = g_a(X)/Q` is a Gaussian whose mean *and* scale come from the hyperprior and
from the already decoded neighbours (raster order, a 5×5 causal window):

.. math::
    \psi = h_s(\hat Z_h),\quad \phi_{ij} = \mathrm{CTX}(\hat Z_{<ij}),\quad
    (\sigma_{ij}, \mu_{ij}) = \mathrm{EP}(\psi_{ij}, \phi_{ij}),\quad
    \hat Z_{ij} = \mathrm{round}(\tilde Z_{ij} - \mu_{ij}) + \mu_{ij},

with ``CTX`` a masked 5×5 convolution (CompressAI's ``MaskedConv2d``, mask "A") and ``EP`` three
1×1 convolutions; :math:`\tilde Z_{ij} \mid \cdot \sim \mathcal N(\mu_{ij}, \sigma_{ij}^2)` convolved
with a unit bin (CompressAI's ``GaussianConditional`` with ``means``). The rate is still Eq. 21
of [1]_, :math:`-\log_2 p(\hat Z_h) - \log_2 p(\hat Z \mid \hat Z_h)`.

In training (and the eval-mode :meth:`ContextDirectCodec.forward`, CompressAI's convention) the
context sees ``round(Z̃)`` (or its noisy proxy) in one parallel masked convolution. The real
bitstream is produced **serially**: at each latent position the context is computed from the
already coded values, exactly the same tensor on both sides (a zero-initialised work tensor
filled as positions are coded), so the decoder reproduces every mean, scale index and value
bit for bit. That serial loop is the decoding cost the paper's codec pays (measured in
``benchmarks/context_decoding.py``); the hyperprior-only codec decodes a batch in one pass.

Build it as ``DirectCodec(..., context_model=True)`` (or this class directly).

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (App. B-C, Fig. 14; Eq. 21).
.. [2] D. Minnen, J. Ballé and G. Toderici, "Joint autoregressive and hierarchical priors for
   learned image compression", NeurIPS 2018 (context model, entropy parameters, mean-scale prior).
.. [3] J. Bégaint, F. Racapé, S. Feltman and A. Pushparaja, "CompressAI: a PyTorch library and
   evaluation platform for end-to-end compression research", arXiv:2011.03029, 2020
   (``MaskedConv2d``, ``GaussianConditional``, ``JointAutoregressiveHierarchicalPriors`` whose
   serial compress/decompress this follows, and the rANS coder).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from compressai.ans import BufferedRansEncoder, RansDecoder
from compressai.layers import MaskedConv2d
from torch import nn

from .direct import DirectCodec
from .hyperprior import HYPER_STRIDE

#: Side of the causal context window (the masked convolution's kernel), as in [2]_.
CONTEXT_KERNEL = 5


def entropy_parameters(latent_channels: int) -> nn.Sequential:
    """``EP``: ``[ψ, φ]`` (4·C_r channels) → ``[σ, μ]`` (2·C_r), three 1×1 convolutions with the
    channel ratios 12:10:8:6 of Minnen et al. [2]_."""
    c = latent_channels
    return nn.Sequential(nn.Conv2d(4 * c, 10 * c // 3, 1), nn.LeakyReLU(inplace=True),
                         nn.Conv2d(10 * c // 3, 8 * c // 3, 1), nn.LeakyReLU(inplace=True),
                         nn.Conv2d(8 * c // 3, 2 * c, 1))


class ContextDirectCodec(DirectCodec):
    r""":class:`~rdtheory.codecs.direct.DirectCodec` with the autoregressive context model (Fig. 14).

    Same arguments and output as ``DirectCodec``; ``h_a`` reads the signed latent and ``h_s``
    gives ``2·C_r`` channels (ψ) that ``EP`` merges with the context ``CTX`` (mean-scale prior [2]_).
    ``compress(x, one_stream=False)``: one latent stream per image (``one_stream=True``: a single
    rANS stream for the whole batch, see :mod:`rdtheory.codecs.bitstream`).

    >>> codec = DirectCodec(3, 16, out_downsample=2, latent_channels=8, channels=16, context_model=True)
    >>> type(codec).__name__, codec(torch.zeros(2, 3, 32, 32))["output"].shape
    ('ContextDirectCodec', torch.Size([2, 16, 16, 16]))
    """

    def __init__(self, in_channels: int, out_channels: int, *, context_model: bool = True, **kwargs):
        if not context_model:
            raise ValueError("ContextDirectCodec always has the context model; use DirectCodec for the hyperprior only")
        super().__init__(in_channels, out_channels, **kwargs)
        c, n = self.latent_channels, self.hyper_channels
        self.h_a = nn.Sequential(nn.Conv2d(c, n, 3, padding=1), nn.LeakyReLU(inplace=True),
                                 nn.Conv2d(n, n, 5, stride=HYPER_STRIDE, padding=2))
        self.h_s = nn.Sequential(nn.ConvTranspose2d(n, n, 5, stride=HYPER_STRIDE, padding=2, output_padding=1),
                                 nn.LeakyReLU(inplace=True), nn.Conv2d(n, 2 * c, 3, padding=1))
        self.context_prediction = MaskedConv2d(c, 2 * c, CONTEXT_KERNEL, padding=CONTEXT_KERNEL // 2)
        self.entropy_parameters = entropy_parameters(c)

    def hyper_input(self, z: torch.Tensor) -> torch.Tensor:
        return z

    def gaussian_params(self, psi: torch.Tensor, phi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(σ, μ) = EP([ψ, φ])`` (σ before the coder's lower bound 0.11)."""
        scales, means = self.entropy_parameters(torch.cat([psi, phi], dim=1)).chunk(2, 1)
        return scales, means

    def forward(self, x: torch.Tensor, condition=None) -> dict:
        """As :meth:`HyperpriorCodec.forward`; the context sees ``round(Z̃)`` (noise in training)."""
        self.check_input(x)
        z = self.g_a(x) / self.quant_step
        z_h_hat, z_h_likelihoods = self.entropy_bottleneck(self.h_a(z))
        z_hat = self.gaussian_conditional.quantize(z, "noise" if self.training else "dequantize")
        scales, means = self.gaussian_params(self.h_s(z_h_hat), self.context_prediction(z_hat))
        _, z_likelihoods = self.gaussian_conditional(z, scales, means=means)
        return {"output": self.synthesis(z_hat), "z_hat": z_hat,
                "likelihoods": {"z": z_likelihoods, "z_h": z_h_likelihoods}}

    @torch.no_grad()
    def likelihoods_of(self, z_hat: torch.Tensor, z_h_hat: torch.Tensor) -> torch.Tensor:
        """Model bin probabilities of a *coded* latent ``Ẑ`` (what the serial coder used, up to its
        tables): the parallel context on ``Ẑ`` gives the same (σ, μ) as the serial loop."""
        scales, means = self.gaussian_params(self.h_s(z_h_hat), self.context_prediction(z_hat))
        return self.gaussian_conditional.likelihood_lower_bound(
            self.gaussian_conditional._likelihood(z_hat, scales, means))

    # -- the serial (autoregressive) coder --------------------------------------------------------
    def _serial(self, psi: torch.Tensor, code) -> torch.Tensor:
        """Visit the latent positions of one image in raster order; ``code(indexes, means, (i, j))``
        returns the coded values there. The context is read from a zero-initialised work tensor
        filled as positions are coded, identical on both sides. Returns ``Ẑ`` (1, C_r, h, w)."""
        c, (h, w) = self.latent_channels, psi.shape[-2:]
        k, p = CONTEXT_KERNEL, CONTEXT_KERNEL // 2
        work = psi.new_zeros((1, c, h + 2 * p, w + 2 * p))
        weight = self.context_prediction.weight * self.context_prediction.mask
        for i in range(h):
            for j in range(w):
                phi = F.conv2d(work[:, :, i:i + k, j:j + k], weight, self.context_prediction.bias)
                scales, means = self.gaussian_params(psi[:, :, i:i + 1, j:j + 1], phi)
                indexes = self.scale_indexes(scales).reshape(-1)
                work[0, :, i + p, j + p] = code(indexes, means.reshape(-1), (i, j))
        return work[:, :, p:p + h, p:p + w]

    def scale_indexes(self, scales: torch.Tensor) -> torch.Tensor:
        """The coder's table index of each σ: ``GaussianConditional.build_indexes`` (the first table scale
        ≥ the lower-bounded σ) as one ``searchsorted`` instead of 63 comparisons — the same integers."""
        gc = self.gaussian_conditional
        return torch.searchsorted(gc.scale_table[:-1].contiguous(), gc.lower_bound_scale(scales)).int()

    def _tables(self):
        gc = self.gaussian_conditional
        return gc.quantized_cdf.tolist(), gc.cdf_length.tolist(), gc.offset.tolist()

    def _encode_latents(self, z: torch.Tensor, psi: torch.Tensor, one_stream: bool) -> tuple[list[bytes], torch.Tensor]:
        cdf, lengths, offsets = self._tables()
        gc = self.gaussian_conditional
        strings, symbols, indexes_all, z_hat = [], [], [], []
        for b in range(z.shape[0]):
            def code(indexes, means, ij, b=b):
                q = gc.quantize(z[b, :, ij[0], ij[1]], "symbols", means)
                symbols.extend(q.tolist())
                indexes_all.extend(indexes.tolist())
                return gc.dequantize(q, means)
            z_hat.append(self._serial(psi[b:b + 1], code))
            if not one_stream or b == z.shape[0] - 1:
                enc = BufferedRansEncoder()
                enc.encode_with_indexes(symbols, indexes_all, cdf, lengths, offsets)
                strings.append(enc.flush())
                symbols, indexes_all = [], []
        return strings, torch.cat(z_hat)

    def _decode_latents(self, strings: list[bytes], psi: torch.Tensor) -> torch.Tensor:
        cdf, lengths, offsets = self._tables()
        gc = self.gaussian_conditional
        out, dec = [], None
        for b in range(psi.shape[0]):
            if dec is None or len(strings) > 1:
                dec = RansDecoder()
                dec.set_stream(strings[b if len(strings) > 1 else 0])

            def code(indexes, means, ij, dec=dec):
                # pass only the tables used here (the coder copies every table it is given on each call)
                used, local = torch.unique(indexes, return_inverse=True)
                used = used.tolist()
                q = dec.decode_stream(local.tolist(), [cdf[u] for u in used], [lengths[u] for u in used],
                                      [offsets[u] for u in used])
                return gc.dequantize(torch.tensor(q, dtype=torch.int32), means)
            out.append(self._serial(psi[b:b + 1], code))
        return torch.cat(out)

    def _hyper(self, x: torch.Tensor):
        self.check_input(x)
        self._check_tables()
        z = self.g_a(x) / self.quant_step
        return z, self.h_a(z)

    @torch.no_grad()
    def compress(self, x: torch.Tensor, condition=None, *, one_stream: bool = False) -> dict:
        """Encode: ``{"strings": [z_strings, z_h_strings], "shape": (h, w), "z_hat": the coded Ẑ}`` — one latent and one
        side stream per image (``one_stream=True``: the latent stream of the whole batch in one
        string; the side stream is still per image, :mod:`rdtheory.codecs.bitstream` joins both)."""
        z, z_h = self._hyper(x)
        z_h_strings = self.entropy_bottleneck.compress(z_h)
        z_h_hat = self.entropy_bottleneck.decompress(z_h_strings, z_h.shape[-2:])
        z_strings, z_hat = self._encode_latents(z, self.h_s(z_h_hat), one_stream)
        return {"strings": [z_strings, z_h_strings], "shape": tuple(z_h.shape[-2:]), "z_hat": z_hat}

    @torch.no_grad()
    def decompress(self, strings, shape, condition=None) -> dict:
        """Decode :meth:`compress`'s output (either layout): ``{"output", "z_hat"}``; ``z_hat`` is
        the encoder's ``Ẑ`` bit for bit."""
        if not isinstance(strings, (list, tuple)) or len(strings) != 2 or len(strings[0]) not in (1, len(strings[1])):
            raise ValueError("strings must be [z_strings, z_h_strings] as returned by compress() (one latent "
                             "string per image, or one for the batch)")
        z_h_hat = self.entropy_bottleneck.decompress(strings[1], shape)
        return self.decode_from_side(strings[0], z_h_hat)

    @torch.no_grad()
    def decode_from_side(self, z_strings, z_h_hat: torch.Tensor) -> dict:
        """The serial latent decode given the decoded hyper-latent ``Ẑ_h`` (B, N, h, w)."""
        z_hat = self._decode_latents(list(z_strings), self.h_s(z_h_hat))
        return {"output": self.synthesis(z_hat), "z_hat": z_hat}
