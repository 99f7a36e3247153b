"""Ablation: SPADE's plateau Challenger reward (arXiv 2608.19197): 1 for pass rates in
[0.4, 0.6], falling linearly to 0 at 0.25 outside the band (`spice/rewards.py`).

Launch:  python -m spice_jax.train --config=experiments/ablations/reward_plateau.py:qwen3_4b,v5p-64 \
             --workdir=runs/reward_plateau --config.model.source=/path/to/Qwen3-4B-Base
Cost: as the matching paper run (experiments/README.md).
"""

from experiments import paper


def get_config(arg: str = "qwen3_4b,v5p-64"):
  model, _, hardware = (arg or "qwen3_4b,v5p-64").partition(",")
  c = paper.paper_config(model, hardware or "v5p-64")
  c.spice.challenger_reward = "plateau"
  return c
