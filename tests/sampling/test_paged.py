"""Paged attention (`paged.attend_pages`) against dense attention over the same keys."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from spice_jax.models import transformer as layers
from spice_jax.sampling import forward, paged

B, K, G, Dh, PG, BLOCK_PAGES = 3, 2, 2, 8, 4, 2


def _pool_and_dense(rng, n_pages: int, dtype):
  """A pool whose rows' pages are shuffled, and the same keys laid out densely.

  Returns (pool layer, table [B, n_pages], dense k [B, K, Dh, S], dense v [B, K, S, Dh]),
  S = n_pages * PG. Pool page 0 (the null page) holds garbage: no table entry points to it.
  """
  S = n_pages * PG
  k = rng.standard_normal((B, K, Dh, S)).astype(np.float32)
  v = rng.standard_normal((B, K, S, Dh)).astype(np.float32)
  ids = 1 + rng.permutation(B * n_pages).reshape(B, n_pages)
  pool_k = rng.standard_normal((1 + B * n_pages, K, Dh, PG)).astype(np.float32) * 100
  pool_v = rng.standard_normal((1 + B * n_pages, K, PG, Dh)).astype(np.float32) * 100
  for b in range(B):
    for m in range(n_pages):
      pool_k[ids[b, m]] = k[b, :, :, m * PG:(m + 1) * PG]
      pool_v[ids[b, m]] = v[b, :, m * PG:(m + 1) * PG]
  lc = {"k": jnp.asarray(pool_k, dtype), "v": jnp.asarray(pool_v, dtype)}
  return lc, jnp.asarray(ids, jnp.int32), jnp.asarray(k, dtype), jnp.asarray(v, dtype)


@pytest.mark.parametrize("T", [1, 3])
def test_pages_equal_dense_and_table_width_changes_nothing(T):
  rng = np.random.default_rng(0)
  n_pages = 4  # two attention blocks
  lc, table, k, v = _pool_and_dense(rng, n_pages, jnp.float32)
  S = n_pages * PG
  q = jnp.asarray(rng.standard_normal((B, T, K * G, Dh)), jnp.float32)
  # Each row attends its own prefix [0, n) (n < S leaves masked slots in the last block).
  lengths = np.array([S, 9, 5])
  last = np.broadcast_to(lengths[:, None] - 1, (B, T)).astype(np.int32)
  zero = jnp.zeros((B,), jnp.int32)
  span = (zero, zero, jnp.asarray(last))
  attend = jax.jit(paged.attend_pages, static_argnums=(4,))
  got = attend(q, lc, table, span, BLOCK_PAGES)

  # Dense reference: the plain (non-online) softmax over the contiguous keys.
  mask = np.arange(S)[None, None, :] < lengths[:, None, None]
  bias = layers.mask_bias(jnp.asarray(np.broadcast_to(mask, (B, T, S))))
  qd = q.reshape(B, T, K, G, Dh).transpose(0, 2, 3, 1, 4)
  ref = forward._attend(qd, k, v, bias).transpose(0, 3, 1, 2, 4).reshape(B, T, -1)
  np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-5, atol=1e-5)

  # A wider table (two more blocks of null pages, all masked) gives the same bits, whether
  # its masked blocks are skipped (the default) or read: the table width is schedule (set
  # by the longest row of a program), not maths.
  wide = jnp.concatenate([table, jnp.zeros((B, 2 * BLOCK_PAGES), jnp.int32)], axis=1)
  for blocks in (None, jnp.int32(4)):
    np.testing.assert_array_equal(np.asarray(attend(q, lc, wide, span, BLOCK_PAGES, blocks)),
                                  np.asarray(got))


def test_span_mask_prompt_then_own_slots():
  """A query attends the shared prompt [0, base) and its own slots [start, last]."""
  span = (jnp.array([3, 0]), jnp.array([8, 0]), jnp.array([[9], [2]]))
  got = np.asarray(paged.span_mask(span, jnp.arange(12)))
  s = np.arange(12)
  want = np.stack([(s < 3) | ((s >= 8) & (s <= 9)), s <= 2])[:, None, :]
  np.testing.assert_array_equal(got, want)
  # Blocks of 4 slots: row 0 reads up to slot 9 -> 3 blocks.
  assert int(paged.blocks_read(span, 4)) == 3


def test_program_size_independent_of_table_width():
  """The attention loop is one fixed body: the lowered program of a 4-page table and of
  a 256-page table have the same number of dot products (not one per block)."""
  rng = np.random.default_rng(1)
  q = jnp.asarray(rng.standard_normal((B, 1, K * G, Dh)), jnp.float32)
  zero = jnp.zeros((B,), jnp.int32)

  def dots(n_pages):
    lc = {"k": jnp.zeros((1 + n_pages, K, Dh, PG)), "v": jnp.zeros((1 + n_pages, K, PG, Dh))}
    table = jnp.zeros((B, n_pages), jnp.int32)
    span = (zero, zero, jnp.zeros((B, 1), jnp.int32))
    text = jax.jit(paged.attend_pages, static_argnums=(4,)).lower(
        q, lc, table, span, BLOCK_PAGES).as_text()
    return text.count("dot_general")

  assert dots(4) == dots(256) == 2
