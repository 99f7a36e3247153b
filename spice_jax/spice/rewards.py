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
  plateau        SPADE's flat-top difficulty reward (arXiv 2608.19197; their
                 `plateau_reward`): 1 on lo <= p <= hi, falling linearly to 0 at a distance
                 `ramp` outside the band: clip(1 - max(lo - p, p - hi, 0) / ramp, 0, 1);
                 lo = 0.4, hi = 0.6, ramp = 0.25 (so 0 at p <= 0.15 and p >= 0.85).
  grounding_regret
                 SPADE's hint-based regret (arXiv 2608.19197), with the document as the hint:
                 g = (p_grounded - p) / scale, where p_grounded is the pass rate of K extra
                 Reasoner answers sampled *with the document in the prompt* (never trained
                 on); with floor (default) g = clip(g, 0, 1) (SPADE: negative regret is
                 unreliable and is floored at 0). Reward = regret_weight * g
                 + plateau_weight * plateau(p; lo, hi, ramp). Defaults (scale 1, floor,
                 regret_weight 1, plateau_weight 0) are SPADE's `regret_based` reward
                 max(0, p_grounded - p); their released game runs use the blend
                 scale 0.15, regret_weight 0.4, plateau_weight 0.6.
Invalid tasks get `invalid_reward` (rho, default -0.1) whatever the variant.

A new variant is one function `fn(p: [N] f32, **params) -> [N] f32` decorated with
`@register("name")`, and `spice.challenger_reward = "name"` in a config. A variant that
takes the keyword `p_grounded` ([N] f32, the pass rate with the document in the Reasoner's
prompt) needs the grounded pass (`needs_grounded`): the self-play samples it only then, and
`challenger_reward` must be given `grounded_correct`. Parameter values are checked by a
dry call (`check_params`), so a variant raises RewardError for values it cannot take.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from spice_jax.errors import SpiceError
from spice_jax.utils.registry import Registry

INVALID_REWARD = -0.1

Variant = Callable[..., jax.Array]


class RewardError(SpiceError, ValueError):
  pass


_REGISTRY: Registry[Variant] = Registry("challenger reward", RewardError)
register, get, names = _REGISTRY.register, _REGISTRY.get, _REGISTRY.names


GROUNDED = "p_grounded"   # the keyword through which a variant receives the grounded pass rate


def _keywords(name: str) -> list[str]:
  return list(inspect.signature(get(name)).parameters)[1:]


def needs_grounded(name: str) -> bool:
  """Whether variant `name` takes the grounded pass rate (keyword `p_grounded`)."""
  return GROUNDED in _keywords(name)


def check_params(name: str, params: Mapping[str, Any]) -> None:
  """Raises RewardError unless `params` are keyword arguments that variant `name` takes
  and values it accepts (checked by calling it once on a single pass rate)."""
  known = [k for k in _keywords(name) if k != GROUNDED]
  for k in params:
    if k == GROUNDED:
      raise RewardError(f"{name}: {GROUNDED!r} is measured by the self-play, not a parameter")
    if k not in known:
      raise RewardError(f"{name}: unknown parameter {k!r}; it takes {known or 'none'}")
  one = jax.ShapeDtypeStruct((1,), jnp.float32)
  extra = {GROUNDED: one} if needs_grounded(name) else {}
  try:
    # Traced abstractly: the variant's own checks of its parameters run in Python, and no
    # XLA backend starts (config validation runs before jax.distributed.initialize, which
    # must come first in a multi-process run).
    jax.eval_shape(lambda p, kw: get(name)(p, **params, **kw), one, extra)
  except RewardError:
    raise
  except (TypeError, ValueError) as e:
    raise RewardError(f"{name}: parameters {dict(params)} rejected: {e}") from e


def _need(ok: bool, name: str, what: str) -> None:
  if not ok:
    raise RewardError(f"{name}: {what}")


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


def _check_band(name: str, lo: float, hi: float, ramp: float) -> None:
  _need(0.0 <= lo <= hi <= 1.0, name, f"lo={lo}, hi={hi}: need 0 <= lo <= hi <= 1")
  _need(ramp > 0, name, f"ramp={ramp}: must be > 0")


@register("plateau")
def plateau(p, *, lo: float = 0.4, hi: float = 0.6, ramp: float = 0.25):
  _check_band("plateau", lo, hi, ramp)
  outside = jnp.maximum(jnp.maximum(lo - p, p - hi), 0.0)
  return jnp.clip(1.0 - outside / ramp, 0.0, 1.0)


@register("grounding_regret")
def grounding_regret(p, *, p_grounded, scale: float = 1.0, floor: bool = True,
                     regret_weight: float = 1.0, plateau_weight: float = 0.0, lo: float = 0.4,
                     hi: float = 0.6, ramp: float = 0.25):
  _need(scale > 0, "grounding_regret", f"scale={scale}: must be > 0")
  _need(isinstance(floor, (bool, np.bool_)), "grounding_regret", f"floor={floor!r}: a bool")
  _check_band("grounding_regret", lo, hi, ramp)
  g = (p_grounded - p) / scale
  if floor:
    g = jnp.clip(g, 0.0, 1.0)
  if not plateau_weight:
    return regret_weight * g
  return regret_weight * g + plateau_weight * plateau(p, lo=lo, hi=hi, ramp=ramp)


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
                      sample_mask: jax.Array | None = None,
                      grounded_correct: jax.Array | None = None, **params) -> jax.Array:
  """Challenger reward per task.

  Args:
    correct: [N, K] bool/0-1 correctness of the Reasoner's K samples (ignored for invalid
      tasks, which may hold anything).
    valid: [N] bool, whether the Challenger's task parsed as valid.
    variant: a registered variant name (`names()`).
    invalid_reward: rho, the reward of an invalid task (SPEC: -0.1; R-Zero baseline: -1).
    sample_mask: optional [N, K] bool, which samples exist (for ragged K; applies to
      `grounded_correct` too).
    grounded_correct: [N, K] correctness of K answers sampled with the document in the
      Reasoner's prompt; required by variants that `needs_grounded`, ignored by the others.
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
  if needs_grounded(variant):
    if grounded_correct is None:
      raise RewardError(f"challenger_reward: variant {variant!r} needs the grounded pass "
                        "rate; pass grounded_correct ([N, K] correctness of the answers "
                        "sampled with the document)")
    pg = pass_rate(grounded_correct, sample_mask)
    if pg.shape != p.shape:
      raise RewardError(f"challenger_reward: grounded_correct gives {pg.shape} tasks, "
                        f"correct gives {p.shape}")
    params = {**params, GROUNDED: pg}
  return jnp.where(valid, fn(p, **params), jnp.float32(invalid_reward)).astype(jnp.float32)


def reasoner_reward(correct: jax.Array) -> jax.Array:
  """Reasoner reward: 1 for a correct answer, else 0. correct: [N, K] -> [N, K] f32."""
  return jnp.asarray(correct).astype(jnp.float32)
