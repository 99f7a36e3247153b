"""Token selection: exact distributions (chi-square), log-probs, filters, edge cases."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from spice_jax.sampling import strategies as S


def reference_probs(logits, temperature, top_k, top_p):
  """The `transformers` warper chain (temperature -> top-k -> top-p) in float64 numpy."""
  z = np.asarray(logits, np.float64) / temperature
  keep = np.ones(z.shape, bool)
  if top_k:
    keep &= z >= np.sort(z)[::-1][top_k - 1]
  p = np.where(keep, np.exp(z - z.max()), 0.0)
  p /= p.sum()
  if top_p < 1:
    order = np.argsort(-p, kind="stable")
    before = np.cumsum(p[order]) - p[order]  # mass strictly before each sorted entry
    nucleus = np.zeros(z.shape, bool)
    nucleus[order[before < top_p]] = True
    p = np.where(nucleus, p, 0.0)
    p /= p.sum()
  return p


_sample = jax.jit(S.sample, static_argnums=5)


def draw(logits, n, temperature, top_k, top_p, seed=0):
  V = logits.shape[-1]
  strat = S.Strategy.make(temperature, top_k, top_p, V)
  u = jax.random.uniform(jax.random.key(seed), (n,))
  tok, lp, mlp = _sample(jnp.broadcast_to(jnp.asarray(logits, jnp.float32), (n, V)), u,
                         jnp.float32(temperature), jnp.int32(top_k),
                         jnp.float32(top_p), strat)
  return np.asarray(tok), np.asarray(lp), np.asarray(mlp)


# Small vocabularies take the one-level CDF; 1000 > 2 blocks takes the two-level search.
CASES = [
    (12, 0.6, 0, 1.0), (12, 1.5, 4, 1.0), (12, 0.8, 6, 0.9), (1000, 1.0, 0, 1.0),
    (1000, 0.7, 0, 1.0), (1000, 1.0, 20, 1.0), (1000, 1.2, 0, 0.85), (1000, 0.9, 50, 0.95),
]


@pytest.mark.parametrize("V,temperature,top_k,top_p", CASES)
def test_samples_follow_the_filtered_distribution(V, temperature, top_k, top_p):
  rng = np.random.default_rng(V + top_k)
  logits = (rng.normal(size=V) * 1.5).astype(np.float32)
  n = 30000
  tok, lp, mlp = draw(logits, n, temperature, top_k, top_p)
  p = reference_probs(logits, temperature, top_k, top_p)
  assert (p > 0).sum() >= 3  # a case with real choice
  counts = np.bincount(tok, minlength=V)
  assert counts[p == 0].sum() == 0, "drew a token outside the filtered support"
  # Chi-square over bins with enough expected mass; the rest merged into one bin.
  big = p * n >= 5
  obs = np.append(counts[big], counts[~big].sum())
  exp = np.append(p[big] * n, p[~big].sum() * n)
  keep = exp > 0
  assert scipy.stats.chisquare(obs[keep], exp[keep]).pvalue > 1e-3
  # Log-probs: under the filtered distribution, and under the raw model.
  np.testing.assert_allclose(lp, np.log(p[tok]), atol=2e-5)
  z = logits.astype(np.float64)
  model = z - z.max() - np.log(np.exp(z - z.max()).sum())
  np.testing.assert_allclose(mlp, model[tok], atol=2e-5)


def test_chi_square_detects_a_wrong_distribution():
  """The test above has power: samples at T=1 fail against the T=0.6 reference."""
  rng = np.random.default_rng(12)
  logits = (rng.normal(size=12) * 2.5).astype(np.float32)
  tok, _, _ = draw(logits, 30000, 1.0, 0, 1.0)
  p = reference_probs(logits, 0.6, 0, 1.0)
  counts = np.bincount(tok, minlength=12)
  assert scipy.stats.chisquare(counts, p * 30000).pvalue < 1e-6


def test_greedy_is_argmax_with_zero_logprob():
  logits = np.array([[0.1, 3.0, -1.0, 2.9], [5.0, 1.0, 5.0, 0.0]], np.float32)
  tok, lp, mlp = S.sample(jnp.asarray(logits), jnp.zeros(2), jnp.float32(0.0), 0, 1.0,
                          S.Strategy.make(0.0))
  assert tok.tolist() == [1, 0]  # ties go to the first index
  assert np.all(np.asarray(lp) == 0.0)
  ref = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  np.testing.assert_allclose(mlp, ref[[0, 1], [1, 0]], rtol=1e-6)


def test_inverse_cdf_boundaries_and_zero_mass_tokens():
  """u near 0 picks the first positive entry, u near 1 the last; zeros are never picked."""
  V = 1300  # 6 blocks of 256, last one partial
  probs = np.zeros((4, V), np.float32)
  probs[:, [7, 300, 301, 1299]] = [0.25, 0.25, 0.25, 0.25]
  u = jnp.asarray([0.0, 0.2499, 0.5, 0.99999994], jnp.float32)
  got = np.asarray(S._pick_unsorted(jnp.asarray(probs), u))
  assert got.tolist() == [7, 7, 301, 1299]
  # All mass in one block that is not the last; u ~ 1 must not run past it.
  probs = np.zeros((1, V), np.float32)
  probs[0, 260] = 1.0
  assert int(S._pick_unsorted(jnp.asarray(probs), jnp.asarray([0.99999994]))[0]) == 260


def test_top_k_support_with_ties_and_negative_logits():
  x = np.array([-3.0, -1.0, -1.0, -2.0, -7.0, -9.0], np.float32)
  for k, support in ((1, {1, 2}), (2, {1, 2}), (3, {1, 2, 3}), (5, {0, 1, 2, 3, 4})):
    tok, lp, _ = draw(x, 4000, 1.0, k, 1.0)
    assert set(np.unique(tok).tolist()) == support, k
    keep = np.array(sorted(support))
    ref = x[keep] - np.log(np.exp(x[keep]).sum())
    np.testing.assert_allclose(lp, ref[np.searchsorted(keep, tok)], atol=1e-5)


def test_top_p_is_smallest_set_reaching_the_mass():
  probs = jnp.asarray([[0.1, 0.4, 0.2, 0.3], [0.97, 0.01, 0.01, 0.01]])
  m = np.asarray(S.top_p_mask(probs, jnp.float32(0.65)))
  assert m[0].tolist() == [False, True, False, True]  # 0.4 + 0.3 >= 0.65
  assert m[1].tolist() == [True, False, False, False]
  m = np.asarray(S.top_p_mask(probs, jnp.float32(0.71)))
  assert m[0].tolist() == [False, True, True, True]


@pytest.mark.parametrize("kw", [dict(temperature=-1.0), dict(temperature=1.0, top_k=-2),
                                dict(temperature=1.0, top_p=0.0),
                                dict(temperature=1.0, top_p=1.5)])
def test_bad_strategy_values(kw):
  with pytest.raises(ValueError):
    S.Strategy.make(**kw)


def test_strategy_flags():
  # Greedy, temperature 1 and other temperatures without filters: one program.
  assert S.Strategy.make(0.0, 5, 0.5) == S.Strategy.make(1.0) == S.Strategy.make(0.7)
  assert S.Strategy.make(1.0, 300, 1.0, vocab_size=256) == S.Strategy()
  s = S.Strategy.make(0.7, 5, 0.9)
  assert (s.top_k, s.top_p) == (16, True)  # cap: power of two
  assert S.Strategy.make(1.0, 16).top_k == 32
  assert S.Strategy.make(1.0, 200, 1.0, vocab_size=256).top_k == 256
