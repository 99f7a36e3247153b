"""Fault injection: SIGKILLs, damaged checkpoints, NaN gradients, disk full, hung verifiers."""
import errno
import json
import os
import random
import shutil
import signal
import subprocess
import time

import jax
import numpy as np
import pytest

from experiments import tiny_test
from spice_jax import train
from spice_jax.utils import checkpointing


def _read_jsonl(path):
  with open(path) as f:
    return [json.loads(l) for l in f]


# Sampler-vs-trainer log-prob agreement is float noise of the sampler's arithmetic (~3e-7
# nats in f32): a resumed run's fresh engine sizes its KV pool anew, which may move it by an
# ulp while every token stays the same. Compared to 1e-6, everything else exactly.
_AGREEMENT = ("logprob_abs_diff", "token_mult_prob_error", "logprob_ratio_out_band",
              "logprob_off_support")


def _no_timing(recs):
  return [{k: v for k, v in r.items()
           if not k.startswith(("time/", "throughput/")) and not k.endswith(_AGREEMENT)}
          for r in recs]


def _agreement_close(a, b):
  """The agreement metrics of two runs' records, equal to 1e-6."""
  assert len(a) == len(b)
  for ra, rb in zip(a, b):
    ka = sorted(k for k in ra if k.endswith(_AGREEMENT))
    assert ka == sorted(k for k in rb if k.endswith(_AGREEMENT))
    for k in ka:
      assert ra[k] == pytest.approx(rb[k], abs=1e-6), k


def _params(workdir):
  m, step = checkpointing.load_params(str(workdir))
  return step, [np.asarray(x) for x in jax.tree.leaves(m.params)]


def _config(**overrides):
  c = tiny_test.get_config()
  for k, v in overrides.items():
    section, key = k.split(".", 1)
    c[section][key] = v
  return c


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
  """An uninterrupted 4-iteration run, in-process."""
  wd = tmp_path_factory.mktemp("reference")
  train.train(_config(**{"train.iterations": 4}), str(wd))
  return wd


@pytest.mark.slow
def test_kill_and_resume_equals_uninterrupted(tmp_path, run_train, trainer_cmd,
                                              reference_run):
  """Issue 6: 4 iterations == 2 iterations, SIGKILL, resume for 2 more."""
  train_cmd, env, root = trainer_cmd
  straight = reference_run

  killed = tmp_path / "killed"
  proc = subprocess.Popen(train_cmd(killed, "--config.train.iterations=4"), cwd=root,
                          env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  # Kill it hard once checkpoint 2 is committed (during iteration 3 or 4).
  deadline = time.time() + 600
  while time.time() < deadline and proc.poll() is None:
    if os.path.isdir(killed / "checkpoints" / "2") and (killed / "metrics.jsonl").exists():
      break
    time.sleep(0.2)
  assert proc.poll() is None, "run finished before it could be killed"
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  steps = sorted(int(s) for s in os.listdir(killed / "checkpoints") if s.isdigit())
  assert steps and max(steps) < 4
  run_train(killed, "--config.train.iterations=4")

  _, a = _params(straight)
  _, b = _params(killed)
  for x, y in zip(a, b):
    np.testing.assert_array_equal(x, y)
  assert _no_timing(_read_jsonl(straight / "metrics.jsonl")) == _no_timing(
      _read_jsonl(killed / "metrics.jsonl"))
  _agreement_close(_read_jsonl(straight / "metrics.jsonl"), _read_jsonl(killed / "metrics.jsonl"))
  ta = _read_jsonl(straight / "audit" / "tasks.jsonl")
  tb = _read_jsonl(killed / "audit" / "tasks.jsonl")
  assert ta == tb
  events = _read_jsonl(killed / "audit" / "events.jsonl")
  assert [e["event"] for e in events] == ["resume"]


def _wait_for(path, proc, timeout=600):
  """Waits until `path` exists (a committed checkpoint) or `proc` ends."""
  deadline = time.time() + timeout
  while not os.path.isdir(path) and proc.poll() is None and time.time() < deadline:
    time.sleep(0.05)


@pytest.mark.slow
def test_repeated_sigkill_loses_nothing(tmp_path, reference_run, trainer_cmd):
  """SIGKILL at random moments, several times; each restart resumes; the end state equals
  the uninterrupted run (params bitwise, metrics and audit trail).

  The moments are drawn against the run's own progress, not the wall clock (which depends on
  the machine and the model): the first kill falls at a random moment of start-up (imports,
  corpus, initial checkpoint), kill k = 1, 2, 3 at a random moment within one iteration's time
  after checkpoint k is committed (so inside iteration k+1 or its checkpoint)."""
  cmd, env, root = trainer_cmd
  wd = tmp_path / "killed"
  rng = random.Random(1234)
  # One iteration's time in the reference (iterations 2-4: compiled, like a restart's).
  t_iter = float(np.median([r["time/iteration"]
                            for r in _read_jsonl(reference_run / "metrics.jsonl")[1:]]))
  kills = 0
  for attempt in range(5):  # four runs killed at random moments, then one left to finish
    proc = subprocess.Popen(cmd(wd, "--config.train.iterations=4"), cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if attempt < 4:
      if attempt == 0:
        delay = rng.uniform(0.5, 3.0)   # a run's start-up alone takes longer (imports ~3 s)
      else:
        _wait_for(wd / "checkpoints" / str(attempt), proc)
        delay = rng.uniform(0.0, t_iter)
      try:
        proc.wait(timeout=delay)
      except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        continue
    else:
      proc.wait(timeout=900)
    assert proc.returncode == 0
    break
  # Kills 0-2 leave at least two iterations' work, longer than any delay: they always land.
  assert kills >= 3, kills
  step_a, a = _params(reference_run)
  step_b, b = _params(wd)
  assert step_a == step_b == 4
  for x, y in zip(a, b):
    np.testing.assert_array_equal(x, y)
  assert _no_timing(_read_jsonl(wd / "metrics.jsonl")) == _no_timing(
      _read_jsonl(reference_run / "metrics.jsonl"))
  _agreement_close(_read_jsonl(wd / "metrics.jsonl"), _read_jsonl(reference_run / "metrics.jsonl"))
  assert _read_jsonl(wd / "audit" / "tasks.jsonl") == _read_jsonl(
      reference_run / "audit" / "tasks.jsonl")


@pytest.mark.slow
def test_damaged_newest_checkpoint_falls_back(tmp_path, caplog):
  wd = tmp_path / "run"
  train.train(_config(**{"train.iterations": 2}), str(wd))
  newest = wd / "checkpoints" / "2" / "params"
  damaged = 0
  for root, _, files in os.walk(newest):
    for f in files:
      p = os.path.join(root, f)
      if os.path.getsize(p) > 16:
        with open(p, "r+b") as fh:
          fh.truncate(os.path.getsize(p) // 3)
        damaged += 1
  assert damaged
  caplog.set_level("ERROR")
  train.train(_config(**{"train.iterations": 3}), str(wd))
  assert any("checkpoints/2 is unreadable" in r.getMessage() for r in caplog.records)
  events = _read_jsonl(wd / "audit" / "events.jsonl")
  assert events[-1]["event"] == "resume" and events[-1]["checkpoint"].endswith("/1")
  assert [r["step"] for r in _read_jsonl(wd / "metrics.jsonl")] == [1, 2, 3]
  step, params = _params(wd)
  assert step == 3 and all(np.isfinite(p).all() for p in params)


@pytest.mark.slow
def test_nan_gradient_rolls_back_and_continues(tmp_path, monkeypatch):
  from spice_jax.rl import update as update_lib
  real = update_lib.make_update_fn
  calls = {"n": 0}

  def poisoned(*a, **kw):
    fn = real(*a, **kw)

    def update(state, batch):
      calls["n"] += 1
      state, m = fn(state, batch)
      if calls["n"] == 2:  # the second update produces NaN gradients
        state = state.replace(params=jax.tree.map(lambda x: x * np.nan, state.params))
        m = dict(m, loss=np.float32(np.nan), grad_norm=np.float32(np.nan))
      return state, m
    update.batch_sharding = fn.batch_sharding
    return update
  monkeypatch.setattr(update_lib, "make_update_fn", poisoned)
  wd = tmp_path / "run"
  train.train(_config(**{"train.iterations": 3}), str(wd))
  events = _read_jsonl(wd / "audit" / "events.jsonl")
  kinds = [e["event"] for e in events]
  assert "guard" in kinds and "rollback" in kinds
  g = next(e for e in events if e["event"] == "guard")
  assert g["detector"] == "nonfinite" and g["step"] == 2
  rb = next(e for e in events if e["event"] == "rollback")
  assert rb["to_iteration"] == 1
  recs = _read_jsonl(wd / "metrics.jsonl")
  assert [r["step"] for r in recs] == [1, 2, 3]
  assert all(np.isfinite(r["loss"]) for r in recs)
  step, params = _params(wd)
  assert step == 3 and all(np.isfinite(p).all() for p in params)
  assert calls["n"] == 4  # 3 iterations + the discarded one


@pytest.mark.slow
def test_disk_full_on_metrics_is_clear_and_resumable(tmp_path, monkeypatch):
  from spice_jax.utils import metrics as metrics_lib
  real_write = metrics_lib.MetricsWriter.write

  def full(self, step, m):
    if step == 2:
      raise OSError(errno.ENOSPC, f"cannot append metrics to {self.path}: No space left on device")
    return real_write(self, step, m)
  monkeypatch.setattr(metrics_lib.MetricsWriter, "write", full)
  wd = tmp_path / "run"
  with pytest.raises(OSError, match="metrics.jsonl: No space left"):
    train.train(_config(**{"train.iterations": 3}), str(wd))
  steps = sorted(int(s) for s in os.listdir(wd / "checkpoints") if s.isdigit())
  assert steps == [0, 1]                       # nothing half-written is visible
  monkeypatch.setattr(metrics_lib.MetricsWriter, "write", real_write)
  train.train(_config(**{"train.iterations": 3}), str(wd))
  assert [r["step"] for r in _read_jsonl(wd / "metrics.jsonl")] == [1, 2, 3]
