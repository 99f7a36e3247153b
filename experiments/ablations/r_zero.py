"""Ablation: R-Zero: two roles, no corpus, majority-vote pseudo-labels, R-Zero reward, invalid -1.

Launch:  python -m spice_jax.train --config=experiments/ablations/r_zero.py:qwen3_4b,v5p-64 \
             --workdir=runs/r_zero --config.model.source=/path/to/Qwen3-4B-Base
Cost: as the matching paper run (experiments/README.md).
"""

from experiments import paper


def get_config(arg: str = "qwen3_4b,v5p-64"):
  model, _, hardware = (arg or "qwen3_4b,v5p-64").partition(",")
  c = paper.paper_config(model, hardware or "v5p-64")
  c.corpus.enabled = False
  c.spice.format_selection = "random"
  c.spice.pseudo_labels = "majority"
  c.spice.challenger_reward = "rzero"
  c.spice.invalid_reward = -1.0
  return c
