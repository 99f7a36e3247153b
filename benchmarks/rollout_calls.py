r"""Static path vs continuous engine per sampler call, on `rollout.py`'s SPICE-shaped workload.

  .venv/bin/python benchmarks/rollout_calls.py --workload=demo      # world-small f32, cap 64
  .venv/bin/python benchmarks/rollout_calls.py --workload=default   # rollout.py's default shape

`rollout.py` reports a whole iteration; this splits it into the calls a chooser decides
one at a time: the Challenger call, the first 64 Reasoner rows, and all Reasoner rows in
one call. Both paths get the uniform cap and the same hidden stops (`stop_at`), and each
runs alone (forced `engine=`), best of --call_repeats after a warm-up; compile time is excluded.
Prints useful tokens/s per path and continuous/static per call.
"""

from __future__ import annotations

import os
import sys
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

_SHAPE = flags.DEFINE_enum("workload", "demo", ["demo", "default"], "demo: the make-demo shape "
                           "(world-small f32, 8 docs x 4, K=8, P=160, Q=48, cap 64, median 40, "
                           "sigma 0.4); default: rollout.py's defaults (small llama bf16).")
_REPEATS = flags.DEFINE_integer("call_repeats", 3, "Timed runs per path and call (fastest kept).")

SHAPES = {
    "demo": dict(model="world-small", dtype="float32", docs=8, attempts=4, prompt_len=160,
                 answers=8, question_len=48, max_new=64, cap_median=40.0, cap_sigma=0.4),
    "default": dict(model="small", dtype="bfloat16", docs=4, attempts=8, prompt_len=256,
                    answers=4, question_len=32, max_new=256, cap_median=24.0, cap_sigma=1.0),
}


def main(argv):
  del argv
  import jax

  import rollout
  from spice_jax import models, parallel
  from spice_jax.sampling import Sampler
  s = SHAPES[_SHAPE.value]
  cfg = rollout.small_config() if s["model"] == "small" else models.PRESETS[s["model"]]
  mesh = parallel.make_mesh((1, 1, 1), devices=jax.devices()[:1])
  params = models.init_params(cfg, mesh, seed=0)
  (ch, ch_caps), (re, re_caps) = rollout.spice_workload(
      cfg.vocab_size, s["docs"], s["attempts"], s["prompt_len"], s["answers"],
      s["question_len"], s["max_new"], s["cap_median"], s["cap_sigma"])
  calls = [("Challenger", ch, ch_caps), ("Reasoner, first 64 rows", re[:64], re_caps[:64]),
           ("Reasoner, all rows", re, re_caps)]
  paths = {e: Sampler(cfg, mesh, dtype=s["dtype"], engine=e) for e in ("static", "continuous")}
  print(f"shape {_SHAPE.value}: {s}")
  for name, prompts, caps in calls:
    best = {}
    for rep in range(_REPEATS.value + 1):       # the first pass compiles
      for e, sampler in paths.items():
        t0, c0 = time.perf_counter(), sampler.compile_seconds
        sampler(params, prompts, max_new_tokens=s["max_new"], stop_at=caps, temperature=1.0,
                seed=1)
        dt = time.perf_counter() - t0 - (sampler.compile_seconds - c0)
        if rep:
          best[e] = min(best.get(e, float("inf")), dt)
    tok = sum(caps)
    print(f"{name}: {len(prompts)} rows, {tok} tokens: static {tok / best['static']:.0f} tok/s, "
          f"continuous {tok / best['continuous']:.0f} tok/s, continuous/static "
          f"{best['static'] / best['continuous']:.2f}x", flush=True)


if __name__ == "__main__":
  app.run(main)
