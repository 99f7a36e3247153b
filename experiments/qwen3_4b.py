"""SPICE paper run: qwen3_4b base model, 640 iterations, B=128, G=K=8 (SPEC §6).

Launch (one command per TPU VM worker, or gcloud ... --worker=all --command=...):
  python -m spice_jax.train --config=experiments/qwen3_4b.py:v5p-64 --workdir=gs://bucket/runs/qwen3_4b \
      --config.model.source=/path/to/checkpoint --config.corpus.data_dir=/path/to/corpus
Hardware arg: v5p-64 | v6e-64 | h100x8. Plan (`python -m spice_jax.plan --config=experiments/qwen3_4b.py:<arg>`,
2026-12-07): v5p-64: peak 80.8 GB/chip of 95 (update 9.1 GB of work; bf16 KV pool 35.5 GB, all that 64 slots want), roofline 904 s/iteration; v6e-64: peak 27.2 GB/chip of 32 (update 10.5 GB; KV pool 9.5 GB, 33% of what 64 slots want: preemption makes up the rest), roofline 422 s/iteration.
Compiled by the TPU compiler (`--compile`, libtpu 0.0.42.1, 2026-12-07): v5p-64 peak 80.8 GB/chip of 95 (85 %) with the engine's own pool (30,112 pages; the check took 442 s on a quiet 2-core VM), v6e-64 peak 27.3 GB/chip of 32 (85 %); every program within 15 % of the plan; table in experiments/README.md.
Roofline seconds are the plan's bound with every row decoded and trained at its full length
(no early stops), so 640 iterations take at most ~640x that; `--compile` checks the fit with the
TPU compiler (experiments/README.md).
"""

from experiments import paper


def get_config(hardware: str = "v5p-64"):
  return paper.paper_config("qwen3_4b", hardware or "v5p-64")
