r"""The update step: padded vs length-bucketed layout, and throughput vs the matmul peak.

Two workloads, each with its reference measured in the same run:

* `demo` (default): the CPU demo's shape (experiments/demo_cpu.py): SmolLM2-135M (random
  init), 2 documents of <= 128 tokens from the bundled demo corpus, G = 2 Challenger rows per
  document (the compact Challenger prompt, rendered with the model's chat template), K = 4
  Reasoner rows for each of 2 tasks (question = the document's opening sentences), 80-token
  generation cap, minibatch 4. The same trajectories are laid out twice: `padded` (every row
  padded to the batch's longest bucket, one micro-batch per minibatch: the layout before
  length bucketing), `bucketed` (make_batch's default: power-of-two lengths) and
  `geometric` (lengths 2^k and 1.5 x 2^k: make_batch(geometric=True)). Prints each layout's padded
  fraction, compile + first call, and the median update time (calls alternate between the
  layouts, so load drift hits both), wall and process CPU seconds, and the ratio.
* `throughput`: `--rows` trajectories of exactly `--seq` tokens (half prompt, half
  completion); tokens/s and achieved FLOP/s as a share of a square jnp.dot's FLOP/s.

Run (CPU):  .venv/bin/python benchmarks/update.py                       # demo, ~10 min
            .venv/bin/python benchmarks/update.py --workload=throughput  # ~3 min
"""

from __future__ import annotations

import gzip
import json
import os
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from spice_jax import models, parallel  # noqa: E402
from spice_jax.models import model as model_lib  # noqa: E402
from spice_jax.rl import loss as loss_lib  # noqa: E402
from spice_jax.rl import state as state_lib  # noqa: E402
from spice_jax.rl import update as update_lib  # noqa: E402
from spice_jax.spice import batch as batch_lib  # noqa: E402
from spice_jax.spice import prompts  # noqa: E402

_WORKLOAD = flags.DEFINE_enum("workload", "demo", ["demo", "throughput"], "what to measure")
_PRESET = flags.DEFINE_string("preset", "smollm2-135m-instruct", "model shape (random init)")
_DTYPE = flags.DEFINE_enum("dtype", "float32", ["float32", "bfloat16"], "compute dtype")
_REMAT = flags.DEFINE_bool("remat", True, "per-layer remat")
_STEPS = flags.DEFINE_integer("steps", 1, "timed update calls per layout (after a warm-up)")
_SEED = flags.DEFINE_integer("seed", 0, "demo: completion lengths and token ids")
_SEQ = flags.DEFINE_integer("seq", 512, "throughput: tokens per trajectory")
_ROWS = flags.DEFINE_integer("rows", 8, "throughput: trajectories per update")
_MB = flags.DEFINE_integer("minibatch", 8, "throughput: rows per optimizer step")
_MATMUL_N = flags.DEFINE_list("matmul_n", ["512", "1024", "2048"],
                              "throughput: square matmul sizes for the peak (best is used)")

NORMS = {"challenger": 80.0, "reasoner": 80.0}
CORPUS = os.path.join(os.path.dirname(batch_lib.__file__), "..", "data", "demo_corpus")


def demo_trajs(tok, vocab: int, seed: int) -> list[batch_lib.Trajectory]:
  """One demo iteration's trajectories: real prompt lengths, random completion tokens."""
  rng = np.random.default_rng(seed)
  with gzip.open(os.path.join(CORPUS, "physics.jsonl.gz"), "rt") as f:
    texts = [json.loads(line)["text"] for _, line in zip(range(2), f)]
  out = []
  for d, text in enumerate(texts):
    doc = tok.decode(tok.encode(text)[:128])
    for g, fmt in enumerate(("mcq", "free_form")):  # G = 2 kept Challenger attempts
      p = prompts.render(tok, prompts.challenger_messages(doc, fmt, "compact"), "chat")
      c = rng.integers(3, vocab, int(rng.integers(60, 81)))
      out.append(batch_lib.Trajectory(p, list(c), "challenger", group_id=d,
                                      advantage=float(rng.normal())))
    question = " ".join(text.split("\n\n")[1].split(". ")[:2]) + ". What follows?"
    p = prompts.render(tok, prompts.reasoner_messages(question, "free_form"), "chat")
    for k in range(4):  # K = 4 answers to the document's task
      c = rng.integers(3, vocab, int(rng.integers(40, 81)))
      out.append(batch_lib.Trajectory(p, list(c), "reasoner", group_id=2 + d,
                                      advantage=float(rng.normal())))
  return out


def timed(update, st, batch):
  t, c = time.perf_counter(), time.process_time()
  st, m = update(st, batch)
  jax.block_until_ready((st, m))
  return st, m, time.perf_counter() - t, time.process_time() - c


def run_demo(cfg, mesh, optim, update):
  _, tok = model_lib.describe("smollm2-135m-instruct")
  trajs = demo_trajs(tok, cfg.vocab_size, _SEED.value)
  need = max(len(t.prompt_tokens) + len(t.completion_tokens) - 1 for t in trajs)
  mb = 4  # experiments/demo_cpu.py: rl.minibatch_size
  layouts = {
      "padded": batch_lib.make_batch(trajs, role_norms=NORMS, minibatch_size=mb, micro_rows=mb,
                                     length_buckets=[batch_lib.bucket_length(need)]),
      "bucketed": batch_lib.make_batch(trajs, role_norms=NORMS, minibatch_size=mb),
      "geometric": batch_lib.make_batch(trajs, role_norms=NORMS, minibatch_size=mb,
                                        geometric=True),
  }
  print(f"demo batch: {len(trajs)} trajectories, lengths "
        f"{sorted(len(t.prompt_tokens) + len(t.completion_tokens) for t in trajs)}")
  st = state_lib.create(models.init_params(cfg, mesh, 0), optim)
  wall, cpu = {k: [] for k in layouts}, {k: [] for k in layouts}
  for name, batch in layouts.items():
    s = batch_lib.batch_summary(batch)
    st, _, w, _ = timed(update, st, batch)
    shapes = sorted({tuple(np.shape(m["tokens"])) for m in batch.micro})
    print(f"{name:9s}: {int(s['micro_batches'])} micro-batches of shapes {shapes}; "
          f"{int(s['positions'])} positions computed for {int(s['real_positions'])} real: "
          f"padded fraction {s['padded_fraction']:.1%}; compile + first call {w:.1f}s")
  for _ in range(_STEPS.value):
    for name, batch in layouts.items():
      st, m, w, c = timed(update, st, batch)
      wall[name].append(w)
      cpu[name].append(c)
  med = {k: (float(np.median(wall[k])), float(np.median(cpu[k]))) for k in layouts}
  for k, (w, c) in med.items():
    print(f"{k:9s}: update {w:.2f}s wall, {c:.2f} CPU-s (median of {_STEPS.value}; wall "
          f"{[round(x, 2) for x in wall[k]]})")
  pw, pc = med["padded"]
  for k in ("bucketed", "geometric"):
    print(f"{k} / padded: wall {med[k][0] / pw:.2f}, CPU-s {med[k][1] / pc:.2f}")


def matmul_peak(sizes, dtype) -> float:
  """Best FLOP/s over sizes x a few runs of an [n, n] @ [n, n] jnp.dot."""
  best_rate = 0.0
  f = jax.jit(lambda x, y: jnp.dot(x, y, preferred_element_type=jnp.float32))
  for n in (int(x) for x in sizes):
    a = jax.random.normal(jax.random.key(0), (n, n), dtype)
    b = jax.random.normal(jax.random.key(1), (n, n), dtype)
    f(a, b).block_until_ready()
    for _ in range(5):
      t = time.perf_counter()
      f(a, b).block_until_ready()
      best_rate = max(best_rate, 2 * n ** 3 / (time.perf_counter() - t))
  return best_rate


def run_throughput(cfg, mesh, optim, update):
  dtype = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}[_DTYPE.value]
  T, B, mb = _SEQ.value, _ROWS.value, _MB.value
  peak = matmul_peak(_MATMUL_N.value, dtype)
  rng = np.random.default_rng(_SEED.value)
  trajs = [batch_lib.Trajectory(
      list(rng.integers(3, cfg.vocab_size, T // 2)),
      list(rng.integers(3, cfg.vocab_size, T + 1 - T // 2)), ("challenger", "reasoner")[i % 2],
      group_id=i // 4, advantage=float(rng.normal())) for i in range(B)]
  # T + 1 tokens fill exactly T input positions; one [mb, T] micro-batch per minibatch.
  batch = batch_lib.make_batch(trajs, role_norms=NORMS, minibatch_size=mb, micro_rows=mb,
                               length_buckets=[T])
  st = state_lib.create(models.init_params(cfg, mesh, 0), optim)
  st, m, first, _ = timed(update, st, batch)
  print(f"batch {B} x {T}, minibatch {mb}; first call (compile + step) {first:.1f}s")
  times = []
  for _ in range(_STEPS.value):
    st, m, w, _ = timed(update, st, batch)
    times.append(w)
  dt = float(np.median(times))
  peak = max(peak, matmul_peak(_MATMUL_N.value, dtype))  # re-measure: the machine is shared
  print(f"matmul peak (best square {_DTYPE.value} jnp.dot, before and after): "
        f"{peak / 1e9:.1f} GFLOP/s")
  tokens, n = B * T, B // mb
  fwd_tok = cfg.flops_per_token(context=(T + 1) / 2)  # causal: mean context (T+1)/2
  model_flops = 3 * fwd_tok * tokens  # the usual 3 x forward over every position
  # Executed: body fwd + bwd (2x) + remat recompute; the vocabulary projection only on chunks
  # holding completion positions (fwd + checkpoint recompute + bwd); the old-log-prob
  # pre-pass for minibatches 1..n-1.
  proj_tok = 2 * cfg.vocab_size * cfg.d_model
  body_tok = fwd_tok - proj_tok
  c = loss_lib.pick_chunk(mb, T, cfg.vocab_size)
  live = sum(float(mi["loss_mask"].reshape(mb, T // c, c).any(axis=(0, 2)).sum())
             for mi in batch.micro)
  proj_positions = live * c * mb
  train = (4 if _REMAT.value else 3) * body_tok * tokens + 4 * proj_tok * proj_positions
  prepass = (n - 1) / n * (body_tok * tokens + proj_tok * proj_positions)
  print(f"update step: {dt:.2f}s median of {len(times)}; {tokens / dt:.0f} tokens/s")
  print(f"model FLOP/s   : {model_flops / dt / 1e9:.1f} GFLOP/s = "
        f"{100 * model_flops / dt / peak:.1f}% of matmul peak")
  print(f"executed FLOP/s: {(train + prepass) / dt / 1e9:.1f} GFLOP/s = "
        f"{100 * (train + prepass) / dt / peak:.1f}% of matmul peak (projection on "
        f"{proj_positions / tokens:.0%} of positions)")
  print("metrics:", {k: round(float(v), 4) for k, v in m.items()})


def main(_):
  cfg = models.PRESETS[_PRESET.value]
  print(f"devices: {jax.devices()}  cpu cores: {os.cpu_count()}  load: {os.getloadavg()}")
  mesh = parallel.make_mesh((1, 1, 1), jax.devices()[:1])
  optim = state_lib.OptimConfig()  # SPEC: AdamW lr 1e-6, b (0.9, 0.95), clip 1
  update = update_lib.make_update_fn(cfg, mesh, optim, compute_dtype=_DTYPE.value,
                                     remat=_REMAT.value)
  print(f"model {_PRESET.value}: {cfg.num_params() / 1e6:.1f}M params, dtype {_DTYPE.value}, "
        f"remat {_REMAT.value}")
  (run_demo if _WORKLOAD.value == "demo" else run_throughput)(cfg, mesh, optim, update)
  print(f"load at the end: {os.getloadavg()}")


if __name__ == "__main__":
  app.run(main)
