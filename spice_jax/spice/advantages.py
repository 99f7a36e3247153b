"""Group-relative advantages via segment ops (SPEC §5), with a registry of estimators.

One call handles a whole mixed batch: every trajectory carries a group id (a Challenger
group = the G kept outputs for one document, a Reasoner group = the K answers to one task);
group statistics are segment sums, so groups of different roles and sizes never mix.

    adv = compute(rewards, group_ids, num_groups, estimator="dr_grpo")

Rows whose group id is outside [0, num_groups) (e.g. -1 for padding) get advantage 0 and do
not enter any group's statistics. Config strings choose the estimator (`get(name)`); add
one with `@register("name")`; an estimator has the signature
`fn(rewards [N] f32, group_ids [N] int32, num_groups: int, *, eps: float, **kw) -> [N] f32`.
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp

from spice_jax.errors import SpiceError
from spice_jax.utils.registry import Registry

Estimator = Callable[..., jax.Array]


class AdvantageError(SpiceError, ValueError):
  pass


_REGISTRY: Registry[Estimator] = Registry("advantage estimator", AdvantageError)
register, get, names = _REGISTRY.register, _REGISTRY.get, _REGISTRY.names


def group_stats(rewards: jax.Array, group_ids: jax.Array, num_groups: int, ddof: int = 0):
  """Per-row group mean, std and size, plus the in-range mask.

  Returns (mean [N], std [N], count [N], in_group [N] bool). The std is sqrt of the group's
  sum of squared deviations / max(count - ddof, 1).
  """
  r = jnp.asarray(rewards, jnp.float32)
  g = jnp.asarray(group_ids, jnp.int32)
  in_group = (g >= 0) & (g < num_groups)
  gs = jnp.where(in_group, g, num_groups)  # out-of-range rows go to a dropped segment
  seg = functools.partial(jax.ops.segment_sum, segment_ids=gs, num_segments=num_groups + 1)
  count = seg(jnp.ones_like(r))
  mean = seg(r) / jnp.maximum(count, 1.0)
  dev = r - mean[gs]
  var = seg(dev * dev) / jnp.maximum(count - ddof, 1.0)
  return mean[gs], jnp.sqrt(var)[gs], count[gs], in_group


@register("dr_grpo")
def dr_grpo(rewards, group_ids, num_groups: int, *, eps: float = 1e-6, **_):
  """Dr. GRPO: reward minus the group mean, no std division."""
  mean, _, _, in_group = group_stats(rewards, group_ids, num_groups)
  return jnp.where(in_group, jnp.asarray(rewards, jnp.float32) - mean, 0.0)


@register("grpo")
def grpo(rewards, group_ids, num_groups: int, *, eps: float = 1e-6, ddof: int = 0, **_):
  """GRPO: (reward - group mean) / (group std + eps). Population std by default (ddof=0)."""
  mean, std, _, in_group = group_stats(rewards, group_ids, num_groups, ddof)
  adv = (jnp.asarray(rewards, jnp.float32) - mean) / (std + eps)
  return jnp.where(in_group, adv, 0.0)


def compute(rewards: jax.Array, group_ids: jax.Array, num_groups: int,
            estimator: str = "dr_grpo", eps: float = 1e-6, **kw) -> jax.Array:
  """Advantages for a mixed batch.

  Args:
    rewards: [N] f32 scalar reward per trajectory.
    group_ids: [N] int32 group index in [0, num_groups) (others: padding, advantage 0).
    num_groups: static number of groups (an upper bound is fine; empty groups are harmless).
    estimator: registry name ("dr_grpo", "grpo", ...).
    eps: std-division epsilon (GRPO).

  Returns:
    [N] f32 advantages.
  """
  rewards = jnp.asarray(rewards)
  group_ids = jnp.asarray(group_ids)
  if rewards.shape != group_ids.shape or rewards.ndim != 1:
    raise AdvantageError(f"advantages.compute: rewards {rewards.shape} and group_ids "
                         f"{group_ids.shape} must both be [N]")
  return get(estimator)(rewards, group_ids, int(num_groups), eps=eps, **kw).astype(jnp.float32)

