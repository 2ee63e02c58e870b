"""rdtheory.codecs.enhancement: the standalone path end to end on synthetic images (train, reload, real
bitstreams, read-back of a finished run), PSNR's closed form, and input errors."""
from __future__ import annotations

import math
import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")
warnings.filterwarnings("ignore", message=".*torch.jit.script.*")

from rdtheory.codecs.enhancement import (EnhancementConfig, evaluate_enhancement, load_enhancement,  # noqa: E402
                                         make_codec, psnr_db, run_enhancement)

torch.set_num_threads(1)


def test_psnr_closed_form():
    assert psnr_db(0.01) == pytest.approx(20.0, abs=1e-12)   # 10 log10(1 / 0.01)
    assert psnr_db(1e-4, peak=255.0) == pytest.approx(10 * math.log10(255.0 ** 2 / 1e-4), rel=1e-12)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="mse"):
            psnr_db(bad)


def test_standalone_run_reload_and_read_back(tmp_path):
    x = 0.5 * torch.randn(32, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    cfg = EnhancementConfig(base=None, lmbda=30.0, epochs=1, latent_channels=4, channels=8, hyper_channels=8,
                            out_dir=str(tmp_path / "sa"))
    res = run_enhancement(cfg, train=(x, torch.zeros(32).long()), test=(x[:8], None))
    assert res["bpp_base"] == 0.0 and res["bpp_total"] == res["bpp_enhancement"] > 0
    assert res["decode_max_abs_diff"] == 0.0                   # decoder output = eval-mode forward, exactly
    assert (tmp_path / "sa" / "last.pt").exists() and (tmp_path / "sa" / "model.pt").exists()
    codec, cfg2 = load_enhancement(tmp_path / "sa" / "model.pt")
    again = evaluate_enhancement(codec, cfg2, x[:8], per_image=True)
    assert again["bpp_total"] == res["bpp_total"] and again["psnr_db"] == res["psnr_db"]   # same bytes, same pixels
    assert sum(again["bits_per_image"]) / (8 * 256) == pytest.approx(res["bpp_total"], rel=1e-12)
    # per-image means are float32 (relative rounding ~1e-7), the pooled PSNR sums in float64
    assert psnr_db(sum(again["mse_per_image"]) / 8) == pytest.approx(res["psnr_db"], rel=1e-6)
    assert run_enhancement(cfg, train=(x, None), test=(x[:8], None)) == res   # finished: read back, not redone


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="lmbda"):
        EnhancementConfig(base=None, lmbda=0.0).validate()
    with pytest.raises(ValueError, match="base must be"):
        EnhancementConfig(base=str(tmp_path / "missing.pt"), lmbda=1.0).validate()
    with pytest.raises(ValueError, match="standalone"):
        make_codec(EnhancementConfig(base=None, lmbda=1.0, context_model=True), base_channels=8)
    assert type(make_codec(EnhancementConfig(base=None, lmbda=1.0, context_model=True), None)).__name__ == \
        "ContextDirectCodec"
