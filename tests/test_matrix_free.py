"""The matrix-free (tiled) R(D) solver and its entry point ``rd_points``.

Problems are tiny (n <= 64) so that the whole file stays fast; ``tile_rows`` is set small so
that every pass really runs over several strips, and ``dense_entries=0`` keeps the solve on
the tiled path (no hand-over to the dense engine) where the tiled machinery is under test.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import jax
import jax.numpy as jnp

from rdtheory.discrete import blahut_arimoto, closed_form, rd_points
from rdtheory.discrete.matrix_free import blahut_arimoto_points
from rdtheory.discrete.point_distortions import dense_matrix
from rdtheory.discrete import tiles
from rdtheory.discrete.certificate import eliminate, kernel

TOL = 1e-5  # bits: loose enough for SQUAREM alone on these problems in a few thousand maps


def _gauss(n=48, k=2, seed=0):
    return np.random.default_rng(seed).standard_normal((n, k))


def test_agrees_with_dense_engine_within_certified_gaps():
    x = _gauss()
    tiled = blahut_arimoto_points(x, beta=1.5, tol=TOL, tile_rows=7, dense_entries=0)
    dense = rd_points(x, beta=1.5, tol=1e-9, path="dense")
    assert tiled.path == "tiled" and dense.path == "dense" and tiled.converged
    # both supporting lines are certified for every D: each must lie below the other's
    # achievable point (1e-12: float64 rounding of sums of ~2e3 terms)
    assert dense.lower_bound_at(tiled.distortion) <= tiled.rate + 1e-12
    assert tiled.lower_bound_at(dense.distortion) <= dense.rate + 1e-12
    # the same slope gives the same optimum: the certified values differ by at most the gaps
    assert abs(tiled.lower - dense.lower) <= tiled.gap + dense.gap + 1e-9 + 2 * abs(
        tiled.distortion - dense.distortion) * 1.5 / np.log(2)
    assert tiled.r.shape == (48,) and abs(tiled.r.sum() - 1) < 1e-12


def test_certificate_brackets_mary_hamming_closed_form():
    # M equiprobable symbols as 1-d points, Hamming distortion: R(D) = log2 M - h(D) - D log2(M-1)
    M = 6
    x = np.arange(M, dtype=float)[:, None]
    res = blahut_arimoto_points(x, beta=2.0, distortion="hamming", tol=1e-7, tile_rows=4, dense_entries=0)
    exact = float(closed_form.mary_hamming(res.distortion, M))
    assert res.lower - 1e-12 <= exact <= res.rate + 1e-12
    assert res.gap <= 1e-7
    # the check can fail: a rate 1e-6 bits too low is caught
    assert not exact <= res.rate - 1e-6


def test_handover_to_dense_engine_certifies_tight():
    x = _gauss(40, 1, seed=3)
    res = blahut_arimoto_points(x, beta=3.0, tol=1e-7, dense_entries=40 * 40)
    ref = rd_points(x, beta=3.0, tol=1e-9, path="dense")
    assert res.converged and res.gap <= 1e-7
    assert ref.lower_bound_at(res.distortion) <= res.rate + 1e-12


def test_elimination_keeps_every_support_point_of_the_dense_optimum():
    x = _gauss(64, 1, seed=1)
    beta = 4.0
    d = dense_matrix("squared", x, x)
    p = np.full(64, 1 / 64)
    ref = blahut_arimoto(p, d, beta, tol=1e-10)
    support = ref.r > 1e-6          # 8 points here; the rest carry < 1e-6 of the mass
    with jax.enable_x64(True):
        xs, ps = jnp.asarray(x.reshape(8, 8, 1)), jnp.full((8, 8), 1 / 64)
        for mix in (1e-1, 1e-2, 1e-3, 1e-4, 1e-6):  # iterates at several distances from the optimum
            theta = jnp.log(jnp.asarray((1 - mix) * ref.r + mix / 64))
            alive = np.asarray(tiles.eliminate(theta, jnp.ones(64, bool), xs, ps, jnp.asarray(x), beta,
                                               tiles_fn(), None))
            assert np.all(alive[support]), f"mix={mix}: a support point was eliminated"
            dense = np.asarray(eliminate(theta, jnp.ones(64, bool), kernel(jnp.asarray(d), beta), jnp.asarray(p)))
            # the tiled test includes the dense rule (min of two certified bounds)
            assert np.all(alive <= dense), f"mix={mix}"
    # and it does something: near the optimum most non-support points go (measured: 50 of 56,
    # the dense pointwise rule alone 28)
    assert (~alive).sum() >= 0.75 * (~support).sum() > (~dense).sum()


def tiles_fn():
    from rdtheory.discrete.point_distortions import point_distortion
    return point_distortion("squared")


def test_batch_of_betas_and_weights():
    x = _gauss(30, 1, seed=2)
    p = np.random.default_rng(2).dirichlet(np.ones(30))
    res = blahut_arimoto_points(x, beta=[0.5, 2.0], p=p, tol=TOL, dense_entries=0)
    assert res.rate.shape == (2,) and res.r.shape == (2, 30) and np.all(res.converged)
    for i, b in enumerate((0.5, 2.0)):
        ref = blahut_arimoto(p, dense_matrix("squared", x, x), b, tol=1e-9)
        assert ref.lower_bound_at(res.distortion[i]) * 1 <= res.rate[i] + 1e-12


def test_seeded_runs_are_bit_identical():
    x = _gauss(40, 2, seed=5)
    a = blahut_arimoto_points(x, beta=1.0, tol=TOL, tile_rows=9, dense_entries=0)
    b = blahut_arimoto_points(x, beta=1.0, tol=TOL, tile_rows=9, dense_entries=0)
    assert a.rate == b.rate and a.lower == b.lower and np.array_equal(a.r, b.r) and a.iterations == b.iterations


def test_auto_path_choice():
    x = _gauss(20, 1)
    assert rd_points(x, beta=1.0, tol=1e-6).path == "dense"


@pytest.mark.parametrize("kwargs, match", [
    (dict(x_hat=np.zeros((5, 3))), "dimension"),
    (dict(x=np.array([[0.0, np.nan], [1.0, 2.0]])), "NaN"),
    (dict(x_hat=np.array([[np.inf, 0.0]])), "NaN"),
    (dict(distortion=lambda a, b: -jnp.ones((a.shape[0], b.shape[0]))), "negative"),
    (dict(distortion=lambda a, b: jnp.full((a.shape[0], b.shape[0]), jnp.nan)), "NaN"),
    (dict(distortion=lambda a, b: jnp.ones((a.shape[0],))), "shape"),
    (dict(distortion="cosine"), "distortion must be one of"),
    (dict(beta=0.0), "beta"),
    (dict(beta=np.nan), "beta"),
    (dict(beta=np.ones((2, 2))), "beta"),
    (dict(tol=0.0), "tol"),
    (dict(max_iter=0), "max_iter"),
    (dict(tile_rows=0), "tile_rows"),
    (dict(tile_rows=2.5), "tile_rows"),
    (dict(p=np.array([0.5, 0.6, 0.0, 0.0])), "sum to 1"),
    (dict(p=np.ones(3) / 3), "one weight per source point"),
    (dict(devices="nope"), "devices"),
    (dict(path="fast"), "path"),
    (dict(x=np.array([[1e200, 0.0], [0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]), path="tiled"), "NaN/inf"),
])
def test_bad_input_raises_value_error(kwargs, match):
    args = dict(x=np.arange(8.0).reshape(4, 2), beta=1.0)
    args.update(kwargs)
    x = args.pop("x")
    with pytest.raises(ValueError, match=match):
        rd_points(x, **args)


def test_negative_distortion_beyond_the_probe_is_caught_by_the_full_pass():
    # negative only for a point past the 8 x 8 probe of check_point_distortion
    x = np.arange(20.0)[:, None]
    fn = lambda a, b: (a - b.T) ** 2 - 1.0 * ((a > 15) & (b.T > 15))
    with pytest.raises(ValueError, match="negative"):
        blahut_arimoto_points(x, beta=1.0, distortion=fn)
    with pytest.raises(ValueError, match="dense_entries"):
        blahut_arimoto_points(x, beta=1.0, dense_entries=-1)


SCRIPT = textwrap.dedent("""
    import json, jax, numpy as np
    from rdtheory.discrete.matrix_free import blahut_arimoto_points
    assert len(jax.devices()) == 4, jax.devices()
    x = np.random.default_rng(0).standard_normal((50, 2))   # 50 rows: strips padded to 4 devices
    one = blahut_arimoto_points(x, beta=1.5, tol=1e-5, tile_rows=4, dense_entries=0)
    four = blahut_arimoto_points(x, beta=1.5, tol=1e-5, tile_rows=4, dense_entries=0, devices="all")
    print(json.dumps({"rate": abs(float(one.rate - four.rate)), "lower": abs(float(one.lower - four.lower)),
                      "r": float(np.max(np.abs(one.r - four.r))), "it": [int(one.iterations), int(four.iterations)],
                      "conv": bool(four.converged)}))
""")


def test_four_forced_host_devices_match_single_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    # same strips, summed in a different order (psum of per-device sums): float64 reduction
    # order only, so the iterates agree to ~1e-12 (a real sharding bug moves them by >> 1e-6)
    assert res["rate"] <= 1e-10 and res["lower"] <= 1e-10 and res["r"] <= 1e-8, res
    assert res["conv"] and abs(res["it"][0] - res["it"][1]) <= 3, res
