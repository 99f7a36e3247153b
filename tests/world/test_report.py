"""The world report's headline: test-set accuracy on unseen problems, in the exact line
`make demo` ends with; dev and train_renamed only on lines that say so."""

import json
import os
import re

from spice_jax import report


def _curve(start: dict, end: dict) -> dict:
  out = {}
  for step, acc in ((0, start), (40, end)):
    out[step] = dict(acc)
    for k, v in acc.items():
      out[step][f"{k}_d1"] = out[step][f"{k}_d2"] = v
  return out


def test_summary_ends_with_the_test_set_headline(tmp_path):
  curves = {
      ("spice", 0): _curve({"test": 0.40, "dev": 0.41, "train_renamed": 0.6},
                           {"test": 0.48, "dev": 0.47, "train_renamed": 0.7}),
      ("spice", 1): _curve({"test": 0.40, "dev": 0.41, "train_renamed": 0.6},
                           {"test": 0.46, "dev": 0.45, "train_renamed": 0.8}),
      ("lr0", 0): _curve({"test": 0.40, "dev": 0.41, "train_renamed": 0.6},
                         {"test": 0.40, "dev": 0.41, "train_renamed": 0.6}),
  }
  out = report.write(str(tmp_path), curves=curves, runs={}, probes={}, times={"total": 1.0},
                     n_items=574)
  assert out["lines"][-1] == out["line"] == (
      "held-out reasoner accuracy on unseen problems: 40.0% -> 47.0% (lr=0 control: 40.0%)")
  rx = r"held-out reasoner accuracy on unseen problems: \d+\.\d% -> \d+\.\d% " \
       r"\(lr=0 control: \d+\.\d%\)"
  assert re.fullmatch(rx, out["line"])
  assert out["lines"][:-1] == [
      "held-out reasoner accuracy on the training problems renamed: 60.0% -> 75.0% "
      "(lr=0 control: 60.0%)",
      "held-out reasoner accuracy on unseen problems, dev set: 41.0% -> 46.0% "
      "(lr=0 control: 41.0%)"]
  stats = json.load(open(os.path.join(tmp_path, "summary.json")))["stats"]
  assert abs(stats["test"]["spice"]["gain"] - 0.07) < 1e-9
  assert abs(stats["test"]["spice"]["gain_std"] - 0.01) < 1e-9   # population std of 8, 6
  md = open(os.path.join(tmp_path, "report.md")).read()
  assert md.index("set test") < md.index("set dev") < md.index("set train_renamed")
  assert os.path.exists(os.path.join(tmp_path, "accuracy.png"))


def test_provenance_names_the_commit_that_runs():
  """The accuracy plot's title: the commit of this checkout (as git reports it, checked
  independently here) and today's UTC date."""
  import datetime
  import subprocess
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                        capture_output=True, text=True).stdout.strip()
  text = report.provenance()
  assert text.startswith(f"spice_jax {head or 'unknown'}")
  assert text.endswith(datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"))
