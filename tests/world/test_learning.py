"""Slow: SPICE self-play raises held-out Reasoner accuracy in the world; lr=0 does not.

Runs the experiment command's own pipeline (`experiment.run`) on the demo config: world ->
warm start -> SPICE (spice and lr0 variants) -> held-out accuracy per checkpoint.
MARGIN is set from the seed-to-seed spread measured with the full experiment (see
benchmarks/README.md, "world experiment"): the gain must clear it, the control must not
move by more than CONTROL_TOL.
"""

import pytest

MARGIN = 0.05        # points of accuracy (fraction); above the measured seed spread
CONTROL_TOL = 0.02


@pytest.mark.slow
def test_spice_improves_heldout_accuracy_and_lr0_does_not(tmp_path):
  from experiments import world_small
  from spice_jax import experiment
  cfg = world_small.experiment_config(demo=True)
  cfg.probe.seeds = ()
  out = experiment.run(cfg, str(tmp_path))
  s, c = out["stats"]["spice"], out["stats"]["lr0"]
  assert s["end"] - s["start"] > MARGIN, out["line"]
  assert abs(c["end"] - c["start"]) <= CONTROL_TOL, out["line"]
