"""Ablation: Challenger reward 1-2|p-0.5| with p the pass rate against the gold answer (R-Zero).

Launch:  python -m spice_jax.train --config=experiments/ablations/reward_rzero.py:qwen3_4b,v5p-64 \
             --workdir=runs/reward_rzero --config.model.source=/path/to/Qwen3-4B-Base
Cost: as the matching paper run (experiments/README.md).
"""

from experiments import paper


def get_config(arg: str = "qwen3_4b,v5p-64"):
  model, _, hardware = (arg or "qwen3_4b,v5p-64").partition(",")
  c = paper.paper_config(model, hardware or "v5p-64")
  c.spice.challenger_reward = "rzero"
  return c
