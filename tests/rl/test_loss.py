"""PPO-clip / Dr. GRPO loss against hand computations; chunked log-probs vs full softmax."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from spice_jax import models
from spice_jax.rl import loss as loss_lib


def hand_example():
  """Two sequences, T = 4. Ratios chosen so some tokens clip (eps = 0.2)."""
  ratio = np.array([[1.0, 1.5, 0.7, 9.0],    # A=+1: 1.5 clipped (>1.2), 0.7 not (min picks it)
                    [9.0, 0.5, 1.3, 9.0]])   # A=-2: 0.5 clipped (<0.8), 1.3 not
  mask = np.array([[1, 1, 1, 0], [0, 1, 1, 0]], np.float32)
  old = np.array([[-1.0, -2.0, -0.5, -3.0], [-1.5, -2.5, -0.25, -1.0]], np.float32)
  logp = (old + np.log(ratio)).astype(np.float32)
  return dict(logp=logp, old=old, mask=mask, adv=np.array([1.0, -2.0], np.float32),
              norm=np.array([4.0, 2.0], np.float32), weight=np.ones(2, np.float32),
              role=np.array([0, 1], np.int32))


def call(ex, logp=None, **kw):
  return loss_lib.ppo_loss(jnp.asarray(ex["logp"] if logp is None else logp), ex["old"],
                           ex["adv"], ex["mask"], ex["norm"], ex["weight"], ex["role"], **kw)


def test_value_and_metrics_by_hand():
  ex = hand_example()
  loss, m = call(ex)
  # seq0: -(1*1) - (1.2*1) - (0.7*1) = -2.9, / 4 = -0.725
  # seq1: -(0.8*-2) - (1.3*-2) = 4.2, / 2 = 2.1 ; mean over the two sequences = 0.6875
  assert float(loss) == pytest.approx(0.6875, abs=1e-6)
  assert float(m["loss_challenger"]) == pytest.approx(-0.725, abs=1e-6)
  assert float(m["loss_reasoner"]) == pytest.approx(2.1, abs=1e-6)
  assert float(m["clip_frac"]) == pytest.approx(2 / 5)
  assert float(m["ratio_mean"]) == pytest.approx(1.0, abs=1e-6)
  assert float(m["ratio_max"]) == pytest.approx(1.5, abs=1e-6)
  assert float(m["ratio_min"]) == pytest.approx(0.5, abs=1e-6)
  assert float(m["tokens"]) == 5


def test_gradient_by_hand():
  ex = hand_example()
  g = np.asarray(jax.grad(lambda lp: call(ex, lp)[0])(jnp.asarray(ex["logp"])))
  # d(-r A)/dlogp = -r A on unclipped tokens, 0 on clipped/masked; scaled by w / (norm * W).
  want = np.array([[-1.0 * 1 / 8, 0.0, -0.7 * 1 / 8, 0.0],
                   [0.0, 0.0, -1.3 * -2 / 4, 0.0]])
  np.testing.assert_allclose(g, want, atol=1e-6)
  # Sign: gradient descent raises log-probs of positive-advantage tokens, lowers negative.
  assert (g[0][[0, 2]] < 0).all() and g[1][2] > 0


def test_weights_and_clip_range():
  ex = hand_example()
  ex["weight"] = np.array([1.0, 0.0], np.float32)
  loss, m = call(ex)
  assert float(loss) == pytest.approx(-0.725, abs=1e-6)
  assert float(m["tokens"]) == 3  # zero-weight rows leave the token metrics too
  ex = hand_example()
  loss, m = call(ex, clip_eps=0.6)  # 1.5 < 1.6 and 0.5 > 0.4: nothing clipped
  assert float(loss) == pytest.approx(((-1 - 1.5 - 0.7) / 4 + (0.5 + 1.3) * 2 / 2) / 2, abs=1e-6)
  assert float(m["clip_frac"]) == 0.0


def test_k3_kl_by_hand():
  ex = hand_example()
  ref = ex["logp"] + np.array([[0.1, -0.2, 0.3, 5.0], [5.0, 0.0, -0.4, 5.0]], np.float32)
  loss, m = call(ex, kl_beta=0.5, ref_logp=jnp.asarray(ref))
  k3 = lambda d: np.exp(d) - d - 1
  kl0 = k3(0.1) + k3(-0.2) + k3(0.3)
  kl1 = k3(0.0) + k3(-0.4)
  want = ((-2.9 + 0.5 * kl0) / 4 + (4.2 + 0.5 * kl1) / 2) / 2
  assert float(loss) == pytest.approx(want, abs=1e-6)
  assert float(m["kl"]) == pytest.approx((kl0 + kl1) / 5, abs=1e-6)
  with pytest.raises(ValueError, match="ref_logp"):
    call(ex, kl_beta=0.5)


def test_token_logprobs_match_full_softmax(tiny_cfg, params1):
  params = params1
  mod = models.Transformer(tiny_cfg)
  rng = np.random.default_rng(0)
  B, T = 3, 16
  tokens = jnp.asarray(rng.integers(0, tiny_cfg.vocab_size, (B, T)), jnp.int32)
  targets = jnp.asarray(rng.integers(0, tiny_cfg.vocab_size, (B, T)), jnp.int32)
  pos = jnp.broadcast_to(jnp.arange(T, dtype=jnp.int32), (B, T))
  logits = jax.jit(lambda p: mod.apply({"params": p}, tokens, pos)[0])(params)
  ls = jax.nn.log_softmax(logits, -1)
  want = np.take_along_axis(np.asarray(ls), np.asarray(targets)[..., None], -1)[..., 0]
  want_ent = -np.sum(np.exp(np.asarray(ls)) * np.asarray(ls), -1)
  for chunk in (None, 4):
    lp, ent = jax.jit(lambda p: loss_lib.token_logprobs(mod, p, tokens, pos, targets,
                                                        chunk=chunk))(params)
    np.testing.assert_allclose(np.asarray(lp), want, atol=1e-5)
    np.testing.assert_allclose(np.asarray(ent), want_ent, atol=1e-5)
  # Chunked (checkpointed) projection gives the same gradient as the plain one, and chunks
  # with no loss-mask position anywhere in the batch (here positions 0-3, and 8-11) are
  # skipped: zeros there, same values and gradient on the masked positions.
  mask = np.zeros((B, T), np.float32)
  mask[0, 4:6] = 1
  mask[1:, 12:] = 1
  lpm, _ = jax.jit(lambda p: loss_lib.token_logprobs(mod, p, tokens, pos, targets, chunk=4,
                                                     loss_mask=mask))(params)
  lpm = np.asarray(lpm)
  np.testing.assert_allclose(lpm[mask > 0], want[mask > 0], atol=1e-5)
  assert np.all(lpm[:, 0:4] == 0) and np.all(lpm[:, 8:12] == 0)
  assert np.all(lpm[:, 4:8] != 0)  # chunk 1 is computed for every row
  g = [jax.jit(jax.grad(lambda p: jnp.sum(mask * loss_lib.token_logprobs(
      mod, p, tokens, pos, targets, chunk=c, loss_mask=m)[0])))(params)
       for c, m in ((None, None), (4, mask))]
  for a, b in zip(jax.tree.leaves(g[0]), jax.tree.leaves(g[1])):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)


def test_pick_chunk():
  assert loss_lib.pick_chunk(8, 512, 32) == 512
  assert loss_lib.pick_chunk(8, 4096, 32) == 512  # capped at MAX_CHUNK
  assert loss_lib.pick_chunk(8, 16, 32) == 16
  c = loss_lib.pick_chunk(128, 4096, 151936)
  assert 128 * c * 151936 <= loss_lib.LOGITS_BUDGET and 4096 % c == 0


def test_per_role_clip_fraction_and_entropy():
  """Row 0 (Challenger): ratio e^0.5 > 1.2 with A > 0 -> both tokens clipped. Row 1
  (Reasoner): ratio 1 -> none clipped. Entropies 2.0 and 0.5 per token."""
  import jax.numpy as jnp
  from spice_jax.rl import loss as L
  logp = jnp.array([[-1.0, -1.0], [-2.0, -2.0]])
  old = jnp.array([[-1.5, -1.5], [-2.0, -2.0]])
  ent = jnp.array([[2.0, 2.0], [0.5, 0.5]])
  _, sums = L.ppo_sums(logp, old, jnp.array([1.0, 1.0]), jnp.ones((2, 2)), jnp.array([4.0, 4.0]),
                       jnp.ones(2), jnp.array([0, 1]), entropy=ent)
  m = L.finalize(sums)
  assert float(m["challenger/clip_frac"]) == 1.0 and float(m["reasoner/clip_frac"]) == 0.0
  assert float(m["clip_frac"]) == 0.5
  assert abs(float(m["challenger/entropy"]) - 2.0) < 1e-6
  assert abs(float(m["reasoner/entropy"]) - 0.5) < 1e-6
