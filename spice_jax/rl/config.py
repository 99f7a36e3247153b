"""The `rl` config section as a typed, frozen record (optimizer, loss, advantage estimator)."""

from __future__ import annotations

import dataclasses
from typing import Any

from spice_jax.rl import state as state_lib
from spice_jax.utils import configs

OLD_LOGPROBS = ("recompute", "sampler")   # learner forward before any step | sampler values


@dataclasses.dataclass(frozen=True)
class RLConfig:
  lr: float = 1e-6                        # peak learning rate (constant after warmup)
  b1: float = 0.9                         # Adam first moment
  b2: float = 0.95                        # Adam second moment
  adam_eps: float = 1e-8                  # Adam epsilon (added to sqrt of the 2nd moment)
  weight_decay: float = 0.0               # decoupled (AdamW)
  clip_norm: float = 1.0                  # global gradient-norm clip (<= 0: off)
  warmup_steps: int = 0                   # linear warmup over this many optimizer steps
  clip_eps: float = 0.2                   # PPO ratio clip
  kl_beta: float = 0.0                    # > 0: k3 KL to the frozen initial model
  advantage: str = "dr_grpo"              # a name in spice.advantages' registry
  minibatch_size: int = 128
  micro_rows: int = 1                     # rows per device in one micro-batch (more: fewer calls)
  geometric_buckets: bool = True          # micro-batch lengths 2^k and 1.5 x 2^k (less padding)
  old_logprobs: str = "recompute"

  @classmethod
  def from_config(cls, section: Any) -> "RLConfig":
    return configs.from_section(cls, section, "rl")

  def validate(self) -> None:
    from spice_jax.spice import advantages  # the estimator registry
    configs.need(self.lr >= 0, "rl.lr", f"{self.lr}: must be >= 0")
    configs.need(self.adam_eps > 0, "rl.adam_eps", f"{self.adam_eps}: must be > 0")
    configs.need(self.minibatch_size >= 1, "rl.minibatch_size", "must be >= 1")
    configs.need(self.micro_rows >= 1, "rl.micro_rows", f"{self.micro_rows}: must be >= 1")
    configs.need(self.clip_eps > 0, "rl.clip_eps", "must be > 0")
    configs.need(self.kl_beta >= 0, "rl.kl_beta", "must be >= 0")
    configs.need(self.warmup_steps >= 0, "rl.warmup_steps", "must be >= 0")
    configs.one_of(self.advantage, advantages.names(), "rl.advantage")
    configs.one_of(self.old_logprobs, OLD_LOGPROBS, "rl.old_logprobs")

  def optim(self) -> state_lib.OptimConfig:
    return state_lib.OptimConfig(lr=self.lr, b1=self.b1, b2=self.b2, eps=self.adam_eps,
                                 weight_decay=self.weight_decay, clip_norm=self.clip_norm,
                                 warmup_steps=self.warmup_steps)
