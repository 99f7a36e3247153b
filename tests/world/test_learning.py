"""Slow: the world's learning claim and its control, through the experiment's own pipeline.

The claim (issues 11, 23): SPICE self-play raises the Reasoner's greedy accuracy on *unseen
problems* (held-out set "dev": quantity tuples neither role has seen in the warm start or
the corpus; the Reasoner never reads any document) above the committed warm start by more
than the seed-to-seed spread, and the lr=0 control stays exactly where it started. This runs
the `make demo` configuration (the committed warm start, tests/world/warm_start/, checked by
test_warm_start.py; SPICE for 120 iterations, the lr=0 control for 40) without the probe. It asserts on dev, not on test: the length and margin
were chosen on dev, and a failure here must not lead to changes judged on the test set.

Margin, by the rule fixed on 2026-12-06 before any dev number of the widened world was seen:
run the config for seeds 0, 1, 2, take 3 x the std of the dev gain, round up to a whole
point, keep the larger of that and 2.5 points. Measured 2026-12-07 at commit 689265a on the
quiet 2-core VM (238 dev tasks, warm start 58.4 %):
  * 40 iterations (the demo's length): gains +4.2, -2.1, +1.3 points (mean +1.1, std 3.2):
    the rule gives 10 points, which no seed reaches. At 40 iterations the unseen-problem gain
    is within seed noise, so the demo (and this test) runs 120.
  * 120 iterations: gains +3.8, +3.8, +5.0 points (62.2 / 62.2 / 63.4 %; mean +4.2, std 0.73):
    3 x 0.73 = 2.2, rounded up: MIN_GAIN = 3 points. (The renamed training problems, a
    fitting measure, rose +18 / +15 / +21 points over the same runs.)
Re-measured 2026-12-08 at f1eda6f: seed 0's trajectory is unchanged (+3.8), but later code
changed seeds 1 and 2 (+2.1, +6.3; std 2.1), for which the rule would give 7 points, which
seed 0 does not reach. MIN_GAIN stays at the 3 points fixed before, so this test now guards
seed 0's measured gain rather than showing it beyond the current seed spread; the test-set
figures over seeds are in experiments/README.md ("make experiment, 2026-12-08").
The lr=0 control: `make demo` runs it for 40 iterations; here it runs 2 (about a minute
less of the suite). With lr=0 every update is the identity, so every iteration after the
first checks the same thing, and 2 iterations check it exactly (bitwise-equal accuracy on
every held-out set at every checkpoint).
"""

import pytest

MIN_GAIN = 0.03          # 3 points on the 238 dev tasks (see the docstring)
CONTROL_TOLERANCE = 0.0  # lr=0 must leave every checkpoint exactly where it started
ITERATIONS, EVAL_EVERY = 120, 40
DEMO_CONTROL_ITERATIONS, CONTROL_ITERATIONS = 40, 2


@pytest.mark.slow
@pytest.mark.full_compile   # the trajectory `make demo` runs, on which the margin was measured
def test_selfplay_raises_unseen_accuracy_and_the_lr0_control_does_not(tmp_path,
                                                                    restore_cache_config):
  # (experiment.run moves this process's compilation cache into its workdir: put back after)
  from experiments import world_small
  from spice_jax import experiment
  cfg = world_small.experiment_config(demo=True)
  assert cfg.warm_start == world_small.WARM_START
  cfg.probe.seeds = ()
  # The lengths the margin was measured at.
  assert cfg.spice.train.iterations == ITERATIONS
  assert cfg.spice.train.checkpoint_every == EVAL_EVERY
  assert cfg.variants.lr0.to_dict() == {"rl": {"lr": 0.0},
                                        "train": {"iterations": DEMO_CONTROL_ITERATIONS}}
  cfg.variants.lr0.train.iterations = CONTROL_ITERATIONS
  out = experiment.run(cfg, str(tmp_path))
  spice = out["curves"][("spice", 0)]
  lr0 = out["curves"][("lr0", 0)]
  assert sorted(spice) == list(range(0, ITERATIONS + 1, EVAL_EVERY))
  assert sorted(lr0) == [0, CONTROL_ITERATIONS]
  start, end = spice[0]["dev"], spice[ITERATIONS]["dev"]
  assert end - start >= MIN_GAIN, {s: c["dev"] for s, c in spice.items()}
  for held_out in ("dev", "test", "train_renamed"):
    assert all(abs(c[held_out] - lr0[0][held_out]) <= CONTROL_TOLERANCE
               for c in lr0.values()), held_out
  assert lr0[0] == spice[0]               # both runs start from the same warm start
