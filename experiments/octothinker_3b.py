"""SPICE paper run: octothinker_3b base model, 640 iterations, B=128, G=K=8 (SPEC §6).

Launch (one command per TPU VM worker, or gcloud ... --worker=all --command=...):
  python -m spice_jax.train --config=experiments/octothinker_3b.py:v5p-64 --workdir=gs://bucket/runs/octothinker_3b \
      --config.model.source=/path/to/checkpoint --config.corpus.data_dir=/path/to/corpus
Hardware arg: v5p-64 | v6e-64 | h100x8. Plan (`python -m spice_jax.plan --config=experiments/octothinker_3b.py:<arg>`,
2026-12-07): v5p-64: peak 69.1 GB/chip of 95 (update 8.4 GB of work; bf16 KV pool 30.1 GB, all that 64 slots want), roofline 659 s/iteration; v6e-64: peak 27.2 GB/chip of 32 (update 9.5 GB; KV pool 10.0 GB, 44% of what 64 slots want), roofline 319 s/iteration.
Compiled by the TPU compiler (`--compile`, libtpu 0.0.42.1, 2026-12-07): v5p-64 peak 46.4 GB/chip with a 21,249-page pool (every program within 7 % of the plan); v6e-64 peak 27.2 GB/chip of 32 with a 10,864-page pool (the gradient planned 19 % above the compiler's 7.99 GB, the rest within 4 %); table in experiments/README.md.
Roofline seconds are the plan's bound with every row decoded and trained at its full length
(no early stops), so 640 iterations take at most ~640x that; `--compile` checks the fit with the
TPU compiler (experiments/README.md).
"""

from experiments import paper


def get_config(hardware: str = "v5p-64"):
  return paper.paper_config("octothinker_3b", hardware or "v5p-64")
