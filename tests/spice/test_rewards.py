"""Rewards against SPEC §4's table and hand-computed values for every variant."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from spice_jax.spice import rewards

# SPEC §4: correct/8 -> r_C for K = 8.
TABLE = [0.0439, 0.3720, 0.8226, 0.9879, 1.0000, 0.9879, 0.8226, 0.3720, 0.0439]


def bits(k, K=8):
  """[K] correctness row with the first k samples correct."""
  return np.arange(K) < k


def all_rows(K=8):
  return np.stack([bits(k, K) for k in range(K + 1)])  # [K+1, K]


def test_variance_matches_spec_table():
  r = rewards.challenger_reward(all_rows(), np.ones(9, bool))
  assert r.dtype == jnp.float32 and r.shape == (9,)
  np.testing.assert_allclose(np.asarray(r), TABLE, atol=1e-4)


def test_variance_formula_by_hand_and_order_invariance():
  rng = np.random.default_rng(0)
  c = rng.random((20, 8)) < 0.5
  r = np.asarray(rewards.challenger_reward(c, np.ones(20, bool)))
  for i in range(20):
    p = c[i].mean()
    assert r[i] == pytest.approx(math.exp(-((p * (1 - p) - 0.25) ** 2) / 0.02), abs=1e-6)
  # Only the count matters, not which samples were right.
  perm = c[:, rng.permutation(8)]
  np.testing.assert_allclose(np.asarray(rewards.challenger_reward(perm, np.ones(20, bool))), r)


def test_invalid_gets_rho_for_every_variant():
  c = all_rows()
  valid = np.array([True, False] * 4 + [False])
  grounded = np.random.default_rng(0).random(c.shape) < 0.5   # read by grounding_regret only
  for v in rewards.names():
    r = np.asarray(rewards.challenger_reward(c, valid, v, grounded_correct=grounded))
    np.testing.assert_allclose(r[~valid], -0.1, atol=1e-7)
  r = np.asarray(rewards.challenger_reward(c, valid, invalid_reward=-1.0))
  np.testing.assert_allclose(r[~valid], -1.0)
  np.testing.assert_allclose(r[valid], np.asarray(TABLE)[valid], atol=1e-4)


def test_sigma2_and_target_configurable():
  r = rewards.challenger_reward(all_rows(), np.ones(9, bool), sigma2=0.05, target_var=0.2)
  p = np.arange(9) / 8
  want = np.exp(-((p * (1 - p) - 0.2) ** 2) / 0.1)
  np.testing.assert_allclose(np.asarray(r), want, atol=1e-6)


def test_absolute_zero_threshold_rzero_by_hand():
  c, v = all_rows(), np.ones(9, bool)
  az = np.asarray(rewards.challenger_reward(c, v, "absolute_zero"))
  th = np.asarray(rewards.challenger_reward(c, v, "threshold"))
  rz = np.asarray(rewards.challenger_reward(c, v, "rzero"))
  np.testing.assert_allclose(az, [0, 7/8, 6/8, 5/8, 4/8, 3/8, 2/8, 1/8, 0], atol=1e-7)
  np.testing.assert_allclose(th, [0, 1, 1, 1, 1, 1, 1, 1, 0])
  np.testing.assert_allclose(rz, [0, 0.25, 0.5, 0.75, 1, 0.75, 0.5, 0.25, 0], atol=1e-7)


def test_rzero_under_majority_labels_uses_the_majority_share():
  """With R-Zero pseudo-labels the correctness bits are 'agrees with the majority', so the
  pass rate the variant sees is the majority share (no separate p source)."""
  agrees = np.array([[1] * 8, [1] * 4 + [0] * 4, [1] * 3 + [0] * 5], bool)
  r = np.asarray(rewards.challenger_reward(agrees, np.ones(3, bool), "rzero"))
  np.testing.assert_allclose(r, [0, 1, 1 - 2 * abs(3 / 8 - 0.5)], atol=1e-7)


def test_registry_new_variant_is_one_function():
  @rewards.register("test_linear")
  def linear(p, *, slope: float = 1.0):
    return slope * p
  try:
    r = rewards.challenger_reward(all_rows(), np.ones(9, bool), "test_linear", slope=2.0)
    np.testing.assert_allclose(np.asarray(r), 2 * np.arange(9) / 8, atol=1e-7)
    assert "test_linear" in rewards.names()
    with pytest.raises(rewards.RewardError, match="unknown parameter 'sigma2'"):
      rewards.challenger_reward(all_rows(), np.ones(9, bool), "test_linear", sigma2=0.1)
  finally:
    rewards._REGISTRY.remove("test_linear")


def test_sample_mask_ragged_k():
  c = np.array([[1, 1, 0, 0, 1, 1, 1, 1], [1, 0, 0, 0, 0, 0, 0, 0]], bool)
  mask = np.array([[1, 1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1]], bool)
  p = np.asarray(rewards.pass_rate(c, mask))
  np.testing.assert_allclose(p, [0.5, 1 / 8])
  r = np.asarray(rewards.challenger_reward(c, np.ones(2, bool), sample_mask=mask))
  np.testing.assert_allclose(r, [1.0, TABLE[1]], atol=1e-4)


def test_jittable_and_reasoner_reward():
  f = jax.jit(rewards.challenger_reward, static_argnames=("variant",))
  r = f(jnp.asarray(all_rows(), jnp.int32), jnp.ones(9, bool), variant="variance")
  np.testing.assert_allclose(np.asarray(r), TABLE, atol=1e-4)
  rr = rewards.reasoner_reward(np.array([[True, False], [0, 1]]))
  assert rr.dtype == jnp.float32
  np.testing.assert_array_equal(np.asarray(rr), [[1, 0], [0, 1]])


def test_errors_name_the_problem():
  with pytest.raises(rewards.RewardError, match="unknown"):
    rewards.challenger_reward(all_rows(), np.ones(9, bool), "nope")
  with pytest.raises(rewards.RewardError, match="unknown parameter"):
    rewards.challenger_reward(all_rows(), np.ones(9, bool), "threshold", sigma2=0.1)
