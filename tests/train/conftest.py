"""Helpers for trainer tests: run the absl entry point in a subprocess."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def train_cmd(workdir, *overrides, config="experiments/tiny_test.py"):
  return [sys.executable, "-m", "spice_jax.train", f"--config={config}",
          f"--workdir={workdir}", *overrides]


def subprocess_env():
  env = dict(os.environ)
  env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=1"
  env["JAX_PLATFORMS"] = "cpu"
  # The suite's compilation cache and cache root (tests/conftest.py) come with os.environ:
  # restarts (resume tests) load compiled programs instead of recompiling them.
  env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
  # Every program of a trainer run goes to that cache, not only those over 0.5 s: the suite
  # starts the tiny trainer dozens of times with the same programs, most of which compile in
  # well under 0.5 s at the suite's optimisation level (a repeated tiny run: 8.9 s -> 7.9 s).
  env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
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
