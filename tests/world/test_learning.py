"""Slow: the world's learning claim and its control, through the experiment's own pipeline.

The claim (issues 11, 23): SPICE self-play raises the Reasoner's greedy accuracy on *unseen
problems* (held-out set "dev": quantity tuples neither role has seen in the warm start or
the corpus; the Reasoner never reads any document) above the committed warm start by more
than the seed-to-seed spread, and the lr=0 control stays exactly where it started. This runs
the `make demo` configuration (the committed warm start, tests/world/warm_start/, checked by
test_warm_start.py; SPICE and lr=0 for 40 iterations) without the probe.

It asserts on dev, not on test: the margin below was chosen on dev, and a failure here must
not lead to changes judged on the test set, which is only reported.

Margin (fixed 2026-12-06 22:35 UTC, before any dev number of the widened world was seen):
MIN_GAIN is 2.5 points (6 of the 238 dev tasks), above the one seed-to-seed spread measured
so far: a std of 2.0 points over seeds 0-2 of the gain on the old world's unseen set "new"
(108 tasks; +7.4 +- 2.0 points in the last `make experiment`, as issue 23 quotes it). The
spread on the widened world's dev set was not measured in that session (2 shared cores at
load ~18: the new warm start alone took 60 min);
the rule to re-derive it: run the demo config for seeds 0, 1, 2 (`experiment.run` with
cfg.seeds=(0, 1, 2)), take 3 x the std of the dev gain at iteration 40, rounded up to a whole
point, and keep the larger of that and 2.5 points.

Cost: the committed warm start replaces the 2000-step warm start that this test used to
train (6 of its 15 minutes on a quiet machine; 60 minutes at load 18).
"""

import pytest

MIN_GAIN = 0.025         # 2.5 points on the 238 dev tasks (see the docstring)
CONTROL_TOLERANCE = 0.0  # lr=0 must leave every checkpoint exactly where it started


@pytest.mark.slow
def test_selfplay_raises_unseen_accuracy_and_the_lr0_control_does_not(tmp_path):
  from experiments import world_small
  from spice_jax import experiment
  cfg = world_small.experiment_config(demo=True)
  assert cfg.warm_start == world_small.WARM_START
  cfg.probe.seeds = ()
  out = experiment.run(cfg, str(tmp_path))
  spice = out["curves"][("spice", 0)]
  lr0 = out["curves"][("lr0", 0)]
  start, end = spice[min(spice)]["dev"], spice[max(spice)]["dev"]
  assert end - start >= MIN_GAIN, {s: c["dev"] for s, c in spice.items()}
  for held_out in ("dev", "test", "train_renamed"):
    assert all(abs(c[held_out] - lr0[0][held_out]) <= CONTROL_TOLERANCE
               for c in lr0.values()), held_out
  assert lr0[0] == spice[min(spice)]      # both runs start from the same warm start
