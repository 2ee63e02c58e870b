"""Mutation tests of the verdicts of paper_checks/claims_codecs_scalable.py and claims_codecs_bits.py: each
verdict is moved by the smallest amount that matters and must flip."""
from __future__ import annotations

import math

import pytest

from paper_checks import claims_codecs_bits as bits
from paper_checks import claims_codecs_scalable as sc


def test_margins_closed_form():
    # 2 binomial SE at p = 0.4, n = 2000, in points
    assert sc.accuracy_margin(0.4, 2000) == pytest.approx(200 * math.sqrt(0.24 / 2000), rel=1e-12)
    # delta method: SE of -10 log10(mean) = (10 / ln 10) * cv / sqrt(n)
    assert sc.psnr_margin(1.0, 2000) == pytest.approx(2 * 10 / math.log(10) / math.sqrt(2000), rel=1e-12)


def test_base_task_verdict_mutation():
    m = 2.0
    shares = {0.01: 0.001, 10.0: 0.5}
    assert sc.base_task_ok({0.01: -m, 10.0: -30.0}, shares, m) == (True, [0.01])  # large-share β not judged
    assert sc.base_task_ok({0.01: -m - 0.01, 10.0: -30.0}, shares, m)[0] is False
    assert sc.base_task_ok({10.0: 5.0}, {10.0: sc.SMALL_SHARE + 1e-9}, m)[0] is False  # nothing judged: no pass
    assert sc.base_task_ok({0.1: 0.0}, {0.1: sc.SMALL_SHARE}, m)[0] is True
    assert sc.base_task_ok({0.1: None}, {0.1: 0.0}, m)[0] is False


def test_psnr_verdicts_mutation():
    m = 0.2
    assert sc.better_ok(m + 1e-6, m) and not sc.better_ok(m, m) and not sc.better_ok(None, m)
    assert sc.bound_ok(m, m) and not sc.bound_ok(m + 1e-6, m) and not sc.bound_ok(None, m)


def _breakdown(excess_shift=0.0):
    """A bit_breakdown record whose size sits at the top of its allowed interval (+ excess_shift)."""
    r = {"n_images": 10, "estimate_bits": 10_000.0, "cdf_floor_bits": 3.0, "overhead_bounds": (640.0, 1280.0),
         "overhead_bits": 1000.0, "table_excess_bits": 5.0, "latent_bits": 0, "side_bits": 0, "decode_exact": True}
    r["total_bits"] = r["estimate_bits"] + 1280.0 + 3.0 + bits.REL_TOL * 10_000.0 + excess_shift
    return r


def test_accounting_verdict_mutation():
    ok_rows = bits.accounting_rows({"c": {"per_image": _breakdown(-0.01)}})
    assert bits.accounting_ok(ok_rows)
    assert not bits.accounting_ok(bits.accounting_rows({"c": {"per_image": _breakdown(+1.0)}}))  # 1 bit too many
    for flag in ("decode_exact", "overhead_ok", "size_ok"):
        assert not bits.accounting_ok([{**ok_rows[0], flag: False}])
    assert not bits.accounting_ok([])
    r = _breakdown(-0.01)
    r["overhead_bits"] = 1280.0 + 1e-6                      # just past the derived flush interval
    assert not bits.accounting_ok(bits.accounting_rows({"c": {"one_stream": r}}))


def test_context_verdict_mutation():
    assert bits.context_ok(-1e-6, -0.1, 0.1, True)
    assert not bits.context_ok(0.0, 0.0, 0.1, True)          # the bound must be below 0
    assert not bits.context_ok(-5.0, -0.1 - 1e-6, 0.1, True)  # PSNR lower beyond the margin
    assert not bits.context_ok(-5.0, 0.0, 0.1, False)
    assert not bits.context_ok(None, 0.0, 0.1, True)


def test_paired_context_stats_closed_form():
    st = bits.paired_context_stats([90, 100, 110], [100, 110, 120], [0.01, 0.01, 0.01], [0.01, 0.01, 0.01])
    assert st["mean_bits_diff"] == -10.0 and st["upper_bits_diff"] == -10.0      # constant difference: sd 0
    assert st["rel_saving"] == pytest.approx(30 / 330, rel=1e-12)
    assert st["psnr_diff_db"] == pytest.approx(0.0, abs=1e-12) and st["psnr_margin_db"] == pytest.approx(0.0, abs=1e-12)
