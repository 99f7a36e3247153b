"""Group-relative advantages by hand on a mixed batch; groups never leak."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from spice_jax.spice import advantages


def mixed_batch():
  """Group 0: Challenger (4 rows incl. two invalid at -0.1); groups 1, 2: Reasoner (3 each);
  one padding row (-1), rows interleaved so groups are not contiguous."""
  rows = [  # (group, reward)
      (1, 1.0), (0, 0.9879), (2, 0.0), (-1, 5.0), (0, -0.1), (1, 0.0), (2, 0.0),
      (0, 0.3720), (1, 1.0), (0, -0.1), (2, 1.0)]
  g = np.array([r[0] for r in rows], np.int32)
  r = np.array([r[1] for r in rows], np.float32)
  return r, g


def test_dr_grpo_by_hand():
  r, g = mixed_batch()
  a = np.asarray(advantages.compute(r, g, 3))
  m0 = (0.9879 - 0.1 + 0.3720 - 0.1) / 4
  want = [1 - 2/3, 0.9879 - m0, 0 - 1/3, 0.0, -0.1 - m0, 0 - 2/3, 0 - 1/3,
          0.3720 - m0, 1 - 2/3, -0.1 - m0, 1 - 1/3]
  np.testing.assert_allclose(a, want, atol=1e-6)
  assert a.dtype == np.float32


def test_grpo_by_hand():
  r, g = mixed_batch()
  a = np.asarray(advantages.compute(r, g, 3, estimator="grpo", eps=1e-6))
  want = np.zeros_like(r)
  for gid in range(3):
    sel = g == gid
    want[sel] = (r[sel] - r[sel].mean()) / (r[sel].std() + 1e-6)  # population std
  np.testing.assert_allclose(a, want, rtol=1e-5, atol=1e-6)
  a1 = np.asarray(advantages.compute(r, g, 3, estimator="grpo", ddof=1))
  sel = g == 1
  np.testing.assert_allclose(a1[sel], (r[sel] - r[sel].mean()) / (r[sel].std(ddof=1) + 1e-6),
                             rtol=1e-5)


def test_zero_variance_group_gets_zero_advantage():
  r = np.array([1, 1, 1, 0.3, 0.3], np.float32)
  g = np.array([0, 0, 0, 1, 1], np.int32)
  for est in ("dr_grpo", "grpo"):
    np.testing.assert_allclose(np.asarray(advantages.compute(r, g, 2, estimator=est)), 0,
                               atol=1e-6)


_compute_jit = jax.jit(advantages.compute, static_argnames=("num_groups",))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.floats(-1, 1, width=32)), min_size=1,
                max_size=24), st.integers(0, 4), st.floats(-5, 5, width=32))
def test_groups_never_leak(rows, victim, delta):
  g = np.array([x[0] for x in rows], np.int32)
  r = np.array([x[1] for x in rows], np.float32)
  base = np.asarray(_compute_jit(r, g, num_groups=5))
  r2 = r.copy()
  r2[g == victim] += np.float32(delta) * np.arange(1, (g == victim).sum() + 1)
  moved = np.asarray(_compute_jit(r2, g, num_groups=5))
  # Changing one group's rewards never changes another group's advantages ...
  np.testing.assert_array_equal(moved[g != victim], base[g != victim])
  # ... and every group's advantages sum to zero (Dr. GRPO centring).
  for gid in np.unique(g):
    assert abs(base[g == gid].sum()) < 1e-4


def test_padding_rows_do_not_enter_statistics():
  r, g = mixed_batch()
  r2 = r.copy()
  r2[g == -1] = -1000.0
  g2 = g.copy()
  g2[3] = 7  # out of range for num_groups=3: also padding
  for gg in (g, g2):
    a = np.asarray(advantages.compute(r2, gg, 3))
    np.testing.assert_allclose(a, np.asarray(advantages.compute(r, g, 3)), atol=1e-6)
    assert a[3] == 0.0


def test_registry():
  assert {"dr_grpo", "grpo"} <= set(advantages.names())

  @advantages.register("test_constant")
  def _const(rewards, group_ids, num_groups, *, eps=1e-6, **_):
    return jnp.full_like(rewards, 2.0)
  assert advantages.get("test_constant") is _const
  np.testing.assert_allclose(
      np.asarray(advantages.compute(np.zeros(3, np.float32), np.zeros(3, np.int32), 1,
                                    estimator="test_constant")), 2.0)
  with pytest.raises(advantages.AdvantageError, match="unknown"):
    advantages.get("nope")
  with pytest.raises(advantages.AdvantageError, match="twice"):
    advantages.register("grpo")(lambda *a, **k: None)
  with pytest.raises(advantages.AdvantageError, match=r"\[N\]"):
    advantages.compute(np.zeros(3), np.zeros(4, np.int32), 1)
