"""Training state and optimizer (SPEC §5: AdamW, lr 1e-6 constant, b=(0.9, 0.95), wd 0, clip 1).

`TrainState` is a pytree: step, fp32 master `params`, `opt_state`, and optional frozen
`ref_params` (for the k3 KL). Its optimizer description `optim` is a static (hashable,
compared by value) field, so a jitted update rebuilds the identical optax transformation from
it and a state can be checkpointed as plain arrays.

Opt-state leaves that mirror a parameter (Adam's mu/nu) are placed with that parameter's
sharding; everything else (counters) is replicated. See `state_shardings`.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Any, Mapping

import flax
import jax
import jax.numpy as jnp
import optax
from jax.sharding import NamedSharding, PartitionSpec as P

from spice_jax.errors import SpiceError


class OptimConfigError(SpiceError, ValueError):
  pass


@dataclasses.dataclass(frozen=True)
class OptimConfig:
  """AdamW with global-norm clipping.

  Attributes:
    lr: peak learning rate (constant after warmup).
    b1, b2, eps: Adam moments and epsilon.
    weight_decay: decoupled weight decay (AdamW).
    clip_norm: global gradient-norm clip (<= 0 disables).
    warmup_steps: linear warmup from 0 over this many optimizer steps (0 = none).
    freeze: regexes over parameter paths ("layers_0/attn/q", "embed", ...); matching
      parameters get no update and no Adam state.
  """
  lr: float = 1e-6
  b1: float = 0.9
  b2: float = 0.95
  eps: float = 1e-8
  weight_decay: float = 0.0
  clip_norm: float = 1.0
  warmup_steps: int = 0
  freeze: tuple[str, ...] = ()

  @classmethod
  def from_any(cls, cfg: Any) -> "OptimConfig":
    """From an OptimConfig, a dict, an ml_collections.ConfigDict or None (defaults)."""
    if cfg is None:
      return cls()
    if isinstance(cfg, cls):
      return cfg
    if hasattr(cfg, "to_dict"):
      cfg = cfg.to_dict()
    if not isinstance(cfg, Mapping):
      raise OptimConfigError(f"optimizer config must be a mapping or OptimConfig, got {type(cfg)}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(cfg) - known)
    if unknown:
      raise OptimConfigError(f"optimizer config: unknown fields {unknown}; known: {sorted(known)}")
    kw = dict(cfg)
    if "freeze" in kw:
      kw["freeze"] = tuple(kw["freeze"] or ())
    return cls(**kw)


def schedule(cfg: OptimConfig) -> optax.Schedule:
  if cfg.warmup_steps > 0:
    return optax.join_schedules(
        [optax.linear_schedule(0.0, cfg.lr, cfg.warmup_steps), optax.constant_schedule(cfg.lr)],
        [cfg.warmup_steps])
  return optax.constant_schedule(cfg.lr)


def _path_str(path) -> str:
  parts = []
  for k in path:
    for attr in ("key", "name", "idx"):
      if hasattr(k, attr):
        parts.append(str(getattr(k, attr)))
        break
    else:
      parts.append(str(k))
  return "/".join(parts)


def make_optimizer(cfg: OptimConfig) -> optax.GradientTransformation:
  """clip_by_global_norm -> AdamW(schedule); frozen params (cfg.freeze) get zero updates."""
  parts = []
  if cfg.clip_norm and cfg.clip_norm > 0:
    parts.append(optax.clip_by_global_norm(cfg.clip_norm))
  parts.append(optax.adamw(schedule(cfg), b1=cfg.b1, b2=cfg.b2, eps=cfg.eps,
                           weight_decay=cfg.weight_decay))
  tx = optax.chain(*parts)
  if not cfg.freeze:
    return tx
  pats = [re.compile(p) for p in cfg.freeze]

  def labels(params):
    return jax.tree_util.tree_map_with_path(
        lambda path, _: "frozen" if any(p.search(_path_str(path)) for p in pats) else "train",
        params)
  return optax.multi_transform({"train": tx, "frozen": optax.set_to_zero()}, labels)


@flax.struct.dataclass
class TrainState:
  """step: int32 optimizer steps taken; params: fp32 master weights; opt_state: optax state;
  ref_params: frozen reference for the KL (or None); optim: static optimizer description."""
  step: jax.Array
  params: Any
  opt_state: Any
  ref_params: Any = None
  optim: OptimConfig = flax.struct.field(pytree_node=False, default=OptimConfig())

  @property
  def tx(self) -> optax.GradientTransformation:
    return make_optimizer(self.optim)


def state_shardings(param_shardings, abstract_state: TrainState, mesh) -> TrainState:
  """Shardings for every leaf of a TrainState.

  A leaf of opt_state whose key path ends with a parameter's path and has that parameter's
  shape gets the parameter's sharding; ref_params mirror params; the rest is replicated.
  """
  rep = NamedSharding(mesh, P())
  by_path = {}
  for path, sh in jax.tree_util.tree_leaves_with_path(param_shardings):
    by_path[_path_str(path)] = sh
  params_sh = param_shardings

  def opt_leaf(path, x):
    s = _path_str(path)
    for ppath, sh in by_path.items():
      if s == ppath or s.endswith("/" + ppath):
        return sh
    return rep
  opt_sh = jax.tree_util.tree_map_with_path(opt_leaf, abstract_state.opt_state)
  ref_sh = None if abstract_state.ref_params is None else params_sh
  return abstract_state.replace(step=rep, params=params_sh, opt_state=opt_sh, ref_params=ref_sh)


def abstract_state(abstract_params, optim: OptimConfig | Any = None,
                   with_ref: bool = False) -> TrainState:
  """Shape-only TrainState for `abstract_params` (a tree of ShapeDtypeStruct)."""
  optim = OptimConfig.from_any(optim)
  return jax.eval_shape(
      lambda p: TrainState(step=jnp.zeros((), jnp.int32), params=p,
                           opt_state=make_optimizer(optim).init(p),
                           ref_params=p if with_ref else None, optim=optim), abstract_params)


def create(params, optim_config: OptimConfig | Any = None, *, ref_params=None,
           mesh=None) -> TrainState:
  """A fresh TrainState around `params` (fp32 master weights, e.g. `Model.params`).

  Args:
    params: unboxed param pytree. If its leaves carry NamedShardings, the optimizer state is
      created with matching shardings (see `state_shardings`).
    optim_config: OptimConfig, dict or ConfigDict (fields of OptimConfig); None = defaults.
    ref_params: optional frozen reference params (for kl_beta > 0); pass `params` to freeze
      a copy of the initial model (a new buffer is made, so donation is safe).
    mesh: mesh for replicated leaves; inferred from the params' shardings if omitted.
  """
  optim = OptimConfig.from_any(optim_config)
  params = jax.tree.map(lambda x: x.astype(jnp.float32), params)
  shardings = jax.tree.map(lambda x: getattr(x, "sharding", None), params)
  leaves = jax.tree.leaves(shardings)
  if mesh is None and leaves and isinstance(leaves[0], NamedSharding):
    mesh = leaves[0].mesh
  absp = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), params)
  abs_state = abstract_state(absp, optim, with_ref=ref_params is not None)
  out_sh = None
  if mesh is not None and all(isinstance(s, NamedSharding) for s in leaves):
    out_sh = state_shardings(shardings, abs_state, mesh)
  sh_leaves, sh_def = jax.tree.flatten(out_sh)
  fn = _init_fn(optim, sh_def, tuple(sh_leaves))
  if mesh is not None:
    with jax.set_mesh(mesh):
      return fn(params, ref_params)
  return fn(params, ref_params)


@functools.lru_cache(maxsize=64)
def _init_fn(optim: OptimConfig, sh_def, sh_leaves):
  """One jitted initialiser per (optimizer, output shardings), so repeated `create` calls
  reuse the compiled executable."""
  out_sh = None if sh_def is None else jax.tree.unflatten(sh_def, sh_leaves)

  def init(p, ref):
    return TrainState(step=jnp.zeros((), jnp.int32), params=p,
                      opt_state=make_optimizer(optim).init(p),
                      ref_params=None if ref is None else jax.tree.map(jnp.copy, ref),
                      optim=optim)
  return jax.jit(init, out_shardings=out_sh)
