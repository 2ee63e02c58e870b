"""Spreading a batch over 4 forced host devices gives the single-device answer.

The device count must be fixed before JAX starts, so the check runs in a subprocess with
``XLA_FLAGS=--xla_force_host_platform_device_count=4``.
"""
import json
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import json, jax, numpy as np
    from rdtheory.discrete import blahut_arimoto
    assert len(jax.devices()) == 4, jax.devices()
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(12), size=7)          # 7: not a multiple of 4 -> padding path
    D = rng.uniform(0, 1, (7, 12, 9))
    betas = np.linspace(0.5, 12.0, 7)
    one = blahut_arimoto(P, D, betas)
    four = blahut_arimoto(P, D, betas, devices="all")
    shared = blahut_arimoto(P[0], D[0], betas, devices=jax.devices())   # d replicated
    named = blahut_arimoto(P, D, betas, devices="cpu")                  # a platform name: all 4
    print(json.dumps({
        "rate_diff": float(np.max(np.abs(one.rate - four.rate))),
        "lower_diff": float(np.max(np.abs(one.lower - four.lower))),
        "q_diff": float(np.max(np.abs(one.q - four.q))),
        "iters_equal": bool(np.all(one.iterations == four.iterations)),
        "shape": list(four.q.shape),
        "shared_shape": list(shared.q.shape),
        "converged": bool(np.all(four.converged)),
        "named_equal": bool(np.array_equal(named.rate, four.rate) and np.array_equal(named.lower, four.lower)),
    }))
""")


def test_four_forced_host_devices_match_single_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    # same per-instance computation on each device: equal up to float64 reduction order
    assert res["rate_diff"] <= 1e-12 and res["lower_diff"] <= 1e-12 and res["q_diff"] <= 1e-12
    assert res["iters_equal"] and res["converged"]
    assert res["named_equal"]   # devices="cpu" is the same 4-device mesh as devices="all"
    assert res["shape"] == [7, 12, 9] and res["shared_shape"] == [7, 12, 9]
