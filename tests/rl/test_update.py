"""The update against an independent reference on the unbucketed layout (loss, gradient,
params), defect 3 (one forward path for old log-probs), mesh parity, 'it learns'."""
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from spice_jax import models
from spice_jax.rl import loss as loss_lib
from spice_jax.rl import state as state_lib
from spice_jax.rl import update as update_lib
from spice_jax.spice import batch as batch_lib

# A large lr so comparisons are not vacuous; Adam eps 1e-3 keeps the step a smooth function of
# the gradient (with eps 1e-8 the first step is ~lr * sign(g), so float reassociation across
# devices could flip the sign of a near-zero gradient entry and move it by 2 * lr).
OPTIM = state_lib.OptimConfig(lr=1e-2, eps=1e-3, clip_norm=1.0)


def leaves(tree):
  return [np.asarray(x) for x in jax.tree.leaves(jax.device_get(tree))]


def assert_trees_close(a, b, atol):
  for x, y in zip(leaves(a), leaves(b)):
    np.testing.assert_allclose(x, y, atol=atol, rtol=0)


def fresh_state(params, optim=OPTIM, **kw):
  return state_lib.create(params, optim, **kw)


def copy(tree):
  return jax.tree.map(lambda x: np.array(x, copy=True), tree)  # no view: keep donation


# ------------------------------------------------ reference: plain maths on the padded layout
def ref_logp(cfg, params, rows):
  """Full-vocabulary log_softmax, no chunking, no remat: log-prob of each target [B, T]."""
  logits = models.Transformer(cfg).apply({"params": params}, rows["tokens"],
                                         rows["positions"])[0]
  return jnp.take_along_axis(jax.nn.log_softmax(logits), rows["targets"][..., None], -1)[..., 0]


def ref_loss_sum(cfg, params, rows, old, ref=None, kl_beta=0.0, eps=0.2):
  """sum_b w_b seq_b of SPEC §5 (PPO-clip, Dr. GRPO divisor per row, optional k3 KL)."""
  lp = ref_logp(cfg, params, rows)
  r = jnp.exp(lp - old)
  a = rows["advantages"][:, None]
  tok = -jnp.minimum(r * a, jnp.clip(r, 1 - eps, 1 + eps) * a)
  if kl_beta:
    tok = tok + kl_beta * (jnp.exp(ref - lp) - (ref - lp) - 1)
  return jnp.sum(rows["weight"] * jnp.sum(tok * rows["loss_mask"], -1) / rows["norm"])


def reference_update(cfg, params, trajs, batch, data, optim=OPTIM):
  """The update, minibatch by minibatch, on the unbucketed layout; optax AdamW."""
  tx = optax.chain(optax.clip_by_global_norm(optim.clip_norm),
                   optax.adamw(optim.lr, b1=optim.b1, b2=optim.b2, eps=optim.eps,
                               weight_decay=optim.weight_decay))
  opt, p0, losses = tx.init(params), params, []
  loss = jax.jit(lambda p, rows, old: ref_loss_sum(cfg, p, rows, old) / rows["weight"].sum())
  for i in range(batch.num_minibatches):
    rows = data.padded(trajs, data.minibatch_rows(batch, i))
    if rows["weight"].sum() == 0:
      continue
    old = jax.jit(ref_logp, static_argnums=0)(cfg, p0, rows)
    l, g = jax.value_and_grad(loss)(params, rows, old)
    up, opt = tx.update(g, opt, params)
    params = optax.apply_updates(params, up)
    losses.append(float(l))
  return params, losses


@pytest.mark.parametrize("minibatch_size,micro_rows", [(16, 4), (8, 1)])
def test_matches_reference(tiny_cfg, mesh1, minibatch_size, micro_rows, data, update_fn,
                           params1):
  """Whole update vs the reference on the unbucketed layout; (8, 1): two minibatches (the
  second's old log-probs from the pre-pass), one row per micro-batch."""
  trajs = data.random_trajs(1)
  trajs[3].weight = 0.0  # a zero-weight row: left out of the arrays, no effect on the loss
  batch = batch_lib.make_batch(trajs, role_norms=data.NORMS, min_length=8, shuffle_seed=0,
                               minibatch_size=minibatch_size, micro_rows=micro_rows)
  st = fresh_state(params1)
  p0 = copy(st.params)
  new, m = update_fn(mesh1, OPTIM)(st, batch)
  ref_params, ref_losses = reference_update(tiny_cfg, p0, trajs, batch, data)
  assert_trees_close(new.params, ref_params, atol=2e-6)
  n = 16 // minibatch_size
  assert int(new.step) == n and float(m["steps"]) == n
  assert float(m["lr"]) == pytest.approx(OPTIM.lr)
  assert float(m["loss"]) == pytest.approx(np.mean(ref_losses), abs=1e-5)
  # The params really moved (lr 1e-2), so the comparison above is not vacuous.
  assert max(np.abs(x - y).max() for x, y in zip(leaves(new.params), leaves(p0))) > 5e-3
  assert st.params["embed"].is_deleted()  # the state was donated


@pytest.mark.parametrize("micro_rows", [1, 3])
def test_loss_and_gradient_equal_unbucketed(tiny_cfg, mesh1, micro_rows, data, update_fn,
                                            params1):
  """One minibatch's loss sum and gradient, accumulated over length-bucketed micro-batches,
  equal the plain computation on all its rows padded to one length: sampler old log-probs
  (ratios != 1, so clipping is exercised), per-role Dr. GRPO divisors, the k3 KL to a
  reference, zero-weight rows and (micro_rows=3) padding rows."""
  trajs = data.random_trajs(2, with_old=True)
  for i in (2, 5):
    trajs[i].weight = 0.0
  trajs[6].weight = 0.5
  ref = jax.tree.map(lambda x: x + 0.05, params1)
  batch = batch_lib.make_batch(trajs, role_norms=data.NORMS, min_length=8, shuffle_seed=1,
                               minibatch_size=16, micro_rows=micro_rows)
  assert len({m["tokens"].shape[1] for m in batch.micro}) > 1  # really bucketed
  upd = update_fn(mesh1, OPTIM, old_logprobs="sampler", kl_beta=0.3)
  grads, sums = None, None
  for m in batch.micro:
    g, s = upd.grads(params1, m, m["old_logprobs"], False, upd.logprobs(ref, m))
    grads = g if grads is None else jax.tree.map(jnp.add, grads, g)
    sums = s if sums is None else loss_lib.combine(sums, s)
  rows = data.padded(trajs, data.minibatch_rows(batch, 0))
  ref_lp = ref_logp(tiny_cfg, ref, rows)
  f = lambda p: ref_loss_sum(tiny_cfg, p, rows, rows["old_logprobs"], ref_lp, kl_beta=0.3)
  want, want_g = jax.jit(jax.value_and_grad(f))(params1)
  assert float(sums["loss_sum"]) == pytest.approx(float(want), rel=1e-5, abs=1e-6)
  assert float(sums["weight_sum"]) == pytest.approx(rows["weight"].sum())
  assert float(sums["clipped"]) > 0 and float(sums["kl_sum"]) > 0  # both paths exercised
  assert_trees_close(grads, want_g, atol=2e-6)
  assert max(np.abs(x).max() for x in leaves(want_g)) > 1e-3  # not vacuous


def test_bf16_old_logprobs_equal_the_loss_forward(tiny_cfg, mesh1, data, update_fn, params1):
  """Defect 3: in bfloat16 the pre-pass (old log-probs of minibatches >= 1) and the loss
  must compute the same log-probs. With lr 0 the params never change, so every minibatch's
  ratio must be exactly 1."""
  frozen = state_lib.OptimConfig(lr=0.0)
  batch = data.random_batch(seed=12, minibatch_size=4, micro_rows=2)
  assert batch.num_minibatches == 4
  upd = update_fn(mesh1, frozen, compute_dtype="bfloat16")
  for m in batch.micro:  # directly: pre-pass log-probs fed back as old -> ratio 1
    _, s = upd.grads(params1, m, upd.logprobs(params1, m), False)
    assert float(s["ratio_max"]) == 1.0 and float(s["ratio_min"]) == 1.0
  _, metrics = upd(fresh_state(params1, frozen), batch)
  assert float(metrics["steps"]) == 4
  assert float(metrics["ratio_max"]) == 1.0 and float(metrics["ratio_min"]) == 1.0
  assert float(metrics["kl_old"]) == 0.0


def test_first_minibatch_ratio_exactly_one(mesh1, data, update_fn, params1):
  """Old log-probs recomputed by the learner: ratio exactly 1 on the first minibatch."""
  _, m = update_fn(mesh1, OPTIM)(fresh_state(params1), data.random_batch(seed=3))
  assert float(m["ratio_max"]) == 1.0 and float(m["ratio_min"]) == 1.0
  assert float(m["clip_frac"]) == 0.0


def test_sampler_logprobs(mesh1, data, update_fn, params1):
  """old_logprobs='sampler': rows with sampler log-probs use them; others get ratio 1."""
  trajs = data.random_trajs(4)
  upd = update_fn(mesh1, OPTIM, old_logprobs="sampler", remat=False)
  b0 = batch_lib.make_batch(trajs, role_norms=data.NORMS, min_length=8, minibatch_size=16)
  for m in b0.micro:  # every other row: sampler log-prob 0.1 below the learner's
    lp = np.asarray(upd.logprobs(params1, m))
    for b, i in enumerate(m["index"]):
      if i >= 0 and i % 2 == 0:
        trajs[i].old_logprobs = list(lp[b][m["loss_mask"][b] > 0] - 0.1)
  batch = batch_lib.make_batch(trajs, role_norms=data.NORMS, min_length=8, minibatch_size=16)
  _, m = upd(fresh_state(params1), batch)
  assert float(m["ratio_max"]) == pytest.approx(np.exp(0.1), abs=1e-5)
  assert float(m["ratio_min"]) == pytest.approx(1.0, abs=1e-6)


def test_micro_rows_and_zero_weight_minibatch(mesh1, data, update_fn, params1):
  fn = update_fn(mesh1, OPTIM, remat=False)
  a, ma = fn(fresh_state(params1), data.random_batch(seed=5, micro_rows=16))
  b, mb = fn(fresh_state(params1), data.random_batch(seed=5, micro_rows=1))
  assert_trees_close(a.params, b.params, atol=1e-6)
  assert float(ma["loss"]) == pytest.approx(float(mb["loss"]), abs=1e-6)
  # A minibatch whose rows all have weight 0 takes no step; zero-weight Challenger rows
  # leave the loss to the Reasoner rows (fixed_challenger).
  trajs = data.random_trajs(5)
  make = lambda: batch_lib.make_batch(trajs, role_norms=data.NORMS, min_length=8,
                                      minibatch_size=4, shuffle_seed=0)
  batch = make()
  for i in list(data.minibatch_rows(batch, 1)) + [j for j, t in enumerate(trajs)
                                                  if t.role == "challenger"]:
    trajs[i].weight = 0.0
  batch = make()
  stepped = [i for i in range(4) if any(trajs[j].weight > 0 for j in data.minibatch_rows(batch, i))]
  assert 1 not in batch.minibatch and set(batch.minibatch) == set(stepped) and len(stepped) > 1
  c, mc = fn(fresh_state(params1), batch)
  assert int(c.step) == len(stepped) and float(mc["steps"]) == len(stepped)
  assert float(mc["loss_reasoner"]) != 0
  assert float(mc["loss_challenger"]) == 0 and float(mc["challenger/entropy"]) == 0


def test_kl_to_reference(tiny_cfg, mesh1, data, update_fn, params1):
  """k3 KL to a perturbed frozen reference: loss = hand formula from the reference
  log-probs (one minibatch, so the loss is evaluated before the step, at ratio 1)."""
  ref = jax.tree.map(lambda x: x + 0.05, params1)
  st = state_lib.create(params1, OPTIM, ref_params=ref)
  trajs = data.random_trajs(6)
  batch = batch_lib.make_batch(trajs, role_norms=data.NORMS, min_length=8, minibatch_size=16)
  _, m = update_fn(mesh1, OPTIM, kl_beta=0.3, remat=False)(st, batch)
  rows = data.padded(trajs, range(16))
  lp, lr_ = (np.asarray(ref_logp(tiny_cfg, p, rows)) for p in (params1, ref))
  d = lr_ - lp
  k3 = np.exp(d) - d - 1
  tok = -rows["advantages"][:, None] + 0.3 * k3
  seq = (tok * rows["loss_mask"]).sum(-1) / rows["norm"]
  assert float(m["loss"]) == pytest.approx(seq.mean(), abs=1e-5)
  mask = rows["loss_mask"] > 0
  assert float(m["kl"]) == pytest.approx(k3[mask].mean(), rel=1e-4) and k3[mask].mean() > 1e-3


def test_errors_name_the_problem(tiny_cfg, mesh1, mesh8, data, params1, params8):
  batch = data.random_batch(seed=11)
  st = fresh_state(params1)
  with pytest.raises(update_lib.UpdateError, match="has ref_params"):
    update_lib.make_update_fn(tiny_cfg, mesh1, OPTIM)(fresh_state(params1, ref_params=params1),
                                                      batch)
  with pytest.raises(update_lib.UpdateError, match="not a multiple of the 4 devices"):
    update_lib.make_update_fn(tiny_cfg, mesh8, OPTIM)(fresh_state(params8),
                                                      data.random_batch(seed=11, micro_rows=2))
  with pytest.raises(update_lib.UpdateError, match="differs"):
    update_lib.make_update_fn(tiny_cfg, mesh1, state_lib.OptimConfig(lr=0.5))(st, batch)
  with pytest.raises(update_lib.UpdateError, match="missing keys \\['advantages'\\]"):
    micro = [{k: v for k, v in m.items() if k != "advantages"} for m in batch.micro]
    update_lib.make_update_fn(tiny_cfg, mesh1, OPTIM)(
        st, batch_lib.Batch(tuple(micro), batch.minibatch, batch.num_minibatches, batch.order))


def test_logprobs_align_with_unpadded_forward(tiny_cfg, mesh1, data, update_fn, params1):
  trajs = data.random_trajs(7)
  batch = batch_lib.make_batch(trajs, role_norms=data.NORMS, min_length=8, minibatch_size=16)
  upd = update_fn(mesh1, OPTIM)
  fwd = jax.jit(lambda p, t: models.Transformer(tiny_cfg).apply(
      {"params": p}, t, jnp.arange(t.shape[1])[None])[0])
  for m in batch.micro:
    lp = np.asarray(upd.logprobs(params1, m))
    for b, i in enumerate(m["index"]):
      if i < 0:
        continue
      tr = trajs[i]
      seq = np.asarray(list(tr.prompt_tokens) + list(tr.completion_tokens), np.int32)[None]
      ls = np.asarray(jax.nn.log_softmax(fwd(params1, seq)[0]))
      P = len(tr.prompt_tokens)
      want = [ls[P - 1 + j, c] for j, c in enumerate(tr.completion_tokens)]
      np.testing.assert_allclose(lp[b][m["loss_mask"][b] > 0], want, atol=1e-5)


def test_chunked_projection_in_the_update(tiny_cfg, mesh1, data, params1, monkeypatch):
  """With the vocabulary projection chunked by 4 positions (chunks of prompt skipped), the
  update equals the unchunked one."""
  batch = data.random_batch(seed=13, minibatch_size=8)
  a, ma = update_lib.make_update_fn(tiny_cfg, mesh1, OPTIM)(fresh_state(params1), batch)
  monkeypatch.setattr(loss_lib, "MAX_CHUNK", 4)
  b, mb = update_lib.make_update_fn(tiny_cfg, mesh1, OPTIM)(fresh_state(params1), batch)
  assert_trees_close(a.params, b.params, atol=1e-6)
  assert float(ma["loss"]) == pytest.approx(float(mb["loss"]), abs=1e-6)


def test_mesh_2x2x2_equals_single_device(mesh1, mesh8, data, update_fn, params1, params8):
  batches = [data.random_batch(seed=s, minibatch_size=8, row_multiple=4) for s in (8, 9)]
  out = []
  for mesh in (mesh1, mesh8):
    fn = update_fn(mesh, OPTIM)
    st = fresh_state(params1 if mesh is mesh1 else params8)
    st, m1 = fn(st, batches[0])
    st, m2 = fn(st, batches[1])
    if mesh is mesh8:  # the 8-device state really is split (fsdp and tensor axes)
      axes = [set(x.sharding.spec) for x in jax.tree.leaves(st.params)]
      assert any("fsdp" in a for a in axes) and any("tensor" in a for a in axes), axes
    out.append((jax.device_get(st), m1, m2))
  (s1, a1, a2), (s8, b1, b2) = out
  assert_trees_close(s1.params, s8.params, atol=1e-6)
  assert_trees_close(s1.opt_state, s8.opt_state, atol=1e-6)
  for k in a1:
    assert float(a1[k]) == pytest.approx(float(b1[k]), rel=1e-5, abs=1e-6), k
    assert float(a2[k]) == pytest.approx(float(b2[k]), rel=1e-5, abs=1e-6), k


def test_bfloat16_compute_close_to_float32(mesh1, data, update_fn, params1):
  batch = data.random_batch(seed=10)
  res = {}
  for dt in ("float32", "bfloat16"):
    fn = update_fn(mesh1, OPTIM, remat=False, compute_dtype=dt)
    st, m = fn(fresh_state(params1), batch)
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(st.params))  # fp32 masters
    res[dt] = m
  for k in ("loss", "entropy", "grad_norm"):
    assert float(res["bfloat16"][k]) == pytest.approx(float(res["float32"][k]), rel=0.05,
                                                      abs=2e-3), k


# ----------------------------------------------------------------------------- it learns
# Vocabulary of the synthetic task (32 tokens): 1 = BOS, 2..9 = keys, 10..13 = the letters
# A-D, 15..31 = filler. Prompt = BOS f key f; the correct first completion token is the letter
# (3 * key + 1) % 4, so a policy ignoring the key earns at most 0.25.
BOS, KEYS, LETTERS, FILL = 1, np.arange(2, 10), np.arange(10, 14), np.arange(15, 32)


def make_sampler(cfg, n_new):
  mod = models.Transformer(cfg)

  @jax.jit
  def sample(params, prompts, key):
    toks = prompts
    for _ in range(n_new):
      N, T = toks.shape
      logits = mod.apply({"params": params}, toks,
                         jnp.broadcast_to(jnp.arange(T, dtype=jnp.int32), (N, T)))[0]
      key, sub = jax.random.split(key)
      nxt = jax.random.categorical(sub, logits[:, -1]).astype(jnp.int32)
      toks = jnp.concatenate([toks, nxt[:, None]], axis=1)
    return toks[:, prompts.shape[1]:]
  return sample


@pytest.mark.slow
def test_it_learns(tiny_cfg, mesh1, params1):
  num_prompts, K, iters = 16, 8, 300
  optim = state_lib.OptimConfig(lr=1e-3)
  st = fresh_state(params1, optim)
  update = update_lib.make_update_fn(tiny_cfg, mesh1, optim, remat=False)
  sample = make_sampler(tiny_cfg, n_new=2)
  rng, key = np.random.default_rng(0), jax.random.key(0)
  curve, t0 = [], time.time()
  for it in range(iters):
    keys = rng.choice(KEYS, num_prompts)
    fill = rng.choice(FILL, (num_prompts, 2))
    prompts = np.repeat(np.stack([np.full(num_prompts, BOS), fill[:, 0], keys, fill[:, 1]], 1),
                        K, axis=0).astype(np.int32)
    key, sub = jax.random.split(key)
    with jax.set_mesh(mesh1):
      comp = np.asarray(sample(st.params, prompts, sub))
    reward = (comp[:, 0] == LETTERS[(3 * prompts[:, 2] + 1) % 4]).astype(np.float32)
    groups = np.repeat(np.arange(num_prompts), K).astype(np.int32)
    adv = reward - np.repeat(reward.reshape(num_prompts, K).mean(1), K)  # Dr. GRPO
    trajs = [batch_lib.Trajectory(list(prompts[i]), list(comp[i]), "reasoner", int(groups[i]),
                                  float(adv[i])) for i in range(len(reward))]
    batch = batch_lib.make_batch(trajs, role_norms={"reasoner": 2}, min_length=8,
                                 minibatch_size=64, micro_rows=64, shuffle_seed=it)
    st, m = update(st, batch)
    curve.append(float(reward.mean()))
    if len(curve) >= 5 and np.mean(curve[-5:]) >= 0.9:
      break
  elapsed = time.time() - t0
  print(f"it learns: {len(curve)} iterations ({2 * len(curve)} optimizer steps), "
        f"{elapsed:.1f}s; reward at iteration " +
        ", ".join(f"{i}: {np.mean(curve[max(0, i - 2):i + 3]):.2f}"
                  for i in range(0, len(curve), 10)))
  assert np.mean(curve[:3]) < 0.15  # chance: uniform over 32 tokens (1/32)
  assert np.mean(curve[-5:]) >= 0.9
  assert elapsed < 120
