"""The pre-registered two-SE rule (`eval.decision`) against hand-computed values."""

import math

import pytest

from spice_jax.eval import decision


def test_compare_uses_sample_variances_over_each_group():
  # a: mean 2, sample var ((1)^2 + 0 + 1^2) / 2 = 1; b: mean 0, sample var 1.
  c = decision.compare([1.0, 2.0, 3.0], [-1.0, 0.0, 1.0])
  assert c.diff == pytest.approx(2.0)
  assert c.se == pytest.approx(math.sqrt(1 / 3 + 1 / 3))   # 0.816: 2.0 > 1.63 -> holds
  assert c.verdict == decision.HOLDS
  assert decision.compare([-1.0, 0.0, 1.0], [1.0, 2.0, 3.0]).verdict == decision.REVERSED
  # diff 1.0 < 2 SE = 1.63: not separated
  assert decision.compare([0.0, 1.0, 2.0], [-1.0, 0.0, 1.0]).verdict == decision.NOT_SEPARATED


def test_paired_is_a_one_sample_test_of_the_mean_difference():
  c = decision.paired([0.5, 0.7, 0.6, 0.4, 0.8])   # mean 0.6, s = sqrt(0.025) = 0.158
  assert c.diff == pytest.approx(0.6)
  assert c.se == pytest.approx(math.sqrt(0.025 / 5))
  assert c.verdict == decision.HOLDS
  assert decision.paired([0.3, -0.3, 0.1, -0.1]).verdict == decision.NOT_SEPARATED


def test_depth_shift_is_last_ten_minus_first_ten_iterations():
  recs = [{"step": s, "curriculum/mean_depth": 1.0 + (s > 30)} for s in range(40, 0, -1)]
  recs[5].pop("curriculum/mean_depth")              # an iteration without known depths
  assert decision.depth_shift(recs) == pytest.approx(1.0)
  assert math.isnan(decision.depth_shift([]))


def test_hypotheses_follow_the_preregistered_rule():
  gains = {"spice": [0.10, 0.12, 0.11], "fixed_challenger": [0.05, 0.06, 0.04],
           "rzero": [0.11, 0.10, 0.12], "threshold": [0.02, 0.03, 0.01],
           "absolute_zero": [0.02, 0.01, 0.03], "plateau": [0.20, 0.21, 0.19],
           "lr0": [0.002, -0.004, 0.0]}
  shifts = {"spice": [0.8, 1.0, 0.9], "fixed_challenger": [0.1, -0.1, 0.0]}
  out = {(o.name, o.statement): o.verdict for o in decision.hypotheses(gains, shifts)}
  assert out[("H1", "spice's gain exceeds fixed_challenger's")] == decision.HOLDS
  assert out[("H2", "H2a and H2b")] == decision.HOLDS
  assert out[("H3", "spice > rzero")] == decision.NOT_SEPARATED
  assert out[("H3", "rzero > threshold")] == decision.HOLDS
  assert out[("H3", "threshold > absolute_zero")] == decision.NOT_SEPARATED
  assert out[("H3 placement", "plateau > spice")] == decision.HOLDS
  assert ("H3 placement", "grounding_regret > spice") not in out   # variant absent
  assert out[("sanity", "lr0's mean gain within 1 point of 0")] == decision.HOLDS
  # The fixed Challenger's depth moving too breaks H2.
  shifts["fixed_challenger"] = [0.8, 0.9, 1.0]
  out = {(o.name, o.statement): o.verdict for o in decision.hypotheses(gains, shifts)}
  assert out[("H2", "H2a and H2b")] == "does not hold"
  assert "| H1 |" in decision.to_markdown(decision.hypotheses(gains, shifts))
