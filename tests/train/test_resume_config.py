"""A resume with a changed config: recorded (audit event, earlier config kept) or refused."""
import json
import os
import re

import pytest

from spice_jax import run_config
from spice_jax.utils.configs import ConfigError


def _read_jsonl(path):
  with open(path) as f:
    return [json.loads(l) for l in f]


OLD = {"seed": 0, "model": {"source": "tiny-bpe", "arch": ""},
       "rl": {"lr": 1e-4, "clip_norm": 1.0}, "corpus": {"data_dir": "a", "weights": {}},
       "train": {"iterations": 2}}


def _with(**changes):
  new = json.loads(json.dumps(OLD))
  for dotted, value in changes.items():
    section, key = dotted.split(".")
    new[section][key] = value
  return new


def test_diff_names_every_changed_field():
  new = _with(**{"rl.lr": 5e-5, "train.iterations": 4})
  assert run_config.check_resume(OLD, new) == {"rl.lr": [1e-4, 5e-5],
                                               "train.iterations": [2, 4]}
  assert run_config.check_resume(OLD, OLD) == {}


@pytest.mark.parametrize("field,value", [("model.source", "tiny-llama"),
                                         ("model.arch", "tiny-qwen3"),
                                         ("corpus.data_dir", "b"),
                                         ("corpus.weights", {"wiki": 1.0}),
                                         ("rl.clip_norm", 0.0)])
def test_a_change_the_checkpoint_cannot_honour_is_refused(field, value):
  with pytest.raises(ConfigError, match=rf"^config\.{field}: .*start a new workdir$") as e:
    run_config.check_resume(OLD, _with(**{field: value}))
  assert "\n" not in str(e.value)


def test_a_field_newer_than_the_recorded_config_is_recorded_not_refused():
  old = json.loads(json.dumps(OLD))
  del old["model"]["arch"], old["rl"]["clip_norm"]
  assert run_config.check_resume(old, OLD) == {"model.arch": [None, ""],
                                               "rl.clip_norm": [None, 1.0]}


def test_clip_norm_value_may_change_while_clipping_stays_on():
  assert run_config.check_resume(OLD, _with(**{"rl.clip_norm": 0.5})) == {
      "rl.clip_norm": [1.0, 0.5]}


def test_the_same_directory_spelled_differently_is_no_change(tmp_path, monkeypatch):
  (tmp_path / "corpus").mkdir()
  monkeypatch.chdir(tmp_path)
  old = _with(**{"corpus.data_dir": "corpus"})
  new = _with(**{"corpus.data_dir": str(tmp_path / "corpus")})
  assert list(run_config.check_resume(old, new)) == ["corpus.data_dir"]  # recorded, allowed


ABSL_INFO = re.compile(r"^I\d{4} ", re.M)     # an absl INFO line: I1206 21:30:00.123 ...


@pytest.mark.slow
def test_resume_with_changed_config_records_it_and_refuses_the_model(tmp_path, run_train,
                                                                     trainer_cmd):
  wd = tmp_path / "run"
  # The workdir as a user types it: relative to where the command runs.
  p = run_train(os.path.relpath(wd, trainer_cmd[2]), "--config.train.iterations=1")
  # The terminal is ours: no library INFO (155 lines for this run before), the summary is
  # there; the INFO lines are in the run's log file.
  assert ABSL_INFO.findall(p.stdout + p.stderr) == []
  assert "| iter |" in p.stdout and f"log           : {wd / 'log.txt'}" in p.stdout
  log = (wd / "log.txt").read_text()
  assert len(ABSL_INFO.findall(log)) > 20 and "iteration 1/1: valid" in log
  first = json.loads((wd / "config.json").read_text())
  p = run_train(wd, "--config.train.iterations=2", "--config.rl.lr=5e-5")
  # Warnings still reach the terminal (and the log).
  assert "config changed at the resume from iteration 1: rl.lr, train.iterations" in p.stderr
  assert ABSL_INFO.findall(p.stdout + p.stderr) == []
  # The earlier config is kept under the step the resume started from; config.json is new.
  assert json.loads((wd / "config.1.json").read_text()) == first
  now = json.loads((wd / "config.json").read_text())
  assert now["rl"]["lr"] == 5e-5 and now["train"]["iterations"] == 2
  events = _read_jsonl(wd / "audit" / "events.jsonl")
  assert [e["event"] for e in events] == ["config_changed", "resume"]
  assert events[0]["step"] == 1 and events[0]["previous"] == str(wd / "config.1.json")
  assert events[0]["changes"] == {"rl.lr": [1e-4, 5e-5], "train.iterations": [1, 2]}
  assert [r["step"] for r in _read_jsonl(wd / "metrics.jsonl")] == [1, 2]

  # An unchanged resume (the run is finished) records nothing more.
  run_train(wd, "--config.train.iterations=2", "--config.rl.lr=5e-5")
  assert len(_read_jsonl(wd / "audit" / "events.jsonl")) == 3      # one more "resume"
  assert sorted(p.name for p in wd.glob("config*.json")) == ["config.1.json", "config.json"]

  p = run_train(wd, "--config.train.iterations=3", "--config.model.source=tiny-llama",
                check=False)
  assert p.returncode == 2
  assert len(p.stderr.strip().splitlines()) == 1, p.stderr[-2000:]   # one line, nothing else
  assert p.stderr.startswith("error: config.model.source: 'tiny-llama' differs from "
                             "'tiny-bpe'"), p.stderr[-2000:]
  assert json.loads((wd / "config.json").read_text()) == now       # nothing rewritten
  assert sorted(int(s.name) for s in (wd / "checkpoints").iterdir()
                if s.name.isdigit()) == [0, 1, 2]
