"""The world report's headline: test-set accuracy on unseen problems, in the exact line
`make demo` ends with; dev and train_renamed only on lines that say so."""

import json
import os
import re

import pytest

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


def test_ladder_report_has_depths_curriculum_and_hypotheses(tmp_path):
  """max_depth > 0: per-depth accuracy, the curriculum from each run's curriculum.jsonl and
  the pre-registered outcomes (in report.md and summary.json)."""
  def curve(start, end, d3_end):
    c = {0: {"test": start, "dev": start, "train_renamed": start},
         40: {"test": end, "dev": end, "train_renamed": end}}
    for k in (1, 2, 3):
      c[0][f"test_d{k}"] = c[0][f"dev_d{k}"] = start
      c[40][f"test_d{k}"] = c[40][f"dev_d{k}"] = d3_end if k == 3 else end
    return c

  curves, runs = {}, {}
  for seed, (g, depth) in enumerate([(0.10, 1.0), (0.12, 1.2), (0.11, 0.8)]):
    curves[("spice", seed)] = curve(0.3, 0.3 + g, 0.9)
    curves[("fixed_challenger", seed)] = curve(0.3, 0.3 + g / 2, 0.3)
    for name, shift in (("spice", depth), ("fixed_challenger", 0.0)):
      d = tmp_path / f"{name}_s{seed}"
      d.mkdir()
      with open(d / "curriculum.jsonl", "w") as f:
        for s in range(1, 41):
          f.write(json.dumps({"step": s, "curriculum/mean_depth": 2.0 + shift * (s > 30),
                              "curriculum/depth_unknown": 0.1,
                              "curriculum/pass_rate_d1": 0.9}) + "\n")
      runs[(name, seed)] = str(d)
  out = report.write(str(tmp_path), curves=curves, runs=runs, probes={}, times={},
                     n_items=10, max_depth=3)
  md = open(os.path.join(tmp_path, "report.md")).read()
  assert "30.0 ± 0.0 → 90.0 ± 0.0 (60.0 ± 0.0)" in md           # spice's depth-3 cell
  assert "| spice | 2.00 | 3.00 | +1.00 ± 0.12 | 0.10 | 0.90 | nan | nan |" in md
  h = {(o["name"], o["statement"]): o["verdict"] for o in out["hypotheses"]["test"]}
  assert h[("H1", "spice's gain exceeds fixed_challenger's")] == "holds"
  assert h[("H2", "H2a and H2b")] == "holds"
  for pic in ("curriculum_depth.png", "curriculum_spice.png", "curriculum_fixed_challenger.png"):
    assert os.path.getsize(tmp_path / pic) > 0 and f"![{pic}]({pic})" in md


def test_seed_mean_averages_each_key_per_step_over_the_seeds_that_have_it():
  a = [{"step": 1, "x": 1.0, "y": float("nan")}, {"step": 2, "x": 3.0}]
  b = [{"step": 2, "x": 5.0, "y": 2.0}, {"step": 1, "x": 2.0, "y": 4.0}]
  assert report.seed_mean([a, b]) == [{"step": 1, "x": 1.5, "y": 4.0},
                                      {"step": 2, "x": 4.0, "y": 2.0}]


def test_a_world_names_its_own_sets(tmp_path):
  """`sets=` (the ladder's): every named set gets its tables and stats; a set without
  per-depth keys shows "-" there, never 0; test, dev and train_renamed are required."""
  from spice_jax.data import ladder
  def curve(unseen, facts):
    out = {}
    for step, u in ((0, unseen[0]), (40, unseen[1])):
      out[step] = {"test": u, "dev": u, "train_renamed": u, "test_facts": facts,
                   "dev_facts": facts, "train_renamed_facts": facts}
      for s in ("test", "dev", "train_renamed"):
        out[step].update({f"{s}_d1": facts, f"{s}_d2": u})
    return out

  curves = {("spice", 0): curve((0.2, 0.3), 0.9), ("lr0", 0): curve((0.2, 0.2), 0.9)}
  out = report.write(str(tmp_path), curves=curves, runs={}, probes={}, times={}, n_items=10,
                     sets=ladder.SETS)
  assert set(out["stats"]) == set(ladder.SETS)
  assert out["stats"]["dev_facts"]["spice"]["end"] == 0.9
  assert out["line"] == ("held-out reasoner accuracy on unseen problems: 20.0% -> 30.0% "
                         "(lr=0 control: 20.0%)")
  md = open(os.path.join(tmp_path, "report.md")).read()
  assert "## Held-out Reasoner accuracy, set test_facts" in md
  assert f"- **dev_facts**: {ladder.SETS['dev_facts']}" in md
  assert "| spice | 1 | 90.0 | 90.0 | 0.0 | - | - |" in md       # facts: no per-depth keys
  assert "| spice | 1 | 20.0 | 30.0 | 10.0 | 90.0 | 30.0 |" in md  # test: d1 = facts, d2
  with pytest.raises(ValueError, match="lack"):
    report.write(str(tmp_path), curves=curves, runs={}, probes={}, times={}, n_items=10,
                 sets={"test": "x", "dev": "y"})
