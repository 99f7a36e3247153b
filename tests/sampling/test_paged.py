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
  mask = np.arange(S)[None, None, :] < lengths[:, None, None]
  bias = layers.mask_bias(jnp.asarray(np.broadcast_to(mask, (B, T, S))))
  attend = jax.jit(paged.attend_pages, static_argnums=(4,))
  got = attend(q, lc, table, bias, BLOCK_PAGES)

  # Dense reference: the plain (non-online) softmax over the contiguous keys.
  qd = q.reshape(B, T, K, G, Dh).transpose(0, 2, 3, 1, 4)
  ref = forward._attend(qd, k, v, bias).transpose(0, 3, 1, 2, 4).reshape(B, T, -1)
  np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-5, atol=1e-5)

  # A wider table (two more blocks of null pages, all masked) gives the same bits: the
  # table width is schedule (set by the longest row of a program), not maths.
  wide = jnp.concatenate([table, jnp.zeros((B, 2 * BLOCK_PAGES), jnp.int32)], axis=1)
  wide_bias = jnp.concatenate([bias, jnp.full((B, T, 2 * BLOCK_PAGES * PG), -1e30)], axis=2)
  np.testing.assert_array_equal(np.asarray(attend(q, lc, wide, wide_bias, BLOCK_PAGES)),
                                np.asarray(got))
