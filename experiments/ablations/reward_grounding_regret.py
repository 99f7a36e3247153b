"""Ablation: SPADE's grounding regret as the Challenger reward (arXiv 2608.19197): the
Reasoner's pass rate with the document in its prompt minus without, floored at 0
(`spice/rewards.py`). Each valid task gets K more Reasoner answers, sampled with the document
and never trained on: the Reasoner's sampling grows by about K answers per valid task.

Launch:  python -m spice_jax.train --config=experiments/ablations/reward_grounding_regret.py:qwen3_4b,v5p-64 \
             --workdir=runs/reward_grounding_regret --config.model.source=/path/to/Qwen3-4B-Base
Cost: the matching paper run plus the grounded Reasoner pass (experiments/README.md).
"""

from experiments import paper


def get_config(arg: str = "qwen3_4b,v5p-64"):
  model, _, hardware = (arg or "qwen3_4b,v5p-64").partition(",")
  c = paper.paper_config(model, hardware or "v5p-64")
  c.spice.challenger_reward = "grounding_regret"
  return c
