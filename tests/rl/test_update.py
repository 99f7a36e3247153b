"""The jitted update against an independent reference; mesh parity; 'it learns'."""
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from spice_jax import models
from spice_jax.rl import state as state_lib
from spice_jax.rl import update as update_lib
from spice_jax.spice import advantages as adv_lib
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


def reference_update(cfg, params, batch, minibatch_size, optim=OPTIM, eps=0.2):
  """Plain re-implementation: full-vocab log_softmax, PPO-clip, Dr. GRPO norm, optax AdamW."""
  mod = models.Transformer(cfg)
  b = {k: jnp.asarray(v) for k, v in batch.items()}

  def logp(p, rows):
    logits = mod.apply({"params": p}, rows["tokens"], rows["positions"])[0]
    return jnp.take_along_axis(jax.nn.log_softmax(logits), rows["targets"][..., None], -1)[..., 0]

  def loss(p, rows, old):
    lp = logp(p, rows)
    r = jnp.exp(lp - old)
    a = rows["advantages"][:, None]
    tok = -jnp.minimum(r * a, jnp.clip(r, 1 - eps, 1 + eps) * a)
    seq = jnp.sum(tok * rows["loss_mask"], -1) / rows["norm"]
    return jnp.sum(rows["weight"] * seq) / jnp.sum(rows["weight"])

  B = b["tokens"].shape[0]
  n = B // minibatch_size
  old_all = jax.jit(logp)(params, b)
  vg = jax.jit(jax.value_and_grad(loss))
  tx = optax.chain(optax.clip_by_global_norm(optim.clip_norm),
                   optax.adamw(optim.lr, b1=optim.b1, b2=optim.b2, eps=optim.eps,
                               weight_decay=optim.weight_decay))
  opt = tx.init(params)
  losses = []
  for i in range(n):
    rows = {k: v[i::n] for k, v in b.items()}  # minibatch i = rows i, i+n, ...
    l, g = vg(params, rows, old_all[i::n])
    up, opt = tx.update(g, opt, params)
    params = optax.apply_updates(params, up)
    losses.append(float(l))
  return params, losses


@pytest.mark.parametrize("minibatch_size,chunk", [(16, None), (8, 4)])
def test_matches_reference(tiny_cfg, mesh1, minibatch_size, chunk, data, update_fn, params1):
  """Whole update vs a plain re-implementation; (8, 4): two minibatches (pre-pass old
  log-probs for the second) and a vocabulary projection chunked by 4 positions."""
  batch = data.random_batch(seed=1)
  st = fresh_state(params1)
  p0 = jax.tree.map(lambda x: np.array(x, copy=True), st.params)  # no view: keep donation
  fn = update_fn(mesh1, OPTIM, minibatch_size=minibatch_size, logits_chunk=chunk)
  new, m = fn(st, batch)
  ref_params, ref_losses = reference_update(tiny_cfg, p0, batch, minibatch_size)
  assert_trees_close(new.params, ref_params, atol=2e-6)
  n = 16 // minibatch_size
  assert int(new.step) == n and float(m["steps"]) == n
  assert float(m["lr"]) == pytest.approx(OPTIM.lr)
  assert float(m["loss"]) == pytest.approx(np.mean(ref_losses), abs=1e-5)
  # The params really moved (lr 1e-2), so the comparison above is not vacuous.
  assert max(np.abs(x - y).max() for x, y in zip(leaves(new.params), leaves(p0))) > 5e-3
  # The state was donated.
  assert st.params["embed"].is_deleted()


def test_first_minibatch_ratio_exactly_one(tiny_cfg, mesh1, data, update_fn, params1):
  """Old log-probs recomputed by the learner: ratio exactly 1 on the first minibatch."""
  st = fresh_state(params1)
  fn = update_fn(mesh1, OPTIM, minibatch_size=16)
  _, m = fn(st, data.random_batch(seed=3))
  assert float(m["ratio_max"]) == 1.0 and float(m["ratio_min"]) == 1.0
  assert float(m["clip_frac"]) == 0.0


def test_sampler_logprobs(tiny_cfg, mesh1, data, update_fn, params1):
  """old_logprobs='sampler': rows with sampler log-probs use them; others get ratio 1."""
  trajs = data.random_trajs(4)
  st = fresh_state(params1)
  lp = update_lib.logprobs_fn(tiny_cfg)(st.params, batch_lib.make_batch(
      trajs, role_norms=data.NORMS, min_length=8))
  b0 = batch_lib.make_batch(trajs, role_norms=data.NORMS, min_length=8)
  for i in range(0, 16, 2):  # every other row: sampler log-prob 0.1 below the learner's
    sel = b0["loss_mask"][i] > 0
    trajs[i].old_logprobs = list(np.asarray(lp)[i][sel] - 0.1)
  batch = batch_lib.make_batch(trajs, role_norms=data.NORMS, min_length=8)
  fn = update_fn(mesh1, OPTIM, minibatch_size=16, old_logprobs="sampler", remat=False)
  _, m = fn(st, batch)
  assert float(m["ratio_max"]) == pytest.approx(np.exp(0.1), abs=1e-5)
  assert float(m["ratio_min"]) == pytest.approx(1.0, abs=1e-6)


def test_microbatches_weights_and_empty_minibatch(tiny_cfg, mesh1, data, update_fn, params1):
  batch = data.random_batch(seed=5)
  whole = update_fn(mesh1, OPTIM, minibatch_size=16, remat=False)
  micro = update_fn(mesh1, OPTIM, minibatch_size=16, microbatch_size=4, remat=False)
  a, ma = whole(fresh_state(params1), batch)
  b, mb = micro(fresh_state(params1), batch)
  assert_trees_close(a.params, b.params, atol=1e-6)
  assert float(ma["loss"]) == pytest.approx(float(mb["loss"]), abs=1e-6)
  # fixed_challenger: role_weights=(0, 1) == zeroing the Challenger rows' weights.
  fixed = update_fn(mesh1, OPTIM, minibatch_size=16, remat=False, role_weights=(0.0, 1.0))
  c, mc = fixed(fresh_state(params1), batch)
  zeroed = dict(batch, weight=np.where(batch["role"] == 0, 0.0, batch["weight"]))
  d, md = whole(fresh_state(params1), zeroed)
  assert_trees_close(c.params, d.params, atol=1e-7)
  assert float(mc["loss"]) == pytest.approx(float(mc["loss_reasoner"]), abs=1e-6)
  # A batch with no weight at all changes nothing, not even Adam's state or the step.
  st = fresh_state(params1)
  before = jax.tree.map(lambda x: np.array(x, copy=True), (st.params, st.opt_state))
  e, me = whole(st, dict(batch, weight=np.zeros_like(batch["weight"])))
  assert int(e.step) == 0 and float(me["steps"]) == 0
  assert_trees_close((e.params, e.opt_state), before, atol=0)


def test_kl_to_reference(tiny_cfg, mesh1, data, update_fn, params1):
  """k3 KL to a perturbed frozen reference: loss = hand formula from logprobs_fn (one
  minibatch, so the loss is evaluated before the step, at ratio 1)."""
  optim = OPTIM
  params = params1
  ref = jax.tree.map(lambda x: x + 0.05, params)
  st = state_lib.create(params, optim, ref_params=ref)
  batch = data.random_batch(seed=6)
  lpf = update_lib.logprobs_fn(tiny_cfg)
  lp, lr_ = np.asarray(lpf(params, batch)), np.asarray(lpf(ref, batch))
  fn = update_fn(mesh1, optim, minibatch_size=16, kl_beta=0.3, remat=False)
  _, m = fn(st, batch)
  d = lr_ - lp
  k3 = np.exp(d) - d - 1
  tok = -batch["advantages"][:, None] + 0.3 * k3
  seq = (tok * batch["loss_mask"]).sum(-1) / batch["norm"]
  want = (batch["weight"] * seq).sum() / batch["weight"].sum()
  assert float(m["loss"]) == pytest.approx(want, abs=1e-5)
  mask = batch["loss_mask"] > 0
  assert float(m["kl"]) == pytest.approx(k3[mask].mean(), rel=1e-4) and k3[mask].mean() > 1e-3


def test_errors_name_the_problem(tiny_cfg, mesh1, mesh8, data, params1, params8):
  batch = data.random_batch(seed=11)
  st = fresh_state(params1)
  with pytest.raises(update_lib.UpdateError, match="multiple of microbatch_size=5"):
    update_lib.make_update_fn(tiny_cfg, mesh1, OPTIM, minibatch_size=16, microbatch_size=5)(
        st, batch)
  with pytest.raises(update_lib.UpdateError, match="with_ref=False"):
    update_lib.make_update_fn(tiny_cfg, mesh1, OPTIM, minibatch_size=16)(
        fresh_state(params1, ref_params=params1), batch)
  with pytest.raises(update_lib.UpdateError, match="multiple of the 4 devices"):
    update_lib.make_update_fn(tiny_cfg, mesh8, OPTIM, minibatch_size=2)(
        fresh_state(params8), batch)
  with pytest.raises(update_lib.UpdateError, match="differs"):
    update_lib.make_update_fn(tiny_cfg, mesh1, state_lib.OptimConfig(lr=0.5),
                              minibatch_size=16)(st, batch)
  with pytest.raises(update_lib.UpdateError, match="missing keys \\['advantages'\\]"):
    b = dict(batch)
    del b["advantages"]
    update_lib.make_update_fn(tiny_cfg, mesh1, OPTIM, minibatch_size=16)(st, b)


def test_logprobs_align_with_unpadded_forward(tiny_cfg, mesh1, data, params1):
  trajs = data.random_trajs(7)
  batch = batch_lib.make_batch(trajs, role_norms=data.NORMS, min_length=8)
  params = params1
  lp = np.asarray(update_lib.logprobs_fn(tiny_cfg)(params, batch))
  mod = models.Transformer(tiny_cfg)
  fwd = jax.jit(lambda p, t: mod.apply({"params": p}, t, jnp.arange(t.shape[1])[None])[0])
  for i, tr in enumerate(trajs[:4]):
    seq = np.asarray(list(tr.prompt_tokens) + list(tr.completion_tokens), np.int32)[None]
    logits = fwd(params, seq)[0]
    ls = np.asarray(jax.nn.log_softmax(logits))
    P = len(tr.prompt_tokens)
    want = [ls[P - 1 + j, c] for j, c in enumerate(tr.completion_tokens)]
    np.testing.assert_allclose(lp[i][batch["loss_mask"][i] > 0], want, atol=1e-5)


def test_mesh_2x2x2_equals_single_device(tiny_cfg, mesh1, mesh8, data, update_fn, params1, params8):
  batch = data.random_batch(seed=8)
  out = []
  for mesh in (mesh1, mesh8):
    fn = update_fn(mesh, OPTIM, minibatch_size=8, logits_chunk=4)
    st = fresh_state(params1 if mesh is mesh1 else params8)
    st, m1 = fn(st, batch)
    st, m2 = fn(st, data.random_batch(seed=9))
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


def test_bfloat16_compute_close_to_float32(tiny_cfg, mesh1, data, update_fn, params1):
  batch = data.random_batch(seed=10)
  res = {}
  for dt in ("float32", "bfloat16"):
    kw = {} if dt == "float32" else {"compute_dtype": dt}
    fn = update_fn(mesh1, OPTIM, minibatch_size=16, remat=False, **kw)
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
  update = update_lib.make_update_fn(tiny_cfg, mesh1, optim, minibatch_size=64, remat=False)
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
    adv = np.asarray(jax.jit(adv_lib.compute, static_argnames=("num_groups",))(reward, groups, num_groups=num_prompts))
    trajs = [batch_lib.Trajectory(list(prompts[i]), list(comp[i]), "reasoner", int(groups[i]),
                                  float(adv[i])) for i in range(len(reward))]
    batch = batch_lib.make_batch(trajs, role_norms={"reasoner": 2}, min_length=8,
                                 batch_multiple=64, shuffle_seed=it)
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
