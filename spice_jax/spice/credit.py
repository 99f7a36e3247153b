"""Credit assignment for one iteration: rewards and advantages in one jitted pure function.

This is the device side of the host/device boundary in DESIGN §1: the host hands over a
correctness matrix over the valid tasks, which task (if any) each kept Challenger trajectory
wrote, which task each document trains its Reasoner on, and group ids; rewards and
role-grouped advantages come back. Inputs are padded to power-of-two sizes so a run compiles
once per size bucket.

Groups: document d's kept Challenger trajectories are group d; its Reasoner training group
(the K answers to one of its valid tasks) is group B + d.

A reward variant that needs the grounded pass rate (`rewards.needs_grounded`, e.g.
"grounding_regret") also gets a `[N, K]` matrix of the answers sampled with the document in
the Reasoner's prompt, row-aligned with `correct`; for other variants it is None.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from spice_jax.spice import advantages as adv_lib
from spice_jax.spice import rewards as rewards_lib
from spice_jax.utils.shapes import pow2_at_least


@dataclasses.dataclass(frozen=True)
class CreditSpec:
  """The static choices (hashable: a jit static argument)."""
  variant: str = "variance"
  params: tuple[tuple[str, Any], ...] = ()
  invalid_reward: float = rewards_lib.INVALID_REWARD
  estimator: str = "dr_grpo"


@dataclasses.dataclass(frozen=True)
class Credit:
  """Rewards and advantages, trimmed to the real rows (numpy, on the host)."""
  chal_reward: np.ndarray   # [C] f32
  chal_adv: np.ndarray      # [C] f32
  reas_reward: np.ndarray   # [S, K] f32
  reas_adv: np.ndarray      # [S, K] f32


@functools.partial(jax.jit, static_argnames=("spec", "num_groups"))
def assign(correct, chal_task, chal_group, reas_task, reas_group, grounded=None, *,
           spec: CreditSpec, num_groups: int):
  """Rewards and advantages of both roles.

  Args:
    correct: [N, K] bool, answer k to valid task n judged correct.
    chal_task: [C] int32, the valid task written by kept Challenger trajectory c, or -1.
    chal_group: [C] int32, its group (the document); -1 for padding rows.
    reas_task: [S] int32, the task whose K answers form Reasoner training group s.
    reas_group: [S] int32, that group's id (B + document); -1 for padding rows.
    grounded: [N, K] bool or None, answer k to valid task n *with the document in the
      prompt* judged correct (only for variants that need it; never trained on).
    spec: the reward variant and its parameters, rho and the advantage estimator.
    num_groups: 2B.

  Returns:
    (chal_reward [C], chal_adv [C], reas_reward [S, K], reas_adv [S, K]), all f32.
  """
  C, (S, K) = chal_task.shape[0], (reas_task.shape[0], correct.shape[1])
  valid = chal_task >= 0
  bits = correct[jnp.maximum(chal_task, 0)]                               # [C, K]
  g_bits = None if grounded is None else grounded[jnp.maximum(chal_task, 0)]  # [C, K]
  r_chal = rewards_lib.challenger_reward(bits, valid, spec.variant,
                                         invalid_reward=spec.invalid_reward,
                                         grounded_correct=g_bits, **dict(spec.params))
  r_reas = rewards_lib.reasoner_reward(correct[jnp.maximum(reas_task, 0)])  # [S, K]
  rewards = jnp.concatenate([r_chal, r_reas.reshape(-1)])
  groups = jnp.concatenate([chal_group, jnp.repeat(reas_group, K)])
  adv = adv_lib.compute(rewards, groups, num_groups, spec.estimator)
  return r_chal, adv[:C], r_reas, adv[C:].reshape(S, K)


def _pad(x: np.ndarray, n: int, fill) -> np.ndarray:
  out = np.full((n,) + x.shape[1:], fill, x.dtype)
  out[:len(x)] = x
  return out


def assign_padded(correct: np.ndarray, chal_task: np.ndarray, chal_group: np.ndarray,
                  reas_task: np.ndarray, reas_group: np.ndarray, *, spec: CreditSpec,
                  num_groups: int, num_answers: int,
                  grounded: np.ndarray | None = None) -> Credit:
  """`assign` on power-of-two padded inputs; results trimmed back to the real rows.
  `grounded`: [N, K] like `correct`, given only when the variant needs it."""
  K = int(num_answers)
  correct = np.asarray(correct, bool).reshape(-1, K)
  N, C, S = pow2_at_least(max(len(correct), 1)), len(chal_task), len(reas_task)
  if grounded is not None:
    grounded = np.asarray(grounded, bool).reshape(-1, K)
    if grounded.shape != correct.shape:
      raise rewards_lib.RewardError(f"assign_padded: grounded is {grounded.shape}, correct "
                                    f"is {correct.shape}")
    grounded = _pad(grounded, N, False)
  args = (_pad(correct, N, False),
          _pad(np.asarray(chal_task, np.int32), pow2_at_least(C), -1),
          _pad(np.asarray(chal_group, np.int32), pow2_at_least(C), -1),
          _pad(np.asarray(reas_task, np.int32), pow2_at_least(S), -1),
          _pad(np.asarray(reas_group, np.int32), pow2_at_least(S), -1), grounded)
  r_c, a_c, r_r, a_r = jax.device_get(assign(*args, spec=spec, num_groups=int(num_groups)))
  return Credit(np.asarray(r_c[:C]), np.asarray(a_c[:C]), np.asarray(r_r[:S]),
                np.asarray(a_r[:S]))
