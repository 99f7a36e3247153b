"""Two JAX processes on localhost (4 CPU devices each, gloo) == one process with 8 devices."""
import json
import os
import socket
import subprocess

import jax
import numpy as np
import pytest

from spice_jax.utils import checkpointing


def _free_port():
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def _env(base, devices):
  env = dict(base)
  env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
  # Full optimisation (tests/conftest.py): these tests compare the float noise of two device
  # layouts with a tolerance of a few ulps, measured on the programs users run. Unoptimised
  # code sums in other orders and moves parameters by up to ~600 ulps (rel 7e-5, measured).
  env["JAX_DISABLE_MOST_OPTIMIZATIONS"] = "0"
  return env


HOST_LOCAL = ["--config.train.iterations=3", "--config.mesh.shape=(-1,1,1)",
              "--config.train.sampling=host_local", "--config.spice.num_docs=4",
              # A random model writes no valid task, so every advantage is 0; weight decay
              # moves the params after update 1 and the KL to the initial model then gives
              # updates 2-3 gradients that depend on every row of the assembled batch.
              "--config.rl.weight_decay=0.1", "--config.rl.kl_beta=0.5",
              # Gradients are summed in another order across 2 x 4 devices than over 8. With
              # Adam's default eps (1e-8) a near-zero gradient element is divided by its own
              # size, so a float difference that flips its sign moves that parameter by up to
              # 2 lr, and iteration 3 then samples from visibly different weights (a token
              # flipped at 219b9e1). With eps above these gradients (mostly < 1e-7 here) the
              # update is lr * g / eps: linear in g, so the runs differ by float noise only.
              "--config.rl.adam_eps=1e-5",
              "--config.rl.minibatch_size=64"]
GLOBAL = [a for a in HOST_LOCAL if a != "--config.train.sampling=host_local"]
# Timing, per-host work and the engine's schedule (occupancy, pool and preemptions depend on
# how many rows each process's engine holds) differ with the layout; results must not.
TIMING = ("time/", "throughput/", "host/", "engine/")


def _launch_pair(cmd, env, root, workdir, *extra):
  port = _free_port()
  return [subprocess.Popen(
      cmd(workdir, *HOST_LOCAL, *extra, f"--config.mesh.coordinator_address=localhost:{port}",
          "--config.mesh.num_processes=2", f"--config.mesh.process_id={i}"),
      cwd=root, env=_env(env, 4), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
      for i in range(2)]


def _finish(procs, timeout=900):
  outs = [p.communicate(timeout=timeout) for p in procs]
  for p, (_, err) in zip(procs, outs):
    assert p.returncode == 0, err[-4000:]


def _jsonl(path):
  with open(path) as f:
    return [json.loads(l) for l in f]


def _same_run(a, b):
  pa, sa = checkpointing.load_params(str(a))
  pb, sb = checkpointing.load_params(str(b))
  assert sa == sb == 3
  # Float noise only (rl.adam_eps above): a few f32 ulps (params are ~1e-2, ulp ~1e-9). Updates
  # 2-3 move a median parameter by ~3e-7, so a batch assembled differently shows here too.
  for x, y in zip(jax.tree.leaves(pa.params), jax.tree.leaves(pb.params)):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6, atol=1e-9)
  ma, mb = _jsonl(a / "metrics.jsonl"), _jsonl(b / "metrics.jsonl")
  strip = lambda r: {k: v for k, v in r.items() if not k.startswith(TIMING)}
  assert len(ma) == len(mb) == 3
  for x, y in zip(ma, mb):
    x, y = strip(x), strip(y)
    assert x.keys() == y.keys()
    for k in x:
      if isinstance(x[k], float):
        assert x[k] == pytest.approx(y[k], rel=1e-4, abs=1e-6), k
      else:
        assert x[k] == y[k], k
  assert _jsonl(a / "audit" / "tasks.jsonl") == _jsonl(b / "audit" / "tasks.jsonl")


@pytest.fixture(scope="module")
def host_local_runs(tmp_path_factory, trainer_cmd):
  """One process x 8 devices and two processes x 4, both host-local, 3 iterations. The
  one-process run is also the reference of the global-sampling pair."""
  cmd, env, root = trainer_cmd
  tmp = tmp_path_factory.mktemp("host_local")
  p = subprocess.run(cmd(tmp / "single", *HOST_LOCAL), cwd=root, env=_env(env, 8),
                     capture_output=True, text=True, timeout=900)
  assert p.returncode == 0, p.stderr[-4000:]
  _finish(_launch_pair(cmd, env, root, tmp / "multi"))
  return tmp


@pytest.mark.slow
def test_two_processes_match_one_process(host_local_runs, trainer_cmd):
  """Sampling over the global mesh (train.sampling 'global': the engine's mesh spans both
  processes) against the one-process run of the fixture. With one process the two sampling
  settings are the same run: params, metrics and audit bit for bit (measured at 248a53c,
  8 devices, these options), so one reference serves this test and the host-local ones."""
  cmd, env, root = trainer_cmd
  multi = host_local_runs / "multi_global"
  port = _free_port()
  procs = [subprocess.Popen(
      cmd(multi, *GLOBAL, f"--config.mesh.coordinator_address=localhost:{port}",
          "--config.mesh.num_processes=2", f"--config.mesh.process_id={i}"),
      cwd=root, env=_env(env, 4), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
      for i in range(2)]
  _finish(procs)
  a, step_a = checkpointing.load_params(str(host_local_runs / "single"))
  b, step_b = checkpointing.load_params(str(multi))
  assert step_a == step_b == 3
  for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)
  # Only process 0 wrote the run's logs.
  assert [r["step"] for r in _jsonl(multi / "metrics.jsonl")] == [1, 2, 3]


@pytest.mark.slow
def test_host_local_two_processes_match_one(host_local_runs):
  single, multi = host_local_runs / "single", host_local_runs / "multi"
  _same_run(single, multi)
  # Each process parsed the outputs of its own half of the documents.
  for r in _jsonl(multi / "metrics.jsonl"):
    p0, p1 = r["host/outputs_parsed_p0"], r["host/outputs_parsed_p1"]
    assert p0 == p1 == r["host/outputs_parsed"] / 2 > 0
    # Rows and metric numbers reach every process; the audit records process 0 alone.
    assert r["host/bytes_received"] > r["host/bytes_received_by_every_process"] > 0


@pytest.mark.slow
def test_host_local_sigkill_one_process_then_resume(host_local_runs, trainer_cmd):
  """SIGKILL one process once checkpoint 1 is committed, then restart both: the finished
  run equals the uninterrupted one (params, metrics, audit)."""
  import signal
  import time
  cmd, env, root = trainer_cmd
  wd = host_local_runs / "killed"
  procs = _launch_pair(cmd, env, root, wd)
  deadline = time.time() + 900
  while not (wd / "checkpoints" / "1").is_dir() and time.time() < deadline:
    if any(p.poll() is not None for p in procs):
      break
    time.sleep(0.5)
  time.sleep(1.0)
  procs[1].send_signal(signal.SIGKILL)
  time.sleep(2.0)
  procs[0].kill()            # its partner is gone: it would wait in a collective forever
  for p in procs:
    p.communicate(timeout=60)
  assert (wd / "checkpoints" / "1").is_dir()
  _finish(_launch_pair(cmd, env, root, wd))
  _same_run(host_local_runs / "multi", wd)
