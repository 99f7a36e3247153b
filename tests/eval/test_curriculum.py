"""Curriculum metrics against hand-computed values; the audit path; the plot."""

import json
import math
import os

import pytest

from spice_jax.data import ladder
from spice_jax.eval import curriculum

# Two hand-written documents (values 12, 24, 21 and 6, 3, 9).
DOC_A = ladder.LadderDoc("a", 5, ("+", "*", "-"), (7, 2, 3), "Ana", "pens")
DOC_B = ladder.LadderDoc("b", 2, ("*", "-", "*"), (3, 3, 3), "Ben", "cards")


def test_metrics_hand_computed():
  T = curriculum.Task
  tasks = [T(DOC_A.text, "12", 1.0),     # d1
           T(DOC_B.text, "6", 0.75),     # d1
           T(DOC_A.text, "24", 0.5),     # d2
           T(DOC_B.text, "9", 0.0),      # d3
           T(DOC_A.text, "21", 0.25),    # d3
           T(DOC_A.text, "13", 0.125)]   # no result: unknown
  m = curriculum.metrics(tasks, ladder.depth_of, max_depth=4)
  assert m["curriculum/num_tasks"] == 6
  assert m["curriculum/depth_share_d1"] == pytest.approx(2 / 6)
  assert m["curriculum/depth_share_d2"] == pytest.approx(1 / 6)
  assert m["curriculum/depth_share_d3"] == pytest.approx(2 / 6)
  assert m["curriculum/depth_share_d4"] == 0.0
  assert m["curriculum/depth_unknown"] == pytest.approx(1 / 6)
  assert m["curriculum/pass_rate_d1"] == pytest.approx(0.875)
  assert m["curriculum/pass_rate_d2"] == pytest.approx(0.5)
  assert m["curriculum/pass_rate_d3"] == pytest.approx(0.125)
  assert "curriculum/pass_rate_d4" not in m                    # no task at depth 4
  assert m["curriculum/mean_depth"] == pytest.approx((1 + 1 + 2 + 3 + 3) / 5)
  # the same with documents as objects
  objs = [curriculum.Task(DOC_A if t.doc == DOC_A.text else DOC_B, t.gold, t.pass_rate)
          for t in tasks]
  assert curriculum.metrics(objs, ladder.depth_of, 4) == m
  empty = curriculum.metrics([], ladder.depth_of, 2)
  assert empty == {"curriculum/num_tasks": 0.0, "curriculum/depth_unknown": 0.0,
                   "curriculum/depth_share_d1": 0.0, "curriculum/depth_share_d2": 0.0}
  with pytest.raises(ValueError, match="max_depth"):
    curriculum.metrics(tasks, ladder.depth_of, 0)


def test_from_audit_and_plot(tmp_path):
  recs = [  # audit records: valid with a pass rate count; invalid, unknown docs skipped
      dict(step=1, doc_id="a", valid=True, gold="12", pass_rate=1.0),
      dict(step=1, doc_id="b", valid=True, gold="3", pass_rate=0.5),
      dict(step=1, doc_id="b", valid=False, gold="3"),
      dict(step=1, doc_id="zzz", valid=True, gold="3", pass_rate=0.5),
      dict(step=2, doc_id="a", valid=True, gold="21", pass_rate=0.25),
  ]
  path = tmp_path / "tasks.jsonl"
  path.write_text("".join(json.dumps(r) + "\n" for r in recs))
  out = curriculum.from_audit(str(path), {"a": DOC_A, "b": DOC_B}, ladder.depth_of, 3)
  assert [r["step"] for r in out] == [1, 2]
  assert out[0]["curriculum/num_tasks"] == 2
  assert out[0]["curriculum/depth_share_d1"] == 0.5 and out[0]["curriculum/depth_share_d2"] == 0.5
  assert out[0]["curriculum/pass_rate_d2"] == 0.5 and out[0]["curriculum/mean_depth"] == 1.5
  assert out[1]["curriculum/depth_share_d3"] == 1.0 and out[1]["curriculum/pass_rate_d3"] == 0.25
  metrics_path = curriculum.write_jsonl(out + [{"step": 3, "loss": 1.0}],
                                        str(tmp_path / "metrics.jsonl"))
  png = curriculum.plot(metrics_path, str(tmp_path / "plots" / "curriculum.png"), window=2)
  assert os.path.getsize(png) > 1000
  with open(png, "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  assert os.path.getsize(curriculum.plot([], str(tmp_path / "empty.png"))) > 0


def test_smooth_skips_missing_values():
  xs = curriculum.smooth([1.0, float("nan"), 3.0, 5.0], 2)
  assert xs[0] == 1.0 and xs[1] == 1.0 and xs[2] == 3.0 and xs[3] == 4.0
  assert math.isnan(curriculum.smooth([float("nan")], 3)[0])
