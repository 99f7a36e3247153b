"""The policy update: `update(state, batch) -> (state, metrics)`, one PPO epoch (SPEC §5).

`batch` is a `spice.batch.Batch`: n minibatches, each a list of micro-batches [r, T] whose
T is a length bucket (see spice/batch.py). One call:

1. Old log-probs. `old_logprobs="recompute"` (default): the learner's own forward with the
   params *before* any step. Minibatch 0 uses the stop-gradient of the log-probs its loss
   computes (identical params, so the ratio is exactly 1 there and no forward is wasted);
   the micro-batches of minibatches 1..n-1 get theirs from a no-grad pre-pass through the
   same module (same dtype, same remat scan) as the loss, so at unchanged params the two
   agree bit for bit in every dtype. `old_logprobs="sampler"`: rows with
   `has_old_logprobs` use the batch's `old_logprobs`; rows without fall back to the current
   stop-gradient log-probs (ratio 1). With `kl_beta > 0` the pre-pass also gives the
   reference log-probs (state.ref_params).
   Every log-prob here is of the distribution the row was sampled from: the micro-batch's
   per-row temperature / top_k / top_p (spice.batch; absent keys = temperature 1, no filter).
2. Per minibatch: gradients and loss sums of its micro-batches, accumulated exactly (the
   loss is a weighted sum divided by the minibatch's total weight), then one AdamW step.
   A minibatch with no micro-batch (all weights 0) takes no step. make_batch keeps only
   rows of positive weight, so every micro-batch's total weight is > 0.

Each piece is a jitted pure function compiled once per micro-batch shape, i.e. once per
length bucket; the Python loop over micro-batches only dispatches them. Shardings: params
(and Adam moments) per `models.param_shardings`, micro-batch rows over ('data', 'fsdp'), so
a micro-batch's rows must be a multiple of the devices on those axes (make_batch's
row_multiple). The state is donated.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding, PartitionSpec as P

from spice_jax.errors import SpiceError
from spice_jax import parallel
from spice_jax.models import model as model_lib
from spice_jax.models import attention as attention_lib
from spice_jax.models.config import ModelConfig
from spice_jax.models.transformer import Transformer
from spice_jax.rl import loss as loss_lib
from spice_jax.rl import state as state_lib

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
_ROW_KEYS = ("tokens", "positions", "targets", "loss_mask", "advantages", "norm", "weight",
             "role", "old_logprobs", "has_old_logprobs")
# Per-row sampling parameters (spice.batch); a micro-batch without them was sampled at
# temperature 1 with no filter.
_SAMPLING_KEYS = {"temperature": (np.float32, 1.0), "top_k": (np.int32, 0),
                  "top_p": (np.float32, 1.0)}


class UpdateError(SpiceError, ValueError):
  pass


def _any_filter(top_k, top_p) -> bool:
  """Whether any row of a micro-batch was sampled with top-k or top-p, read on the host. A
  global array spanning other processes' devices is not read: its program keeps the filter
  pass, which is exact (a no-op) for rows without a filter."""
  for a in (top_k, top_p):
    if isinstance(a, jax.Array) and not a.is_fully_addressable:
      return True
  return bool(np.any(np.asarray(top_k) > 0) or np.any(np.asarray(top_p) < 1.0))


def batch_axes(mesh) -> tuple[str, ...]:
  """Mesh axes the batch rows are split over (those of ('data', 'fsdp') with size > 1)."""
  return tuple(a for a in ("data", "fsdp") if mesh.shape[a] > 1)


def _batch_spec(mesh) -> P:
  axes = batch_axes(mesh)
  if not axes:
    return P()
  return P(axes if len(axes) > 1 else axes[0])


def _module(cfg: ModelConfig, compute_dtype: str, remat: bool) -> Transformer:
  if compute_dtype not in DTYPES:
    raise UpdateError(f"compute_dtype must be one of {sorted(DTYPES)}, got {compute_dtype!r}")
  return Transformer(cfg, dtype=DTYPES[compute_dtype], remat=remat)


def _check_micro(m: dict, i: int, dp: int, mesh) -> None:
  missing = [k for k in _ROW_KEYS if k not in m]
  if missing:
    raise UpdateError(f"micro-batch {i} is missing keys {missing} (see spice_jax.spice.batch)")
  r = np.shape(m["tokens"])[0]
  if r % dp:
    raise UpdateError(f"micro-batch {i} has {r} rows, not a multiple of the {dp} devices on "
                      f"the batch axes {batch_axes(mesh)} (make_batch's row_multiple)")


def make_update_fn(cfg: ModelConfig, mesh, optim: state_lib.OptimConfig | Any = None, *,
                   compute_dtype: str = "float32", remat: bool = True, clip_eps: float = 0.2,
                   kl_beta: float = 0.0, old_logprobs: str = "recompute",
                   donate: bool = True):
  """Builds `update(state, batch) -> (state, metrics)`.

  Args:
    cfg: model architecture.
    mesh: the ('data', 'fsdp', 'tensor') mesh the state and batch live on.
    optim: the optimizer description the state was created with (state.optim must equal it).
    compute_dtype: "float32" or "bfloat16" (params stay fp32 masters; cast on use).
    remat: rematerialise each transformer block in the backward pass.
    clip_eps: PPO clip range [1 - clip_eps, 1 + clip_eps].
    kl_beta: weight of the k3 KL to state.ref_params (0 = none; > 0 needs a state created
      with ref_params).
    old_logprobs: "recompute" (learner forward before any step) or "sampler" (batch values).
    donate: donate the input state's buffers.

  Returns:
    update(state, batch) -> (new_state, metrics dict of f32 scalars): loss (mean over stepped
    minibatches of each one's weighted mean loss), loss_challenger, loss_reasoner, entropy,
    clip_frac, ratio_mean/min/max, kl, kl_old, per-role clip_frac/entropy, per-role
    sampler-vs-trainer agreement (<role>/logprob_abs_diff, token_mult_prob_error,
    logprob_ratio_out_band, logprob_agree_tokens: rl/loss.py; the trainer's log-probs at the
    sampling params against the batch's `old_logprobs`, on rows that carry them), grad_norm
    (pre-clip, mean over stepped minibatches), lr, steps (optimizer steps taken), tokens.
    It carries `logprobs(params, micro) -> [r, T]` (the pre-pass: log-prob of each target),
    `grads(params, micro, old, first) -> (grads, sums)` (one micro-batch's loss-sum
    gradient and metric sums), `batch_sharding` and `state_shardings`.
  """
  optim = state_lib.OptimConfig.from_any(optim)
  if old_logprobs not in ("recompute", "sampler"):
    raise UpdateError(f"old_logprobs must be 'recompute' or 'sampler', got {old_logprobs!r}")
  # cfg.attention "auto" resolves for the mesh's devices (splash on a TPU mesh).
  module = _module(attention_lib.for_mesh(cfg, mesh), compute_dtype, remat)
  tx = state_lib.make_optimizer(optim)
  lr_at = state_lib.schedule(optim)
  dp = math.prod(mesh.shape[a] for a in batch_axes(mesh))
  with_ref = bool(kl_beta)

  def logp(params, rows):  # [r, T] f32 and entropy; the one forward path of the update
    return loss_lib.token_logprobs(
        module, params, rows["tokens"], rows["positions"], rows["targets"],
        loss_mask=rows["loss_mask"],
        sampling=((rows["temperature"], rows.get("top_k"), rows.get("top_p"))
                  if "temperature" in rows else None))  # None: temperature 1, no filter

  def prepass(params, rows):
    return jax.lax.stop_gradient(logp(params, rows)[0])

  def micro_loss(params, rows, old, first, ref):
    lp, ent = logp(params, rows)
    cur = jax.lax.stop_gradient(lp)
    if old_logprobs == "recompute":
      use_cur = jnp.broadcast_to(first, rows["has_old_logprobs"].shape)
    else:
      use_cur = ~rows["has_old_logprobs"]
      old = rows["old_logprobs"]
    old = jnp.where(use_cur[:, None], cur, old)
    loss_sum, sums = loss_lib.ppo_sums(
        lp, old, rows["advantages"], rows["loss_mask"], rows["norm"], rows["weight"],
        rows["role"], clip_eps=clip_eps, kl_beta=kl_beta, ref_logp=ref, entropy=ent)
    # Sampler vs trainer on the same tokens at the sampling params: the recomputed old
    # log-probs; with sampler old log-probs, the current ones at minibatch 0 only.
    trainer = old if old_logprobs == "recompute" else cur
    at_sampling_params = first if old_logprobs == "sampler" else True
    mask = (rows["loss_mask"] * rows["has_old_logprobs"][:, None]
            * (rows["weight"] > 0)[:, None] * at_sampling_params)
    sums.update(loss_lib.agreement_sums(trainer, rows["old_logprobs"], mask, rows["role"]))
    return loss_sum, sums

  def step(state, grads, wsum):
    grads = jax.tree.map(lambda g: g / jnp.maximum(wsum, 1e-12), grads)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    return (state.replace(step=state.step + 1, params=params, opt_state=opt_state),
            optax.global_norm(grads))

  abs_params = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, jnp.float32),
                            parallel.unbox(model_lib.abstract_params(cfg)))
  abs_state = state_lib.abstract_state(abs_params, optim, with_ref=with_ref)
  p_sh = parallel.unbox(model_lib.param_shardings(cfg, mesh))
  st_sh = state_lib.state_shardings(p_sh, abs_state, mesh)
  row_sh = NamedSharding(mesh, _batch_spec(mesh))
  rep = NamedSharding(mesh, P())
  prepass_j = jax.jit(prepass, in_shardings=(p_sh, row_sh), out_shardings=row_sh)
  grads_j = jax.jit(jax.grad(micro_loss, has_aux=True),
                    in_shardings=(p_sh, row_sh, row_sh, rep, row_sh if with_ref else None),
                    out_shardings=(p_sh, rep))
  add_j = jax.jit(lambda a, b: jax.tree.map(jnp.add, a, b), in_shardings=(p_sh, p_sh),
                  out_shardings=p_sh, donate_argnums=(0,))
  step_j = jax.jit(step, in_shardings=(st_sh, p_sh, rep), out_shardings=(st_sh, rep),
                   donate_argnums=(0,) if donate else ())

  # XLA:CPU runs each simulated device's part of a program on a shared thread pool, and a
  # part that reaches a collective holds its thread until every part has arrived. With two
  # multi-device programs in flight (async dispatch), the pool can fill with parts of both,
  # each waiting for peers that cannot start: a deadlock, which XLA ends by aborting the
  # process (seen on the 2-core test VM under load, 8 devices, a collective permute of the
  # gradient). On a CPU mesh of several devices each program finishes before the next one
  # starts; accelerators keep async dispatch.
  cpu_multi = mesh.devices.size > 1 and mesh.devices.flat[0].platform == "cpu"
  sync = jax.block_until_ready if cpu_multi else (lambda x: x)

  def rows_of(m):
    rows = {k: m[k] for k in _ROW_KEYS}
    r = np.shape(m["tokens"])[0]
    for k, (dt, default) in _SAMPLING_KEYS.items():
      rows[k] = m[k] if k in m else np.full((r,), default, dt)
    if not _any_filter(rows["top_k"], rows["top_p"]):
      del rows["top_k"], rows["top_p"]   # no row filters: a program without the filter pass
    return rows

  def update(state: state_lib.TrainState, batch):
    if state.optim != optim:
      raise UpdateError(f"state.optim {state.optim} differs from the update's optim {optim}")
    if (state.ref_params is not None) != with_ref:
      raise UpdateError(f"state {'has' if state.ref_params is not None else 'lacks'} "
                        f"ref_params but the update has kl_beta={kl_beta} (a state with "
                        "ref_params goes with kl_beta > 0)")
    if not batch.micro:
      raise UpdateError("batch has no micro-batch (make_batch raises EmptyBatchError instead)")
    for i, m in enumerate(batch.micro):
      _check_micro(m, i, dp, mesh)
    micro = [rows_of(m) for m in batch.micro]
    with jax.set_mesh(mesh):
      # Pre-pass with the params before any step.
      old = [sync(prepass_j(state.params, m)) if old_logprobs == "recompute" and i > 0
             else m["old_logprobs"] for m, i in zip(micro, batch.minibatch)]
      ref = [sync(prepass_j(state.ref_params, m)) if with_ref else None for m in micro]
      per_mb, gnorms = [], []
      for i in range(batch.num_minibatches):
        acc = sums = None
        for j in (j for j, b in enumerate(batch.minibatch) if b == i):
          g, s = sync(grads_j(state.params, micro[j], old[j], np.bool_(i == 0), ref[j]))
          acc = g if acc is None else sync(add_j(acc, g))
          sums = s if sums is None else loss_lib.combine(sums, s)
        if acc is None:
          continue  # every row of this minibatch has weight 0 (make_batch left it empty)
        state, gnorm = sync(step_j(state, acc, sums["weight_sum"]))
        per_mb.append(sums)
        gnorms.append(gnorm)
    return state, _metrics(per_mb, gnorms, lr_at(jnp.maximum(state.step - 1, 0)))

  update.logprobs = lambda params, m: prepass_j(params, rows_of(m))
  update.grads = lambda params, m, old, first, ref=None: grads_j(
      params, rows_of(m), old, np.bool_(first), ref)
  update.compiled_parts = dict(prepass=prepass_j, grads=grads_j, step=step_j)  # plans, tests
  update.state_shardings = st_sh
  update.batch_sharding = row_sh
  return update


def _metrics(per_mb: list[dict], gnorms: list, lr) -> dict[str, np.float32]:
  """Host-side metrics from each stepped minibatch's metric sums (see `make_update_fn`)."""
  per_mb, gnorms = jax.device_get((per_mb, gnorms))
  total = per_mb[0]
  for s in per_mb[1:]:
    total = loss_lib.combine(total, s)
  m = loss_lib.finalize(total)
  # The objective: mean over minibatches of each minibatch's own weighted mean loss.
  m["loss"] = np.mean([s["loss_sum"] / s["weight_sum"] for s in per_mb])
  m.update(grad_norm=np.mean(gnorms), steps=len(per_mb), lr=lr)
  return {k: np.float32(v) for k, v in m.items()}
