"""Guardrail settings (`config.guard`): one frozen record per detector, validated here.

See `spice_jax.guard` for what each detector watches and what the trainer does with it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Mapping, Sequence

from spice_jax.errors import SpiceError

ACTIONS = ("off", "warn", "skip_update", "rollback")
DECISIONS = ("ok", "warn", "skip_update", "rollback")
_SEVERITY = {d: i for i, d in enumerate(DECISIONS)}
STATE_VERSION = 1
_MAD_TO_SIGMA = 0.6745  # z = 0.6745 (x - median) / MAD is a standard score for Gaussian noise


class GuardError(SpiceError, RuntimeError):
  """Raised when guarding cannot continue (too many consecutive rollbacks, bad config/state)."""


# ------------------------------------------------------------------------------ config

@dataclasses.dataclass(frozen=True)
class NonfiniteConfig:
  action: str = "rollback"
  keys: tuple[str, ...] = ("loss", "grad_norm")


@dataclasses.dataclass(frozen=True)
class RewardCollapseConfig:
  action: str = "warn"
  patience: int = 10
  keys: tuple[str, ...] = ("challenger/valid_rate", "reasoner/accuracy")
  values: tuple[float, ...] = (0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class EntropyCollapseConfig:
  action: str = "warn"
  patience: int = 5
  threshold: float = 0.05   # nats per token
  keys: tuple[str, ...] = ("entropy", "challenger/entropy", "reasoner/entropy")


@dataclasses.dataclass(frozen=True)
class RunawayLengthConfig:
  action: str = "warn"
  patience: int = 5
  truncated_frac: float = 0.5          # > this fraction of responses hit the length cap
  len_frac: float = 0.95               # mean length > len_frac x max tokens of the role
  challenger_max_tokens: int = 0       # 0: no mean-length check for the role
  reasoner_max_tokens: int = 0
  roles: tuple[str, ...] = ("challenger", "reasoner")


@dataclasses.dataclass(frozen=True)
class SpikeConfig:
  action: str = "warn"
  keys: tuple[str, ...] = ("kl", "kl_old", "grad_norm")
  window: int = 50
  min_history: int = 10
  z: float = 10.0
  mad_floor_abs: float = 1e-6
  mad_floor_rel: float = 0.05


@dataclasses.dataclass(frozen=True)
class LogprobMismatchConfig:
  """Sampler and trainer disagree on the log-probs of the trained tokens (rl/loss.py's
  agreement metrics). Threshold 1.05 on token_mult_prob_error = mean exp(|Δ logp|): the
  level at which NeMo-RL alarms; float32 agreement is ~1 + 1e-6, and a bf16 sampler against
  the trainer sits far below it on the demo model (benchmarks/logprob_agreement.py)."""
  action: str = "warn"
  patience: int = 1
  threshold: float = 1.05
  keys: tuple[str, ...] = ("challenger/token_mult_prob_error",
                           "reasoner/token_mult_prob_error")


@dataclasses.dataclass(frozen=True)
class GuardConfig:
  """All detector settings. `good_if`: the worst decision after which an iteration still
  counts as good (its checkpoint may be marked good): "warn" (default) or "ok" (strict)."""
  enabled: bool = True
  good_if: str = "warn"
  max_consecutive_rollbacks: int = 3
  nonfinite: NonfiniteConfig = NonfiniteConfig()
  reward_collapse: RewardCollapseConfig = RewardCollapseConfig()
  entropy_collapse: EntropyCollapseConfig = EntropyCollapseConfig()
  runaway_length: RunawayLengthConfig = RunawayLengthConfig()
  spike: SpikeConfig = SpikeConfig()
  logprob_mismatch: LogprobMismatchConfig = LogprobMismatchConfig()

  def __post_init__(self):
    if self.good_if not in ("ok", "warn"):
      raise GuardError(f"guard.good_if: expected 'ok' or 'warn', got {self.good_if!r}")
    if self.max_consecutive_rollbacks < 1:
      raise GuardError("guard.max_consecutive_rollbacks: expected >= 1, got "
                       f"{self.max_consecutive_rollbacks}")
    for name in DETECTORS:
      det = getattr(self, name)
      if det.action not in ACTIONS:
        raise GuardError(f"guard.{name}.action: expected one of {ACTIONS}, got {det.action!r}")
      if hasattr(det, "patience") and det.patience < 1:
        raise GuardError(f"guard.{name}.patience: expected >= 1, got {det.patience}")
    s = self.spike
    if s.window < 1 or s.min_history < 1 or s.min_history > s.window:
      raise GuardError(f"guard.spike: need 1 <= min_history <= window, got min_history="
                       f"{s.min_history}, window={s.window}")
    if not s.z > 0 or s.mad_floor_abs < 0 or s.mad_floor_rel < 0:
      raise GuardError("guard.spike: z must be > 0 and the MAD floors >= 0")
    if not self.logprob_mismatch.threshold >= 1.0:
      raise GuardError("guard.logprob_mismatch.threshold: expected >= 1 (a mean of "
                       f"exp(|Δ logp|)), got {self.logprob_mismatch.threshold}")

  @classmethod
  def from_config(cls, config: Any) -> "GuardConfig":
    """From an `ml_collections.ConfigDict` (or a nested mapping) shaped like `default_config()`.
    Missing fields keep their defaults; unknown fields raise GuardError."""
    if config is None:
      return cls()
    top = _as_dict(config, "guard")
    kw = {}
    for f in dataclasses.fields(cls):
      if f.name not in top:
        continue
      if f.name in DETECTORS:
        kw[f.name] = _sub_config(_DETECTOR_CONFIGS[f.name], top[f.name], f"guard.{f.name}")
      else:
        kw[f.name] = _coerce(f.default, top[f.name], f"guard.{f.name}")
    unknown = set(top) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
      raise GuardError(f"guard: unknown fields {sorted(unknown)}")
    return cls(**kw)


_DETECTOR_CONFIGS = {"nonfinite": NonfiniteConfig, "reward_collapse": RewardCollapseConfig,
                     "entropy_collapse": EntropyCollapseConfig,
                     "runaway_length": RunawayLengthConfig, "spike": SpikeConfig,
                     "logprob_mismatch": LogprobMismatchConfig}
DETECTORS = tuple(_DETECTOR_CONFIGS)


def _as_dict(value, where: str) -> dict:
  if hasattr(value, "to_dict"):
    return dict(value.to_dict())
  if isinstance(value, Mapping):
    return dict(value)
  raise GuardError(f"{where}: expected a ConfigDict or mapping, got {type(value).__name__}")


def _coerce(default, value, where: str):
  if isinstance(default, bool):
    if not isinstance(value, bool):
      raise GuardError(f"{where}: expected a bool, got {value!r}")
    return value
  if isinstance(default, tuple):
    if isinstance(value, str) or not isinstance(value, Iterable):
      raise GuardError(f"{where}: expected a sequence, got {value!r}")
    return tuple(value)
  if isinstance(default, int):
    if isinstance(value, bool) or not isinstance(value, int):
      raise GuardError(f"{where}: expected an int, got {value!r}")
    return value
  if isinstance(default, float):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
      raise GuardError(f"{where}: expected a number, got {value!r}")
    return float(value)
  if isinstance(default, str):
    if not isinstance(value, str):
      raise GuardError(f"{where}: expected a string, got {value!r}")
    return value
  return value


def _sub_config(cls, value, where: str):
  d = _as_dict(value, where)
  names = {f.name: f for f in dataclasses.fields(cls)}
  unknown = set(d) - set(names)
  if unknown:
    raise GuardError(f"{where}: unknown fields {sorted(unknown)}")
  return cls(**{k: _coerce(names[k].default, v, f"{where}.{k}") for k, v in d.items()})


def default_config():
  """The defaults as an `ml_collections.ConfigDict` (put under `config.guard`).

  To check mean response lengths, link the role caps, e.g. in experiments/base.py:
    c.guard.runaway_length.challenger_max_tokens = c.spice.get_ref("challenger_max_tokens")
  """
  import ml_collections
  d = GuardConfig()
  c = ml_collections.ConfigDict()
  c.enabled = d.enabled
  c.good_if = d.good_if
  c.max_consecutive_rollbacks = d.max_consecutive_rollbacks
  for name in DETECTORS:
    c[name] = ml_collections.ConfigDict(dataclasses.asdict(getattr(d, name)))
  return c
