"""The trainer end to end: artefacts of a run, kill-and-resume, broken configs."""
import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest


# SPEC §9: what every iteration must log.
SPEC9_FIELDS = [
    "challenger/reward_mean", "reasoner/reward_mean",
    "challenger/adv_mean", "challenger/adv_std", "reasoner/adv_mean", "reasoner/adv_std",
    "challenger/response_len_mean", "challenger/response_len_max", "challenger/truncated_frac",
    "reasoner/response_len_mean", "reasoner/response_len_max", "reasoner/truncated_frac",
    "challenger/clip_frac", "reasoner/clip_frac", "challenger/entropy", "reasoner/entropy",
    "challenger/valid_rate", "challenger/attempts_per_doc_mean", "challenger/format_mcq",
    "challenger/format_free_form", "challenger/answer_type_integer",
    "challenger/pass_rate_hist", "challenger/zero_variance_frac", "reasoner/accuracy",
    "throughput/sample_tokens_per_s_challenger", "throughput/sample_tokens_per_s_reasoner",
    "throughput/update_tokens_per_s", "time/sample_challenger", "time/sample_reasoner",
    "time/verify", "time/update", "throughput/mfu", "loss", "grad_norm", "lr",
]
TIMING = ("time/", "throughput/")


def _read_jsonl(path):
  with open(path) as f:
    return [json.loads(l) for l in f]


def _strip_timing(rec):
  return {k: v for k, v in rec.items() if not k.startswith(TIMING)}


@pytest.mark.slow
# tiny_test's 1,024-token BPE, and SmolLM2's real 49k tokenizer and chat template (the
# trainer's one end-to-end run on a production vocabulary).
@pytest.mark.parametrize("source", ["tiny-bpe", "tiny-smollm2"])
def test_two_iterations_write_every_artefact(tmp_path, run_train, source):
  wd = tmp_path / "run"
  p = run_train(wd, "--config.rl.micro_rows=2", f"--config.model.source={source}")
  assert "checkpoints" in p.stdout and "| iter |" in p.stdout
  recs = _read_jsonl(wd / "metrics.jsonl")
  assert [r["step"] for r in recs] == [1, 2]
  for r in recs:   # rl.micro_rows=2 on one device: every micro-batch has two rows
    if not r["update/skipped"]:
      assert r["batch/rows"] == 2 * r["batch/micro_batches"] >= r["batch/real_rows"]
  missing = [f for f in SPEC9_FIELDS if f not in recs[-1]]
  assert not missing, missing
  # Step 0 is the initial model (the first good checkpoint a rollback can return to).
  assert sorted(int(s) for s in os.listdir(wd / "checkpoints") if s.isdigit()) == [0, 1, 2]
  with open(wd / "checkpoints" / "good_steps.json") as f:
    assert json.load(f) == [0, 1, 2]
  tasks = _read_jsonl(wd / "audit" / "tasks.jsonl")
  # tiny_test: 2 docs x G=2 kept Challenger trajectories per iteration.
  assert len(tasks) == 2 * 2 * 2
  for t in tasks:
    assert t["doc_id"] is not None and t["template_version"] and "reason" in t
  assert (wd / "plots" / "curves.png").stat().st_size > 1000
  assert any(f.startswith("events") for f in os.listdir(wd / "tensorboard"))


def test_missing_model_path_fails_before_heavy_work(tmp_path, run_train):
  t = time.time()
  p = run_train(tmp_path / "x", "--config.model.source=/nonexistent/Qwen3-4B-Base",
                check=False)
  assert p.returncode != 0
  assert "config.model.source" in p.stderr and "/nonexistent/Qwen3-4B-Base" in p.stderr
  assert not (tmp_path / "x" / "checkpoints").exists()


def test_unknown_key_and_wrong_type_name_the_field(tmp_path, run_train):
  p = run_train(tmp_path / "x", "--config.spice.no_such_knob=3", check=False)
  assert p.returncode != 0 and "no_such_knob" in p.stderr
  p = run_train(tmp_path / "x", "--config.spice.num_docs=lots", check=False)
  assert p.returncode != 0 and "num_docs" in p.stderr


def test_validate_names_fields():
  from experiments import tiny_test
  from spice_jax import train
  bad = {
      "spice.challenger_reward": ("spice.challenger_reward", "bogus"),
      "spice.formats": ("spice.formats", ("essay",)),
      "rl.advantage": ("rl.advantage", "ppo_gae"),
      "corpus.data_dir": ("corpus.build_demo", False),
      "spice.train_challenger": ("spice.challenger", "initial"),
  }
  for expect, (field, value) in bad.items():
    c = tiny_test.get_config()
    section, key = field.split(".")
    setattr(c[section], key, value)
    with pytest.raises(train.ConfigError, match=expect.replace(".", r"\.")):
      train.validate(c)


@pytest.mark.slow
def test_iteration_without_trainable_trajectory_skips_the_update(tmp_path, run_train):
  """A frozen Challenger whose tasks are all invalid leaves nothing to train: the run logs
  it, skips the update, keeps the params and goes on (it used to die in make_batch)."""
  wd = tmp_path / "run"
  run_train(wd, "--config.spice.challenger=initial", "--config.spice.train_challenger=False")
  recs = _read_jsonl(wd / "metrics.jsonl")
  assert [r["step"] for r in recs] == [1, 2]
  assert all(r["update/skipped"] == 1.0 and r["reasoner/accuracy"] == 0.0 for r in recs)
  events = _read_jsonl(wd / "audit" / "events.jsonl")
  assert [e["step"] for e in events if e["event"] == "update_skipped"] == [1, 2]
