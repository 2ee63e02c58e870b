"""Mutation test for the Table I input-row claim (paper_checks/claims_table1_protocol.py).

The decision is a pure function; it is fed the records of a run (experiments/results/
cifar_input_protocol.json, 2026-12-02) and the smallest perturbations that matter. Nothing
heavy is recomputed.
"""
from __future__ import annotations

from paper_checks import FAIL, PASS
from paper_checks.claims_table1_protocol import PAPER_INPUT, input_verdict

TRAIN = {"rho": 0.0384, "rho_low": 0.0364, "rho_high": 0.0404, "rho_bc": 0.0380, "rho_bc_low": 0.0360,
         "rho_bc_high": 0.0399}  # train split, 50,000 images, [0, 1] pixels
TEST = {"rho": 0.0458, "rho_low": 0.0417, "rho_high": 0.0498, "rho_bc": 0.0439, "rho_bc_low": 0.0399,
        "rho_bc_high": 0.0481}  # test split, 10,000 images
TEST_2000 = {"rho": 0.0573, "rho_low": 0.0445, "rho_high": 0.0701, "rho_bc": 0.0498, "rho_bc_low": 0.0370,
             "rho_bc_high": 0.0655}  # the old make-check protocol


def test_recorded_protocols():
    assert input_verdict(TRAIN) == PASS
    assert input_verdict(TEST) == FAIL
    assert input_verdict(TEST_2000) == FAIL  # its plug-in interval excludes 0.038


def test_smallest_shift_fails():
    # moving the train intervals up by 0.0021 puts 0.038 below the bias-corrected one
    shifted = {k: v + 0.0021 for k, v in TRAIN.items()}
    assert input_verdict(shifted) == FAIL
    assert input_verdict(TRAIN, PAPER_INPUT + 0.0025) == FAIL  # a paper value of 0.0405
    assert input_verdict(TRAIN, PAPER_INPUT - 0.0021) == FAIL  # 0.0359
