r"""One decode step's attention through KV pages vs over a dense cache, per layer.

  .venv/bin/python benchmarks/paged_attention.py                  # SmolLM2-135M heads, ~1 min
  .venv/bin/python benchmarks/paged_attention.py --rows=16 --slots=512

`paged.attend_pages` (the continuous engine's attention: a take of each row's pages, then an
online softmax over blocks of `block_pages` pages) against `forward.attend_cached` (the
static path's attention over a dense head-major cache holding the same keys), one query per
row, f32 cache. Rows' pages are scattered over the pool in random order, as after a few
admissions. Printed per (page size, block pages): ms per layer (the best of --repeats
rounds of --calls calls), its ratio to the dense attention, and the gather alone.
"""

from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from spice_jax.sampling import forward, paged

_ROWS = flags.DEFINE_integer("rows", 64, "Decode rows B.")
_SLOTS = flags.DEFINE_integer("slots", 256, "Cache slots per row S (a multiple of 64).")
_KV_HEADS = flags.DEFINE_integer("kv_heads", 3, "KV heads K (SmolLM2-135M: 3).")
_GROUP = flags.DEFINE_integer("group", 3, "Query heads per KV head G (SmolLM2-135M: 3).")
_HEAD_DIM = flags.DEFINE_integer("head_dim", 64, "Head dim Dh.")
_LAYOUTS = flags.DEFINE_list("layouts", ["16:4", "16:1", "32:1", "32:2", "64:1"],
                             "page_size:block_pages pairs.")
_CALLS = flags.DEFINE_integer("calls", 30, "Calls per timed round.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed rounds (the fastest is reported).")


def _ms(fn, *args) -> float:
  fn = jax.jit(fn)
  jax.block_until_ready(fn(*args))
  best = float("inf")
  for _ in range(_REPEATS.value):
    t0 = time.perf_counter()
    for _ in range(_CALLS.value):
      out = fn(*args)
    jax.block_until_ready(out)
    best = min(best, (time.perf_counter() - t0) / _CALLS.value * 1e3)
  return best


def main(argv):
  del argv
  B, S = _ROWS.value, _SLOTS.value
  K, G, Dh = _KV_HEADS.value, _GROUP.value, _HEAD_DIM.value
  rng = np.random.default_rng(0)
  q = jnp.asarray(rng.standard_normal((B, 1, K * G, Dh)), jnp.float32)
  bias = jnp.zeros((B, 1, S), jnp.float32)  # every slot attended: the span [0, S)
  zero = jnp.zeros((B,), jnp.int32)
  span = (zero, zero, jnp.full((B, 1), S - 1, jnp.int32))
  print(f"B={B} S={S} K={K} G={G} Dh={Dh}, f32 cache; load {os.getloadavg()[0]:.1f}")
  print(f"{'page':>5} {'block':>6} {'paged ms':>9} {'dense ms':>9} {'paged/dense':>12} "
        f"{'gather ms':>10}")
  for layout in _LAYOUTS.value:
    page_size, block_pages = (int(x) for x in layout.split(":"))
    M = S // page_size
    pool_pages = 1 + B * M
    lc = {"k": jnp.asarray(rng.standard_normal((pool_pages, K, Dh, page_size)), jnp.float32),
          "v": jnp.asarray(rng.standard_normal((pool_pages, K, page_size, Dh)), jnp.float32)}
    table = jnp.asarray(1 + rng.permutation(B * M).reshape(B, M), jnp.int32)
    ck, cv = jax.jit(paged._gather)(lc, table)  # the same keys, dense and in logical order
    got = jax.jit(paged.attend_pages, static_argnums=(4,))(q, lc, table, span, block_pages)
    ref = jax.jit(forward.attend_cached)(q, ck, cv, bias)
    np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-4, atol=1e-4)
    t_paged = _ms(lambda q, lc, t, sp: paged.attend_pages(q, lc, t, sp, block_pages),
                  q, lc, table, span)
    t_dense = _ms(forward.attend_cached, q, ck, cv, bias)
    t_gather = _ms(lambda lc, t: [paged._gather(lc, t[:, j:j + block_pages])
                                  for j in range(0, M, block_pages)], lc, table)
    print(f"{page_size:>5} {block_pages:>6} {t_paged:>9.3f} {t_dense:>9.3f} "
          f"{t_paged / t_dense:>11.2f}x {t_gather:>10.3f}")


if __name__ == "__main__":
  app.run(main)
