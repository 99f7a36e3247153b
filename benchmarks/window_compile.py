r"""Compile seconds and decode tokens/s of one decode-window program per KV table width.

  .venv/bin/python benchmarks/window_compile.py                        # ~5-10 min on 2 cores
  .venv/bin/python benchmarks/window_compile.py --widths=256,8192 --unrolled_max=8192

The continuous engine's decode window (`engine.decode_window`: W decode steps of B rows
over a paged KV cache) compiled and run at several table widths (slots a row's page table
covers), for two attention variants in the same process:
  * `loop`: `paged.attend_pages` as committed, a `lax.fori_loop` over key blocks whose
    trip count is traced (only the blocks some query attends are read);
  * `unrolled`: the previous code's structure, one unrolled online-softmax block per
    `block_pages` pages of the table (the program grows with the table), patched in here.
Both compute the same attention (the same bits: checked on the window's tokens).

Rows share a prompt filling the table but for the window's own pages (the attention reads
about the whole table, as in a long evaluation); the pool holds zeros (timing only), the
weights are the model's. Per (variant, width): compile seconds (`jit(...).lower().compile()`,
cold: XLA's persistent cache is off here) and decode tokens/s (B * W tokens per window, the
best of --repeats windows). Last lines: the ratios loop/unrolled per width measured for both.
"""

from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from spice_jax import models
from spice_jax.models import transformer as layers
from spice_jax.sampling import engine, forward, paged, strategies

_MODEL = flags.DEFINE_string("model", "smollm2-135m-instruct", "Model preset or checkpoint.")
_WIDTHS = flags.DEFINE_list("widths", ["256", "1024", "2048", "8192"], "Table widths (slots).")
_VARIANTS = flags.DEFINE_list("variants", ["loop", "unrolled"], "Attention variants.")
_UNROLLED_MAX = flags.DEFINE_integer("unrolled_max", 2048,
                                     "Widest table compiled unrolled (its compile grows).")
_ROWS = flags.DEFINE_integer("rows", 16, "Window rows B.")
_WINDOW = flags.DEFINE_integer("window", 16, "Decode steps per window W.")
_PAGE = flags.DEFINE_integer("page_size", 32, "Page size PG.")
_DTYPE = flags.DEFINE_enum("dtype", "bfloat16", ["float32", "bfloat16"], "Compute dtype.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed windows (the fastest is reported).")


def _attend_unrolled(q, lc, table, span, block_pages, blocks=None):
  """The pre-loop `paged.attend_pages`: every block of the table, unrolled in Python."""
  del blocks
  B, T, H, Dh = q.shape
  M, K, PG = table.shape[1], lc["k"].shape[1], lc["k"].shape[-1]
  G, blk = H // K, block_pages * PG
  q = q.reshape(B, T, K, G, Dh).transpose(0, 2, 3, 1, 4)
  bias = layers.mask_bias(paged.span_mask(span, jnp.arange(M * PG, dtype=jnp.int32)))
  m = jnp.full((B, K, G, T), -jnp.inf, jnp.float32)
  l = jnp.zeros((B, K, G, T), jnp.float32)
  acc = jnp.zeros((B, K, G, T, Dh), jnp.float32)
  for j in range(M // block_pages):
    ck, cv = paged._gather(lc, table[:, j * block_pages:(j + 1) * block_pages])
    s = forward.scores(q, ck) + bias[:, None, None, :, j * blk:(j + 1) * blk]
    m_new = jnp.maximum(m, jnp.max(s, axis=-1))
    scale = jnp.exp(m - m_new)
    p = jnp.exp(s - m_new[..., None])
    m, l, acc = m_new, l * scale + jnp.sum(p, axis=-1), acc * scale[..., None] + forward.mix(
        p, cv)
  return (acc / l[..., None]).transpose(0, 3, 1, 2, 4).reshape(B, T, H * Dh)


def _inputs(cfg, width: int):
  """(pool, Slots, table) for B rows sharing a prompt of the table's width less their own
  window pages."""
  B, W, PG = _ROWS.value, _WINDOW.value, _PAGE.value
  M = width // PG
  own = -(-W // PG)
  shared = M - own
  pool = paged.init_pool(cfg, 1 + shared + B * own, PG, jnp.float32)
  table = np.zeros((B, M), np.int32)
  table[:, :shared] = 1 + np.arange(shared)
  table[:, shared:] = 1 + shared + np.arange(B * own).reshape(B, own)
  z = np.zeros((B,), np.int32)
  ctx = np.full((B,), shared * PG, np.int32)
  keys = np.asarray(jax.random.key_data(jax.random.split(jax.random.key(0), B)))
  st = engine.Slots(last=z + 5, step=z, active=np.ones((B,), bool), pos0=ctx, base=ctx,
                    start=ctx, cap=z + 10 * W, keys=keys)
  return pool, st, table


def _measure(w, cfg, variant: str, width: int):
  """(compile s, tokens/s, tokens [B, W]) of one window program."""
  paged.attend_pages = ATTEND[variant]
  strategy = strategies.Strategy.make(1.0)
  fn = lambda w, pool, st, table, t, k, p, stop, leave: engine.decode_window(
      w, pool, st, table, t, k, p, stop, leave, cfg=cfg, window=_WINDOW.value,
      page_size=_PAGE.value, block_pages=1, strategy=strategy)
  pool, st, table = _inputs(cfg, width)
  scal = (np.float32(1.0), np.int32(0), np.float32(1.0), np.full((4,), -1, np.int32),
          np.int32(0))
  t0 = time.perf_counter()
  prog = jax.jit(fn, donate_argnums=(1,)).lower(w, pool, st, table, *scal).compile()
  compile_s = time.perf_counter() - t0
  best, toks = float("inf"), None
  for _ in range(_REPEATS.value + 1):  # the first call warms up
    t0 = time.perf_counter()
    pool, _, toks, _, _ = prog(w, pool, st, table, *scal)
    jax.block_until_ready(toks)
    best = min(best, time.perf_counter() - t0)
  paged.attend_pages = ATTEND["loop"]
  return compile_s, _ROWS.value * _WINDOW.value / best, np.asarray(toks)


ATTEND = {"loop": paged.attend_pages, "unrolled": _attend_unrolled}


def main(argv):
  del argv
  jax.config.update("jax_enable_compilation_cache", False)
  model = models.load(_MODEL.value)
  cfg = model.config
  w = jax.jit(lambda p: forward.prepare(p, cfg, jnp.dtype(_DTYPE.value)))(model.params)
  print(f"{_MODEL.value}: B={_ROWS.value} W={_WINDOW.value} PG={_PAGE.value} "
        f"{_DTYPE.value}, {jax.devices()[0].platform}; load {os.getloadavg()}")
  print(f"{'variant':>9} {'slots':>6} {'compile s':>10} {'tok/s':>8}")
  res = {}
  for width in (int(x) for x in _WIDTHS.value):
    for variant in _VARIANTS.value:
      if variant == "unrolled" and width > _UNROLLED_MAX.value:
        continue
      c, tps, toks = _measure(w, cfg, variant, width)
      res[variant, width] = (c, tps, toks)
      print(f"{variant:>9} {width:>6} {c:>10.1f} {tps:>8.1f}", flush=True)
  for width in (int(x) for x in _WIDTHS.value):
    if ("loop", width) in res and ("unrolled", width) in res:
      (c1, t1, k1), (c0, t0, k0) = res["loop", width], res["unrolled", width]
      same = "same tokens" if np.array_equal(k1, k0) else "TOKENS DIFFER"
      print(f"slots {width}: loop/unrolled compile s {c1 / c0:.2f}x, tokens/s {t1 / t0:.2f}x"
            f" ({same})")
  print(f"load {os.getloadavg()}")


if __name__ == "__main__":
  app.run(main)
