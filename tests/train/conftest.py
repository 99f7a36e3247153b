"""Helpers for trainer tests: run the absl entry point in a subprocess."""
import os
import subprocess
import sys

import tempfile

import jax
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# A persistent XLA compilation cache shared by the in-process and subprocess runs: restarts
# (resume tests) then load compiled programs instead of recompiling them.
CACHE = os.path.join(tempfile.gettempdir(), "spice_jax_test_xla_cache")
jax.config.update("jax_compilation_cache_dir", CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def train_cmd(workdir, *overrides, config="experiments/tiny_test.py"):
  return [sys.executable, "-m", "spice_jax.train", f"--config={config}",
          f"--workdir={workdir}", *overrides]


def subprocess_env():
  env = dict(os.environ)
  env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=1"
  env["JAX_PLATFORMS"] = "cpu"
  env["JAX_COMPILATION_CACHE_DIR"] = CACHE
  env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0.5"
  env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
  return env


@pytest.fixture(scope="session")
def trainer_cmd():
  """(cmd(workdir, *overrides), env, cwd) for launching the trainer by hand (Popen)."""
  return train_cmd, subprocess_env(), ROOT


@pytest.fixture
def run_train():
  def run(workdir, *overrides, config="experiments/tiny_test.py", check=True, timeout=600):
    p = subprocess.run(train_cmd(workdir, *overrides, config=config), cwd=ROOT,
                       env=subprocess_env(), capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
      raise AssertionError(f"train failed ({p.returncode}):\n{p.stdout[-3000:]}\n"
                           f"{p.stderr[-6000:]}")
    return p
  return run
