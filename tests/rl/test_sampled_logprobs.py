"""Gradients of what was sampled (issue 23 item 4) and sampler-vs-trainer agreement (item 5).

The update's log-probs are those of the distribution each row was drawn from (temperature,
top-k, top-p: rl/loss.py). On the tiny model in float32, the trainer's log-prob of every
sampled token equals the sampler's to 1e-5, for both roles (rows of one micro-batch carry
different sampling parameters) and every strategy. Greedy rows are a point mass: they are
recorded at temperature 1 with no filter and compared with the sampler's model log-probs.
"""

import numpy as np
import pytest
import jax
import jax.numpy as jnp

from spice_jax.rl import loss as loss_lib
from spice_jax.sampling.sampler import Sampler
from spice_jax.spice import batch as batch_lib

# (temperature, top_k, top_p): every strategy of sampling.strategies.
STRATEGIES = [(0.0, 0, 1.0), (1.0, 0, 1.0), (0.7, 0, 1.0), (1.3, 0, 1.0), (0.7, 0, 0.8),
              (1.0, 0, 0.5), (0.7, 5, 1.0), (1.0, 3, 1.0), (0.7, 6, 0.9)]


@pytest.fixture(scope="module")
def sampler(tiny_cfg, mesh1):
  return Sampler(tiny_cfg, mesh1, engine="static")


def _rows(sampler, params, strategy, role, seed, n=4):
  t, k, p = strategy
  rng = np.random.default_rng(seed)
  prompts = [list(rng.integers(1, 32, int(rng.integers(2, 9)))) for _ in range(n)]
  out = sampler(params, prompts, max_new_tokens=12, temperature=t, top_k=k, top_p=p,
                seed=seed)
  trajs = []
  for r, prompt in enumerate(prompts):
    L = int(out.lengths[r])
    lp = out.model_logprobs if t == 0 else out.logprobs
    trajs.append(batch_lib.Trajectory(prompt, list(out.tokens[r, :L]), role, group_id=r,
                                      advantage=1.0, old_logprobs=list(lp[r, :L]),
                                      temperature=t, top_k=k, top_p=p))
  return trajs


@pytest.mark.parametrize("i", range(len(STRATEGIES)))
def test_trainer_logprobs_equal_the_samplers(i, sampler, mesh1, update_fn, params1, data):
  """Challenger rows at strategy i, Reasoner rows at strategy i+1, in the same micro-batches."""
  chal = _rows(sampler, params1, STRATEGIES[i], "challenger", seed=i)
  reas = _rows(sampler, params1, STRATEGIES[(i + 1) % len(STRATEGIES)], "reasoner",
               seed=100 + i)
  trajs = chal + reas
  batch = batch_lib.make_batch(trajs, minibatch_size=len(trajs), role_norms=data.NORMS,
                               micro_rows=4, min_length=8)
  upd = update_fn(mesh1, None)
  worst = {}
  for m in batch.micro:
    lp = np.asarray(upd.logprobs(params1, m))
    mask = np.asarray(m["loss_mask"]) > 0
    for b in range(mask.shape[0]):
      if m["role"][b] < 0:
        continue
      d = np.abs(lp[b][mask[b]] - np.asarray(m["old_logprobs"])[b][mask[b]])
      name = batch_lib.ROLES[m["role"][b]]
      worst[name] = max(worst.get(name, 0.0), float(d.max()))
  assert set(worst) == {"challenger", "reasoner"}
  assert max(worst.values()) < 1e-5, worst


def _reference_sampling_logp(logits, t, k, p, tok):
  """Independent numpy reference: sort, keep top-k, keep the nucleus, renormalise."""
  x = logits.astype(np.float64) / t
  order = np.argsort(-x, kind="stable")
  keep = np.ones_like(x, bool)
  if k:
    keep &= x >= x[order[k - 1]]
  if p < 1:
    pr = np.where(keep, np.exp(x - x.max()), 0.0)
    srt = pr[order]
    before = np.cumsum(srt) - srt
    nucleus = np.zeros_like(keep)
    nucleus[order] = before < p * srt.sum()
    keep &= nucleus
  z = np.where(keep, x, -np.inf)
  return z[tok] - (np.log(np.sum(np.exp(z - z.max()))) + z.max())


@pytest.mark.parametrize("t,k,p", [(0.7, 0, 1.0), (1.0, 7, 1.0), (0.5, 0, 0.6),
                                   (1.3, 11, 0.85)])
def test_sampling_logits_match_a_sort_based_reference(t, k, p):
  rng = np.random.default_rng(3)
  logits = rng.normal(size=(2, 5, 40)).astype(np.float32) * 3
  z = loss_lib.sampling_logits(jnp.asarray(logits), jnp.full((2,), t, jnp.float32),
                               jnp.full((2,), k, jnp.int32), jnp.full((2,), p, jnp.float32))
  lsm = np.asarray(jax.nn.log_softmax(z, axis=-1))
  for b in range(2):
    for c in range(5):
      for tok in range(40):
        ref = _reference_sampling_logp(logits[b, c], t, k, p, tok)
        if np.isinf(ref):
          assert np.isneginf(lsm[b, c, tok])
        else:
          np.testing.assert_allclose(lsm[b, c, tok], ref, atol=1e-5)


def test_gradient_flows_through_the_tempered_softmax():
  """d logp / d logits of a kept token is (onehot - p_trunc) / t: the sampling policy's score."""
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(1, 1, 16)).astype(np.float32))
  t, k = 0.5, 4
  f = lambda x: jax.nn.log_softmax(loss_lib.sampling_logits(
      x, jnp.array([t]), jnp.array([k], jnp.int32), jnp.array([1.0])), -1)[0, 0, 3]
  top = np.argsort(-np.asarray(x)[0, 0])[:k]
  x = x.at[0, 0, 3].set(float(np.asarray(x)[0, 0, top[0]]) + 1.0)  # token 3 is kept
  g = np.asarray(jax.grad(f)(x))[0, 0]
  z = np.asarray(x)[0, 0] / t
  keep = z >= np.sort(z)[-k]
  pr = np.where(keep, np.exp(z - z.max()), 0)
  pr /= pr.sum()
  np.testing.assert_allclose(g, ((np.arange(16) == 3) - pr) / t, atol=1e-6)


def test_agreement_sums_against_numpy():
  rng = np.random.default_rng(1)
  tr = rng.normal(size=(4, 6)).astype(np.float32) - 2
  sa = tr + rng.normal(scale=0.08, size=tr.shape).astype(np.float32)
  mask = (rng.random((4, 6)) > 0.3).astype(np.float32)
  role = np.array([0, 1, 0, -1], np.int32)
  s = loss_lib.finalize(dict(
      loss_sum=0.0, weight_sum=1.0, tokens=1.0, clipped=0.0, ratio_sum=1.0, ratio_max=1.0,
      ratio_min=1.0, kl_sum=0.0, kl_old_sum=0.0, loss_sum_challenger=0.0,
      weight_sum_challenger=1.0, tokens_challenger=1.0, clipped_challenger=0.0,
      loss_sum_reasoner=0.0, weight_sum_reasoner=1.0, tokens_reasoner=1.0,
      clipped_reasoner=0.0, **loss_lib.agreement_sums(tr, sa, mask, role)))
  for r, name in enumerate(("challenger", "reasoner")):
    sel = (mask > 0) & (role == r)[:, None]
    d = (tr - sa)[sel].astype(np.float64)
    np.testing.assert_allclose(s[f"{name}/logprob_abs_diff"], np.abs(d).mean(), rtol=1e-5)
    np.testing.assert_allclose(s[f"{name}/token_mult_prob_error"], np.exp(np.abs(d)).mean(),
                               rtol=1e-5)
    out = ((np.exp(d) < 0.9) | (np.exp(d) > 1.1)).mean()
    np.testing.assert_allclose(s[f"{name}/logprob_ratio_out_band"], out, atol=1e-6)
    assert s[f"{name}/logprob_off_support"] == 0.0


def test_off_support_tokens_are_counted_apart():
  """A token outside the trainer's truncated support (log-prob at the floor) is out of band
  and off support, and leaves the mean |Δ| and mult error of the others finite."""
  tr = np.array([[-1.0, -2.0, loss_lib.LOGP_FLOOR, -0.5]], np.float32)
  sa = np.array([[-1.0, -2.1, -3.0, -0.5]], np.float32)
  s = loss_lib.agreement_sums(tr, sa, np.ones_like(tr), np.array([1], np.int32))
  assert float(s["agree_off_reasoner"]) == 1 and float(s["agree_in_reasoner"]) == 3
  np.testing.assert_allclose(float(s["agree_absdiff_reasoner"]), 0.1, atol=1e-6)
  np.testing.assert_allclose(float(s["agree_mult_reasoner"]), 2 + np.exp(0.1), rtol=1e-6)
  assert float(s["agree_out_reasoner"]) == 2  # the off-support token and exp(0.1) > 1.1


def test_update_reports_agreement(sampler, mesh1, update_fn, params1, data):
  """In the update: exact agreement in float32 with the sampler's log-probs; a perturbed
  sampler log-prob shows up in the metrics of its role only."""
  from spice_jax.rl import state as state_lib
  trajs = (_rows(sampler, params1, (0.7, 0, 0.9), "challenger", 7)
           + _rows(sampler, params1, (1.0, 0, 1.0), "reasoner", 8))
  upd = update_fn(mesh1, None)

  def run(ts):
    batch = batch_lib.make_batch(ts, minibatch_size=4, role_norms=data.NORMS, micro_rows=4,
                                 min_length=8, shuffle_seed=0)
    state = state_lib.create(params1, None)
    return upd(state, batch)[1]
  m = run(trajs)
  for name in ("challenger", "reasoner"):
    assert m[f"{name}/logprob_abs_diff"] < 1e-5
    assert abs(m[f"{name}/token_mult_prob_error"] - 1.0) < 1e-5
    assert m[f"{name}/logprob_ratio_out_band"] == 0.0
    assert m[f"{name}/logprob_off_support"] == 0.0
    assert m[f"{name}/logprob_agree_tokens"] == sum(
        len(t.completion_tokens) for t in trajs if t.role == name)
  bumped = [batch_lib.Trajectory(**{**t.__dict__, "old_logprobs": [x - 0.5 for x in
                                                                    t.old_logprobs]})
            if t.role == "reasoner" else t for t in trajs]
  m = run(bumped)
  assert m["challenger/logprob_abs_diff"] < 1e-5
  np.testing.assert_allclose(m["reasoner/logprob_abs_diff"], 0.5, atol=1e-4)
  np.testing.assert_allclose(m["reasoner/token_mult_prob_error"], np.exp(0.5), rtol=1e-4)
  assert m["reasoner/logprob_ratio_out_band"] == 1.0
