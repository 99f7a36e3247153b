"""SPICE rewards (SPEC §4), pure jnp and jittable, with a registry of Challenger variants.

The Challenger's reward is a function of its task's pass rate `p` (the share of the K
Reasoner answers judged correct against the gold answer: the Challenger's own answer, or the
majority answer under R-Zero pseudo-labels, where `p` is then the majority share). Variants
(config: `spice.challenger_reward`; parameters: `spice.reward_params[<variant>]`):
  variance       exp(-(p(1-p) - target_var)^2 / (2 sigma2)), sigma2 = 0.01, target_var = 0.25
                 (the SPICE reward; p(1-p) is the population variance of the bits).
  absolute_zero  1 - p if 0 < p < 1 else 0.
  threshold      1 if 0 < p < 1 else 0.
  rzero          1 - 2 |p - 0.5|.
Invalid tasks get `invalid_reward` (rho, default -0.1) whatever the variant.

A new variant is one function `fn(p: [N] f32, **params) -> [N] f32` decorated with
`@register("name")`, and `spice.challenger_reward = "name"` in a config.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp

from spice_jax.errors import SpiceError
from spice_jax.utils.registry import Registry

INVALID_REWARD = -0.1

Variant = Callable[..., jax.Array]


class RewardError(SpiceError, ValueError):
  pass


_REGISTRY: Registry[Variant] = Registry("challenger reward", RewardError)
register, get, names = _REGISTRY.register, _REGISTRY.get, _REGISTRY.names


def check_params(name: str, params: Mapping[str, Any]) -> None:
  """Raises RewardError unless `params` are keyword arguments that variant `name` takes."""
  sig = inspect.signature(get(name))
  known = [p for p in list(sig.parameters)[1:]]
  for k in params:
    if k not in known:
      raise RewardError(f"{name}: unknown parameter {k!r}; it takes {known or 'none'}")


@register("variance")
def variance(p, *, sigma2: float = 0.01, target_var: float = 0.25):
  var = p * (1.0 - p)
  return jnp.exp(-jnp.square(var - target_var) / (2.0 * sigma2))


@register("absolute_zero")
def absolute_zero(p):
  return jnp.where((p > 0) & (p < 1), 1.0 - p, 0.0)


@register("threshold")
def threshold(p):
  return jnp.where((p > 0) & (p < 1), 1.0, 0.0)


@register("rzero")
def rzero(p):
  return 1.0 - 2.0 * jnp.abs(p - 0.5)


def pass_rate(correct: jax.Array, sample_mask: jax.Array | None = None) -> jax.Array:
  """Mean correctness per task. correct: [N, K]; sample_mask: [N, K] bool or None -> [N] f32.

  With a mask, only masked-in samples count; a task with no sample gets p = 0.
  """
  c = jnp.asarray(correct).astype(jnp.float32)
  if sample_mask is None:
    return jnp.mean(c, axis=-1)
  m = jnp.asarray(sample_mask).astype(jnp.float32)
  return jnp.sum(c * m, axis=-1) / jnp.maximum(jnp.sum(m, axis=-1), 1.0)


def challenger_reward(correct: jax.Array, valid: jax.Array, variant: str = "variance", *,
                      invalid_reward: float = INVALID_REWARD,
                      sample_mask: jax.Array | None = None, **params) -> jax.Array:
  """Challenger reward per task.

  Args:
    correct: [N, K] bool/0-1 correctness of the Reasoner's K samples (ignored for invalid
      tasks, which may hold anything).
    valid: [N] bool, whether the Challenger's task parsed as valid.
    variant: a registered variant name (`names()`).
    invalid_reward: rho, the reward of an invalid task (SPEC: -0.1; R-Zero baseline: -1).
    sample_mask: optional [N, K] bool, which samples exist (for ragged K).
    **params: the variant's own parameters (e.g. sigma2, target_var for "variance").

  Returns:
    [N] float32.
  """
  fn = get(variant)
  check_params(variant, params)
  valid = jnp.asarray(valid, bool)
  p = pass_rate(correct, sample_mask)
  if p.shape != valid.shape:
    raise RewardError(f"challenger_reward: correct gives {p.shape} tasks, valid has "
                      f"{valid.shape}")
  return jnp.where(valid, fn(p, **params), jnp.float32(invalid_reward)).astype(jnp.float32)


def reasoner_reward(correct: jax.Array) -> jax.Array:
  """Reasoner reward: 1 for a correct answer, else 0. correct: [N, K] -> [N, K] f32."""
  return jnp.asarray(correct).astype(jnp.float32)
