"""Token log-probs and the PPO-clip / Dr. GRPO loss (SPEC §5).

Per token t of a completion (mask m_t), with ratio r_t = exp(logp_t - old_t), advantage A
(one scalar per sequence) and clip range [1 - eps, 1 + eps]:

    tok_t = -min(r_t A, clip(r_t, 1 - eps, 1 + eps) A) + beta * k3_t
    k3_t  = exp(ref_t - logp_t) - (ref_t - logp_t) - 1          (only if beta > 0)
    seq_b = sum_t m_t tok_t / norm_b                              (norm: role's max gen length)
    loss  = sum_b w_b seq_b / sum_b w_b                           (w: row weight, 0 = padding)

The loss functions return *sums* (sum_b w_b seq_b and sum_b w_b, plus metric sums) so that
micro-batches accumulate exactly; `finalize` turns sums into means.

Gradients of what was sampled (decision): each row's log-probs are those of the distribution
its completion was *drawn from*, not of the unmodified model. A row sampled at temperature τ
with top-k k and nucleus p gets logp_t = log softmax(trunc(logits_t / τ))[target_t], where
trunc keeps the k largest tempered logits (ties with the k-th kept), then the smallest set of
most likely of those whose mass reaches p (ties at the boundary kept), and sends the rest to
-inf — the same filters, in the same order, as `sampling.strategies.sample` (its `top_p_mask`
is reused here). The kept set is a constant of the forward pass (no gradient through the
truncation); the gradient flows through the tempered, renormalised softmax. So the ratio
r_t and the policy gradient are those of the sampling policy, and the sampler's per-token
log-probs (`SampleOutput.logprobs`) are what the trainer recomputes. Greedy rows (τ = 0,
a point mass with no gradient) are recorded with τ = 1 and no filter: they train, if at all,
on the model's own distribution, and their sampler log-probs are the model's
(`SampleOutput.model_logprobs`). Per-row values travel in the batch (`spice.batch`:
temperature, top_k, top_p [r]); a micro-batch where no row filters carries no top_k / top_p
(`rl.update` drops them on the host), so its program has no top-k / top-p pass (a `lax.cond`
over vocabulary-sharded operands aborted XLA:CPU on the 2x2x2 mesh). `entropy` is that of the same (sampling) distribution.

Sampler-vs-trainer agreement (`agreement_sums`, per role, on trained tokens that carry sampler
log-probs; Δ_t = trainer logp_t - sampler logp_t at the sampling params):
    logprob_abs_diff       mean |Δ_t|
    token_mult_prob_error  mean exp(|Δ_t|)  (NeMo-RL's definition; 1 = exact agreement)
    logprob_ratio_out_band share of tokens with exp(Δ_t) outside [0.9, 1.1]
    logprob_off_support    share of tokens outside the trainer's truncated support (a
                           top-k / top-p boundary decided differently, e.g. a bf16 sampler)
The first two are over the tokens inside the trainer's support (an off-support token has no
finite Δ; it counts as out of band and in logprob_off_support); |Δ_t| is capped at
`AGREE_CAP` nats.

Log-probs never materialise [B, T, V] at once: the final hidden states are projected to the
vocabulary in chunks along T (under `jax.checkpoint`, so the backward pass recomputes each
chunk's logits instead of storing them). Given the loss mask, a chunk holding no completion
position in any row (a stretch of document/prompt) skips the projection altogether.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from spice_jax.models.transformer import Transformer
from spice_jax.sampling import strategies

ROLE_NAMES = ("challenger", "reasoner")

# Largest [rows, chunk, V] f32 logits block (in elements) one chunk may hold: 2^26 = 256 MiB.
LOGITS_BUDGET = 1 << 26
# Longest chunk along T: finer chunks let prompt-only stretches skip the projection.
MAX_CHUNK = 512
# Cap on |trainer - sampler| log-prob per token in the agreement metrics (nats).
AGREE_CAP = 20.0
AGREE_BAND = (0.9, 1.1)
# Log-prob given to a target outside a row's truncated support (instead of -inf).
LOGP_FLOOR = -1e4


def pick_chunk(B: int, T: int, V: int, budget: int | None = None,
               max_chunk: int | None = None) -> int:
  """Chunk length c dividing T (halving from T) with B * c * V <= budget and c <= max_chunk
  (defaults: the module's LOGITS_BUDGET and MAX_CHUNK, read at call time)."""
  budget = LOGITS_BUDGET if budget is None else budget
  max_chunk = MAX_CHUNK if max_chunk is None else max_chunk
  c = T
  while c > 1 and c % 2 == 0 and (B * c * V > budget or c > max_chunk):
    c //= 2
  return c


def _target_logp_entropy(logits: jax.Array, targets: jax.Array):
  """logits [..., V] f32 (-inf where truncated), targets [...] int -> (log p(target) [...],
  entropy [...]).

  The target logit is picked with a compare-and-sum rather than a gather, which stays local
  when the vocabulary axis is sharded.
  """
  lse = jax.nn.logsumexp(logits, axis=-1)
  iota = jax.lax.broadcasted_iota(jnp.int32, logits.shape, logits.ndim - 1)
  tgt = jnp.sum(jnp.where(iota == targets[..., None], logits, 0.0), axis=-1)
  sl = jax.lax.stop_gradient(logits)
  slse = jax.lax.stop_gradient(lse)
  p = jax.nn.softmax(sl, axis=-1)
  ent = slse - jnp.sum(jnp.where(p > 0, p * sl, 0.0), axis=-1)
  return tgt - lse, ent


def _kth_largest_mask(x: jax.Array, k: jax.Array) -> jax.Array:
  """[N, V] bool: x >= the k-th largest of its row (ties kept). x: [N, V] f32; k: [N] >= 1.
  Exact bisection on the float ordering (as `strategies.top_p_mask`), no sort."""
  key = strategies._ordered_key(x)
  pred = lambda t: jnp.sum(key >= t[:, None], axis=-1) >= k
  lo = jnp.min(key, axis=-1)
  hi = jnp.max(key, axis=-1) + jnp.uint32(1)
  return key >= strategies._largest_true(pred, lo, hi)[:, None]


def sampling_logits(logits: jax.Array, temperature: jax.Array, top_k: jax.Array,
                    top_p: jax.Array) -> jax.Array:
  """The logits of the distribution a row was sampled from (module doc).

  logits: [B, c, V] f32; temperature [B] f32 > 0; top_k [B] int32 (0 = off); top_p [B] f32
  in (0, 1] (1 = off). Returns [B, c, V] f32: logits / temperature, -inf outside the top-k
  set and then outside the nucleus (their log-softmax is the sampler's log-prob).
  """
  B, c, V = logits.shape
  scaled = logits / temperature.astype(jnp.float32)[:, None, None]

  def truncate(x):
    flat = jax.lax.stop_gradient(x).reshape(B * c, V)
    k = jnp.repeat(top_k.astype(jnp.int32), c)
    p = jnp.repeat(top_p.astype(jnp.float32), c)
    keep = jnp.where((k > 0)[:, None], _kth_largest_mask(flat, jnp.maximum(k, 1)), True)
    probs = jnp.where(keep, jnp.exp(flat - jnp.max(flat, axis=-1, keepdims=True)), 0.0)
    keep &= jnp.where((p < 1.0)[:, None], strategies.top_p_mask(probs, p), True)
    return jnp.where(keep.reshape(B, c, V), x, -jnp.inf)

  if top_k is None and top_p is None:  # no row filters (decided on the host: no cond)
    return scaled
  return truncate(scaled)


def token_logprobs(module: Transformer, params, tokens: jax.Array, positions: jax.Array,
                   targets: jax.Array, *, loss_mask: jax.Array | None = None,
                   chunk: int | None = None, sampling=None):
  """Log-prob of each target token and the policy entropy at each position.

  Args:
    module: the Transformer (its dtype/remat settings are used).
    params: unboxed params.
    tokens, positions, targets: [B, T] int32 (see spice.batch: targets[b, t] = token t+1).
    loss_mask: optional [B, T]; when the projection is chunked, a chunk with no masked-in
      position in any row (e.g. a stretch of prompt/document) skips the vocabulary projection
      and returns zeros there, forward and backward.
    chunk: T-chunk length for the vocabulary projection (None = `pick_chunk`).
    sampling: optional (temperature [B] f32, top_k [B] int32, top_p [B] f32): each row's
      sampling parameters; the log-probs are then of that distribution (`sampling_logits`).
      None: the unmodified model (temperature 1, no filter).

  Returns:
    (logp [B, T] f32, entropy [B, T] f32; entropy carries no gradient). Where a chunk was
    skipped both are 0.
  """
  B, T = tokens.shape
  hidden, _ = module.apply({"params": params}, tokens, positions, return_hidden=True)
  V = module.cfg.vocab_size
  c = chunk or pick_chunk(B, T, V)
  if T % c:
    raise ValueError(f"token_logprobs: chunk {c} does not divide T={T}")

  def compute(h, tg):  # h [B, c, D], tg [B, c]
    logits = module.apply({"params": params}, h, method=Transformer.project)
    if sampling is None:
      return _target_logp_entropy(logits, tg)
    lp, ent = _target_logp_entropy(sampling_logits(logits.astype(jnp.float32), *sampling), tg)
    # A target outside the truncated support (a token the sampler kept and the trainer's
    # filter did not: numerics at the boundary) gets a finite floor, no gradient, ratio 1.
    return jnp.maximum(lp, LOGP_FLOOR), ent

  def skip(h, tg):
    z = jnp.zeros(tg.shape, jnp.float32)
    return z, z

  if c == T:
    return compute(hidden, targets)
  n = T // c
  hs = jnp.swapaxes(hidden.reshape(B, n, c, -1), 0, 1)  # [n, B, c, D]
  ts = jnp.swapaxes(targets.reshape(B, n, c), 0, 1)
  if loss_mask is None:
    body = lambda a: jax.checkpoint(compute)(*a)
    lp, ent = jax.lax.map(body, (hs, ts))
  else:
    ms = jnp.any(loss_mask.reshape(B, n, c) > 0, axis=(0, 2))  # [n]
    one = jax.checkpoint(lambda h, tg, m: jax.lax.cond(m, compute, skip, h, tg))
    lp, ent = jax.lax.map(lambda a: one(*a), (hs, ts, ms))
  return jnp.swapaxes(lp, 0, 1).reshape(B, T), jnp.swapaxes(ent, 0, 1).reshape(B, T)


def ppo_sums(logp: jax.Array, old_logp: jax.Array, advantages: jax.Array, loss_mask: jax.Array,
             norm: jax.Array, weight: jax.Array, role: jax.Array, *, clip_eps: float = 0.2,
             kl_beta: float = 0.0,
             ref_logp: jax.Array | None = None, entropy: jax.Array | None = None):
  """Weighted loss sum and metric sums for one (micro)batch.

  Args:
    logp, old_logp: [B, T] f32 log-probs of the targets under the current / old policy.
    advantages, norm, weight: [B] f32. role: [B] int32 (0 challenger, 1 reasoner, -1 pad).
    loss_mask: [B, T] f32, 1 on positions that predict completion tokens.
    clip_eps: clip range [1 - clip_eps, 1 + clip_eps].
    kl_beta, ref_logp: k3 KL penalty weight and the reference log-probs [B, T].
    entropy: [B, T] (metric only).

  Returns:
    (loss_sum scalar = sum_b w_b seq_b, dict of metric sums).
  """
  m = loss_mask.astype(jnp.float32)
  a = advantages.astype(jnp.float32)[:, None]
  ratio = jnp.exp(logp - old_logp)
  s1 = ratio * a
  s2 = jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * a
  tok = -jnp.minimum(s1, s2)
  kl = jnp.zeros_like(logp)
  if kl_beta:
    if ref_logp is None:
      raise ValueError("ppo_sums: kl_beta > 0 needs ref_logp")
    d = ref_logp - logp
    kl = jnp.exp(d) - d - 1.0
    tok = tok + kl_beta * kl
  seq = jnp.sum(tok * m, axis=-1) / norm  # [B]
  w = weight.astype(jnp.float32)
  loss_sum = jnp.sum(w * seq)
  active = m * (w[:, None] > 0)
  big = jnp.float32(3e38)
  sums = dict(
      loss_sum=loss_sum,
      weight_sum=jnp.sum(w),
      tokens=jnp.sum(active),
      clipped=jnp.sum(active * (s2 < s1)),
      ratio_sum=jnp.sum(active * ratio),
      ratio_max=jnp.max(jnp.where(active > 0, ratio, -big)),
      ratio_min=jnp.min(jnp.where(active > 0, ratio, big)),
      kl_sum=jnp.sum(active * kl),
      # k3 estimate of KL(old || current), a drift diagnostic.
      kl_old_sum=jnp.sum(active * (jnp.exp(old_logp - logp) - (old_logp - logp) - 1.0)),
  )
  if entropy is not None:
    sums["entropy_sum"] = jnp.sum(active * entropy)
  for r, name in enumerate(ROLE_NAMES):
    is_r = (role == r).astype(jnp.float32)
    sums[f"loss_sum_{name}"] = jnp.sum(is_r * w * seq)
    sums[f"weight_sum_{name}"] = jnp.sum(is_r * w)
    act_r = active * is_r[:, None]
    sums[f"tokens_{name}"] = jnp.sum(act_r)
    sums[f"clipped_{name}"] = jnp.sum(act_r * (s2 < s1))
    if entropy is not None:
      sums[f"entropy_sum_{name}"] = jnp.sum(act_r * entropy)
  return loss_sum, jax.lax.stop_gradient(sums)


def agreement_sums(trainer_logp: jax.Array, sampler_logp: jax.Array, mask: jax.Array,
                   role: jax.Array) -> dict[str, jax.Array]:
  """Per-role sums of the sampler-vs-trainer agreement metrics (module doc).

  trainer_logp, sampler_logp: [B, T] f32 log-probs of the same tokens (the trainer's at the
  params the rows were sampled with); mask: [B, T] f32, 1 where both exist and are trained;
  role: [B] int32. Returns agree_{tokens,in,absdiff,mult,out,off}_<role> sums (no
  gradient; `in`: tokens inside the trainer's support)."""
  trainer_logp = jax.lax.stop_gradient(trainer_logp)
  off = (trainer_logp <= 0.5 * LOGP_FLOOR) | jnp.isnan(trainer_logp)
  d = jnp.where(off, 0.0, trainer_logp - jax.lax.stop_gradient(sampler_logp))
  ad = jnp.minimum(jnp.abs(d), AGREE_CAP)
  ratio = jnp.exp(jnp.clip(d, -AGREE_CAP, AGREE_CAP))
  out_band = (ratio < AGREE_BAND[0]) | (ratio > AGREE_BAND[1]) | off
  m = mask.astype(jnp.float32)
  sums = {}
  for r, name in enumerate(ROLE_NAMES):
    mr = m * (role == r).astype(jnp.float32)[:, None]
    mi = mr * ~off
    sums[f"agree_tokens_{name}"] = jnp.sum(mr)
    sums[f"agree_in_{name}"] = jnp.sum(mi)
    sums[f"agree_absdiff_{name}"] = jnp.sum(mi * ad)
    sums[f"agree_mult_{name}"] = jnp.sum(mi * jnp.exp(ad))
    sums[f"agree_out_{name}"] = jnp.sum(mr * out_band)
    sums[f"agree_off_{name}"] = jnp.sum(mr * off)
  return sums


def ppo_loss(*args, **kw):
  """Mean form of `ppo_sums`: (loss = sum_b w_b seq_b / sum_b w_b, finalized metrics)."""
  loss_sum, sums = ppo_sums(*args, **kw)
  return loss_sum / jnp.maximum(sums["weight_sum"], 1e-12), finalize(sums)


def combine(a: dict[str, jax.Array], b: dict[str, jax.Array]) -> dict[str, jax.Array]:
  """Adds two metric-sum dicts (max/min for the ratio extremes)."""
  out = {}
  for k in a:
    if k == "ratio_max":
      out[k] = jnp.maximum(a[k], b[k])
    elif k == "ratio_min":
      out[k] = jnp.minimum(a[k], b[k])
    else:
      out[k] = a[k] + b[k]
  return out


def finalize(sums: dict[str, jax.Array]) -> dict[str, Any]:
  """Metric sums -> means: loss, loss_<role>, entropy, clip_frac, ratio_*, kl, kl_old, and
  per role <role>/clip_frac, <role>/entropy and (with agreement sums) <role>/
  logprob_abs_diff, token_mult_prob_error, logprob_ratio_out_band, logprob_off_support,
  logprob_agree_tokens."""
  def div(x, y):
    return x / jnp.maximum(y, 1e-12)
  tok = sums["tokens"]
  out = dict(
      loss=div(sums["loss_sum"], sums["weight_sum"]),
      clip_frac=div(sums["clipped"], tok),
      ratio_mean=div(sums["ratio_sum"], tok),
      ratio_max=jnp.where(tok > 0, sums["ratio_max"], 1.0),
      ratio_min=jnp.where(tok > 0, sums["ratio_min"], 1.0),
      kl=div(sums["kl_sum"], tok),
      kl_old=div(sums["kl_old_sum"], tok),
      tokens=tok,
  )
  if "entropy_sum" in sums:
    out["entropy"] = div(sums["entropy_sum"], tok)
  for name in ROLE_NAMES:
    out[f"loss_{name}"] = div(sums[f"loss_sum_{name}"], sums[f"weight_sum_{name}"])
    out[f"{name}/clip_frac"] = div(sums[f"clipped_{name}"], sums[f"tokens_{name}"])
    if f"entropy_sum_{name}" in sums:
      out[f"{name}/entropy"] = div(sums[f"entropy_sum_{name}"], sums[f"tokens_{name}"])
    if f"agree_tokens_{name}" in sums:
      n, n_in = sums[f"agree_tokens_{name}"], sums[f"agree_in_{name}"]
      out[f"{name}/logprob_abs_diff"] = div(sums[f"agree_absdiff_{name}"], n_in)
      out[f"{name}/token_mult_prob_error"] = jnp.where(
          n_in > 0, div(sums[f"agree_mult_{name}"], n_in), 1.0)
      out[f"{name}/logprob_ratio_out_band"] = div(sums[f"agree_out_{name}"], n)
      out[f"{name}/logprob_off_support"] = div(sums[f"agree_off_{name}"], n)
      out[f"{name}/logprob_agree_tokens"] = n
  return out
