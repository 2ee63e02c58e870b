"""The persistent compilation cache (rdtheory._jax): on by default in the user cache dir,
opt-out by environment variable, a user's own cache respected. Each case runs a fresh
process, since JAX's cache setting is process-wide."""
import os
import subprocess
import sys

SOLVE = ("import json, rdtheory._jax as j; from rdtheory.discrete import blahut_arimoto, hamming; "
         "r = blahut_arimoto([0.7, 0.3], hamming(2), 2.0); import jax; "
         "print(json.dumps([jax.config.jax_compilation_cache_dir, float(r.rate)]))")


def _run(tmp_path, **env):
    e = {k: v for k, v in os.environ.items() if k not in ("RDTHEORY_JAX_CACHE", "JAX_COMPILATION_CACHE_DIR")}
    e.update(RDTHEORY_CACHE=str(tmp_path / "cache"), **env)
    out = subprocess.run([sys.executable, "-c", SOLVE], env=e, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])


def _files(path):
    return [f for _, _, fs in os.walk(path) for f in fs] if os.path.isdir(path) else []


def test_cache_on_by_default_and_results_unchanged(tmp_path):
    where, rate = _run(tmp_path)
    assert where == str(tmp_path / "cache" / "jax")
    assert len(_files(where)) > 0                   # compiled executables were written
    where2, rate2 = _run(tmp_path)                  # a second process reads them back
    assert rate2 == rate                            # a cache never changes a result (bit-identical)


def test_opt_out_and_user_cache_respected(tmp_path):
    where, _ = _run(tmp_path, RDTHEORY_JAX_CACHE="0")
    assert where is None and _files(tmp_path / "cache") == []
    mine = tmp_path / "mine"
    where, _ = _run(tmp_path, JAX_COMPILATION_CACHE_DIR=str(mine))
    assert where == str(mine) and _files(tmp_path / "cache") == []
