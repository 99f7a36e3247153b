"""SPICE paper run: octothinker_8b base model, 640 iterations, B=128, G=K=8 (SPEC §6).

Launch (one command per TPU VM worker, or gcloud ... --worker=all --command=...):
  python -m spice_jax.train --config=experiments/octothinker_8b.py:v5p-64 --workdir=gs://bucket/runs/octothinker_8b \
      --config.model.source=/path/to/checkpoint --config.corpus.data_dir=/path/to/corpus
Hardware arg: v5p-64 | v6e-64 | h100x8. Plan (`python -m spice_jax.plan --config=experiments/octothinker_8b.py:<arg>`,
2026-12-07): v5p-64: peak 80.8 GB/chip of 95 (update 13.7 GB of work; bf16 KV pool 32.8 GB, all that 64 slots want), roofline 1150 s/iteration; h100x8: peak 54.6 GB/GPU of 80 (KV pool 34.4 GB, all wanted), roofline 2715 s/iteration.
Compiled by the TPU compiler (`--compile`, libtpu 0.0.42.1, 2026-12-07): v5p-64 peak 80.8 GB/chip of 95 (85 %) with the engine's own pool sizing (31,280 pages); the update pre-pass is planned at 0.78x the compiler's bytes, every other program within 4 %; table in experiments/README.md.
Roofline seconds are the plan's bound with every row decoded and trained at its full length
(no early stops), so 640 iterations take at most ~640x that; `--compile` checks the fit with the
TPU compiler (experiments/README.md).
"""

from experiments import paper


def get_config(hardware: str = "v5p-64"):
  return paper.paper_config("octothinker_8b", hardware or "v5p-64")
