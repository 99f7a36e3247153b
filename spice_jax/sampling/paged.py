"""A paged KV cache and the forward pass over it (the continuous engine's device maths).

The cache is a pool of fixed-size pages shared by all rows. Per layer:
  k: [Np, K, Dh, PG] (keys transposed, as in `forward`), v: [Np, K, PG, Dh].
A row sees a logical sequence of slots through its page table `table: [B, M] int32`
(logical slot s lives in page table[b, s // PG] at offset s % PG). Rows generated from the
same prompt put the same prompt page ids at the front of their tables, so the prompt's
keys and values are stored once; each row owns only the pages of its completion. Page 0 is
the null page: unused table entries point to it, writes of idle rows land in it, and no
mask ever admits it.

The layer maths (norms, q/k/v, RoPE, MLP) and the attention products (`forward.scores`,
`forward.mix`) are `forward`'s; only the cache read and write differ: new k/v are scattered
to (page, offset) pairs the host computed, and attention reads the rows' pages in fixed
blocks of `block_pages` pages (a `lax.fori_loop` with an online softmax, in `forward`'s
head-major layout; which slots a query attends is a `span`, masked per block). A block's
arithmetic depends only on its shape, and a block no query may attend leaves the running
sums exactly unchanged, so a row's result does not depend on how many pages its table has:
how wide the table is (set by the longest row in the same program) is schedule, and the
same seed must give the same tokens whatever the schedule (XLA's CPU kernels change their
summation order with the operand sizes). The loop's trip count is traced (the blocks up to
the furthest attended slot), so a program's size and compile time do not grow with its
table: an unrolled block per table unit made a window over an 8,192-slot table take
minutes to compile (benchmarks/window_compile.py).

Shapes: B rows, T new tokens per row, M table pages per row (a multiple of the block),
PG page size, S = M * PG, K kv heads, G query heads per kv head.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from spice_jax.models import transformer as layers
from spice_jax.models.config import ModelConfig
from spice_jax.sampling import forward

Pool = list  # per layer {"k": [Np, K, Dh, PG], "v": [Np, K, PG, Dh]}

POOL_AXES = {"k": (None, "kv_heads", "head_dim", None), "v": (None, "kv_heads", None, "head_dim")}


def pool_shapes(cfg: ModelConfig, pages: int, page_size: int) -> dict[str, tuple[int, ...]]:
  """Per-layer pool shapes: k [pages, K, Dh, PG], v [pages, K, PG, Dh]."""
  K, Dh = cfg.n_kv_heads, cfg.head_dim
  return {"k": (pages, K, Dh, page_size), "v": (pages, K, page_size, Dh)}


def init_pool(cfg: ModelConfig, pages: int, page_size: int, dtype) -> Pool:
  """Zeroed pool (see `pool_shapes`), one dict per layer."""
  shapes = pool_shapes(cfg, pages, page_size)
  return [{n: jnp.zeros(s, dtype) for n, s in shapes.items()} for _ in range(cfg.n_layers)]


def page_bytes(cfg: ModelConfig, page_size: int, dtype) -> int:
  """Bytes of one page over all layers (k and v)."""
  return 2 * cfg.n_layers * cfg.n_kv_heads * cfg.head_dim * page_size * jnp.dtype(dtype).itemsize


def _gather(lc, table):
  """Rows' pages in logical order: k [B, K, Dh, S], v [B, K, S, Dh]. One page per row is a
  plain `take`; several pages also need a transpose copy, which on CPU costs more than the
  take itself (a block of one page is the engine's default, `engine.BLOCK_SLOTS`)."""
  B, M = table.shape
  if M == 1:
    return jnp.take(lc["k"], table[:, 0], axis=0), jnp.take(lc["v"], table[:, 0], axis=0)
  k = jnp.take(lc["k"], table, axis=0)  # [B, M, K, Dh, PG]
  v = jnp.take(lc["v"], table, axis=0)  # [B, M, K, PG, Dh]
  _, _, K, Dh, PG = k.shape
  k = k.transpose(0, 2, 3, 1, 4).reshape(B, K, Dh, M * PG)
  v = v.transpose(0, 2, 1, 3, 4).reshape(B, K, M * PG, Dh)
  return k, v


def span_mask(span, slots):
  """Which of `slots` [n] int32 (logical slots) each query may attend -> [B, T, n] bool.

  span: (base [B], start [B], last [B, T]) int32: a query attends the shared prompt slots
  [0, base) and its own slots [start, last] (a prefill chunk: base = start = 0, last = its
  position; a decode step: the prompt, then the row's slots up to its input token)."""
  base, start, last = span
  s = slots[None, None, :]
  return (s < base[:, None, None]) | ((s >= start[:, None, None]) & (s <= last[:, :, None]))


def blocks_read(span, block_slots: int):
  """Attention blocks a program must read for `span` (int32 scalar): those up to the
  furthest slot any query attends; every later block is fully masked."""
  base, _, last = span
  end = jnp.maximum(jnp.max(last) + 1, jnp.max(base))
  return (end + block_slots - 1) // block_slots


def attend_pages(q, lc, table, span, block_pages: int, blocks=None):
  """Attention of q [B, T, H, Dh] f32 over the rows' pages, one block of `block_pages`
  pages at a time (online softmax, blocks in logical order) -> [B, T, H * Dh] f32.

  lc: one layer's pool; table: [B, M] int32, M a multiple of `block_pages`; span: which
  slots each query attends (`span_mask`); blocks: int32 scalar, how many blocks to read
  (default `blocks_read(span)`; never more than the table has).

  The blocks are a `lax.fori_loop` with a traced trip count, so a program's size and
  compile time do not depend on its table width M, and it reads only the blocks some query
  attends. A block's arithmetic depends only on its shape, and a block no query attends
  adds exactly 0 and scales the running sums by exactly 1 once an earlier block held an
  attended slot (slot 0, the first prompt token or a row's first input, always is): so
  neither M nor `blocks` changes a row's bits.
  """
  B, T, H, Dh = q.shape
  M = table.shape[1]
  K = lc["k"].shape[1]
  PG = lc["k"].shape[-1]
  G, n_blocks = H // K, M // block_pages
  assert n_blocks * block_pages == M, (M, block_pages)
  blk = block_pages * PG
  if blocks is None:
    blocks = blocks_read(span, blk)
  blocks = jnp.minimum(blocks, n_blocks)
  q = q.reshape(B, T, K, G, Dh).transpose(0, 2, 3, 1, 4)  # [B, K, G, T, Dh]

  def body(j, carry):
    m, l, acc = carry
    pages = jax.lax.dynamic_slice_in_dim(table, j * block_pages, block_pages, axis=1)
    ck, cv = _gather(lc, pages)
    bias = layers.mask_bias(span_mask(span, j * blk + jnp.arange(blk, dtype=jnp.int32)))
    s = forward.scores(q, ck) + bias[:, None, None]
    m_new = jnp.maximum(m, jnp.max(s, axis=-1))
    scale = jnp.exp(m - m_new)
    p = jnp.exp(s - m_new[..., None])
    pv = forward.mix(p, cv)
    return m_new, l * scale + jnp.sum(p, axis=-1), acc * scale[..., None] + pv

  init = (jnp.full((B, K, G, T), -jnp.inf, jnp.float32), jnp.zeros((B, K, G, T), jnp.float32),
          jnp.zeros((B, K, G, T, Dh), jnp.float32))
  _, l, acc = jax.lax.fori_loop(0, blocks, body, init)
  out = acc / l[..., None]  # [B, K, G, T, Dh]
  return out.transpose(0, 3, 1, 2, 4).reshape(B, T, H * Dh)


def forward_paged(w, cfg: ModelConfig, tokens, positions, pool: Pool, table, write_page,
                  write_off, span, block_pages: int, rope=None):
  """Runs the model over `tokens`, writing their k/v into the pool, attending through pages.

  Args:
    w: `forward.prepare`d weights.
    tokens: [B, T] int32; positions: [B, T] int32 RoPE positions.
    pool: per-layer pages (see module doc).
    table: [B, M] int32 page ids of each row's logical slots (M a multiple of
      `block_pages`, the pages attention reads per block; see `attend_pages`).
    write_page, write_off: [B, T] int32, where each new token's k/v goes (page 0 = discard).
    span: (base [B], start [B], last [B, T]) int32, which logical slots each query may
      attend (`span_mask`; the new tokens' own slots included: they are written before
      attention).
    rope: `layers.rope_table` covering every position (a decode window builds it once,
      outside its loop); default: built here for the table's M * PG slots (a position is
      never past its logical slot).

  Returns:
    (hidden [B, T, D] f32 after the final norm, new pool).
  """
  x = jnp.take(w["embed"], tokens, axis=0).astype(jnp.float32)  # [B, T, D]
  page_size = pool[0]["k"].shape[-1]
  if rope is None:
    rope = layers.rope_table(cfg, table.shape[1] * page_size)
  cos, sin = layers.rope_tables(cfg, positions, rope)
  dt = pool[0]["k"].dtype
  blocks = blocks_read(span, block_pages * page_size)
  new_pool = []
  for lw, lc in zip(w["layers"], pool):
    q, k, v = forward.project_qkv(lw, cfg, x, cos, sin)
    # Advanced indices on axes 0 and 3 (k) / 0 and 2 (v): the value is [B, T, K, Dh].
    lc = {"k": lc["k"].at[write_page, :, :, write_off].set(k.astype(dt)),
          "v": lc["v"].at[write_page, :, write_off, :].set(v.astype(dt))}
    new_pool.append(lc)
    x = forward.finish_layer(lw, cfg, x, attend_pages(q, lc, table, span, block_pages, blocks))
  return layers.rms_norm(x, w["final_norm"], cfg.rms_eps), new_pool
