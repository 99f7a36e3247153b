"""Guardrails: detectors over the per-iteration metrics, and what the trainer should do.

Pure Python over floats (no jax, no numpy), deterministic, JSON-serialisable state.

Detectors (each with an `action`: "warn" | "skip_update" | "rollback" | "off"):
  nonfinite         a watched metric (loss, grad_norm) is NaN or +-inf.
  reward_collapse   Challenger valid rate or Reasoner accuracy equals the same value in
                    `values` (exactly 0.0 or 1.0) for `patience` consecutive iterations.
  entropy_collapse  policy entropy below `threshold` for `patience` consecutive iterations.
  runaway_length    truncated fraction above `truncated_frac`, or mean response length above
                    `len_frac` x the role's max tokens, for `patience` consecutive iterations.
  spike             KL or grad norm more than `z` robust z-scores above the median of the
                    trailing `window` finite values: z = 0.6745 (x - median) / MAD, with the
                    MAD floored at max(`mad_floor_abs`, `mad_floor_rel` |median|); needs
                    `min_history` values first.
  logprob_mismatch  a role's sampler-vs-trainer token_mult_prob_error (mean exp(|Δ logp|)
                    over its trained tokens) above `threshold` (1.05, NeMo-RL's alarm level)
                    for `patience` consecutive iterations: the update would train on a
                    distribution other than the one that sampled.
A streak detector keeps firing every iteration while its condition holds. A metric that is
absent from `metrics` (or None) leaves its detector state untouched, so calling `check` twice
for one step with disjoint key sets (self-play metrics, then update metrics) is the same as
one call with their union. Non-finite values never enter the spike windows or streaks.

Use in the trainer (one iteration):
    firings = guard.check(step, metrics)          # after the update, before accepting it
    decision = guard.decide(firings)               # "ok" | "warn" | "skip_update" | "rollback"
    for f in firings: audit.event(step, "guard", **f.to_json())
    ok/warn      keep the new state; the iteration is good iff `guard.is_good(decision)`
    skip_update  keep the previous state (discard the update); continue with the next data
    rollback     restore the last good checkpoint, then `guard.rollback_to(meta["guard"])`
                 (raises GuardError after `max_consecutive_rollbacks`); reseed data with
                 `guard.rollbacks`
    checkpoint   meta["guard"] = guard.state_dict(); on resume `guard.load_state_dict(...)`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterable, Mapping, Sequence

from spice_jax.guard_config import (  # noqa: F401  (the config types are re-exported)
    ACTIONS, DECISIONS, DETECTORS, STATE_VERSION, EntropyCollapseConfig, GuardConfig,
    GuardError, LogprobMismatchConfig, NonfiniteConfig, RewardCollapseConfig,
    RunawayLengthConfig, SpikeConfig,
    _MAD_TO_SIGMA, _SEVERITY, default_config)



# ----------------------------------------------------------------------------- firings

@dataclasses.dataclass(frozen=True)
class Firing:
  """One detector firing on one metric. `evidence` holds the values that triggered it
  (JSON-safe: non-finite floats are written as the strings "nan", "inf", "-inf")."""
  step: int
  detector: str
  action: str
  key: str
  message: str
  evidence: dict

  @property
  def announce(self) -> bool:
    """Whether the terminal shows this firing: every firing, except that a streak alarm
    which keeps firing is shown at its patience and then at 2x, 4x, ... its patience (the
    audit trail records every firing)."""
    streak, patience = self.evidence.get("streak"), self.evidence.get("patience")
    if not streak or not patience:
      return True
    times, rest = divmod(int(streak), int(patience))
    return rest == 0 and times & (times - 1) == 0

  def to_json(self) -> dict:
    """Fields for the audit trail (without `step`): `audit.event(step, "guard", **f.to_json())`."""
    return dict(detector=self.detector, action=self.action, key=self.key,
                message=self.message, evidence=self.evidence)


def decide(firings: Sequence[Firing]) -> str:
  """The most severe action among `firings`: "rollback" > "skip_update" > "warn" > "ok"."""
  worst = "ok"
  for f in firings:
    if _SEVERITY[f.action] > _SEVERITY[worst]:
      worst = f.action
  return worst


def _json_float(x: float):
  if math.isfinite(x):
    return x
  return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _finite(metrics, keys):
  """(key, value) for each key whose metric is a finite number."""
  for key in keys:
    x = _number(metrics.get(key))
    if x is not None and math.isfinite(x):
      yield key, x


def _number(value) -> float | None:
  """A metric as a float; None if absent or not a scalar number (lists, strings)."""
  if value is None or isinstance(value, (bool, str, bytes)):
    return None
  try:
    return float(value)
  except (TypeError, ValueError):
    return None


def _median(xs: Sequence[float]) -> float:
  s = sorted(xs)
  n = len(s)
  return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


# ------------------------------------------------------------------------------- guard

class Guard:
  """Stateful detectors over a run's metrics. See the module docstring for the protocol."""

  def __init__(self, config: GuardConfig | Any | None = None):
    if not isinstance(config, GuardConfig):
      config = GuardConfig.from_config(config)
    self.config = config
    self._reset()

  def _reset(self):
    # streak detectors: "<detector>|<key>" -> [count, last value, recent values (<= patience)]
    self._streaks: dict[str, list] = {}
    # spike windows: key -> trailing finite values (oldest first, <= window)
    self._windows: dict[str, list[float]] = {}
    self.last_step: int | None = None
    self.rollbacks = 0               # run total (new data seed per rollback)
    self.consecutive_rollbacks = 0   # since a good iteration past the last failure point
    self.failed_step: int | None = None  # the step that triggered the last rollback
    self.firing_counts: dict[str, int] = {}

  # ---------------------------------------------------------------------- checking
  def check(self, step: int, metrics: Mapping[str, Any]) -> list[Firing]:
    """Updates the detectors with iteration `step`'s metrics and returns what fired, in
    detector order. A good iteration past the step that triggered the last rollback resets
    the consecutive rollback count."""
    if not self.config.enabled:
      return []
    step = int(step)
    out: list[Firing] = []
    c = self.config
    if c.nonfinite.action != "off":
      out += self._nonfinite(step, metrics)
    if c.reward_collapse.action != "off":
      out += self._reward_collapse(step, metrics)
    if c.entropy_collapse.action != "off":
      out += self._entropy_collapse(step, metrics)
    if c.runaway_length.action != "off":
      out += self._runaway_length(step, metrics)
    if c.spike.action != "off":
      out += self._spikes(step, metrics)
    if c.logprob_mismatch.action != "off":
      out += self._logprob_mismatch(step, metrics)
    self.last_step = step
    for f in out:
      self.firing_counts[f.detector] = self.firing_counts.get(f.detector, 0) + 1
    if self.is_good(decide(out)) and (self.failed_step is None or step > self.failed_step):
      self.consecutive_rollbacks = 0
    return out

  def decide(self, firings: Sequence[Firing]) -> str:
    return decide(firings)

  def is_good(self, decision: str) -> bool:
    """Whether an iteration with this decision passed (its checkpoint may be marked good)."""
    if decision not in _SEVERITY:
      raise GuardError(f"unknown decision {decision!r}; expected one of {DECISIONS}")
    return _SEVERITY[decision] <= _SEVERITY[self.config.good_if]

  def _nonfinite(self, step, metrics):
    d = self.config.nonfinite
    out = []
    for key in d.keys:
      x = _number(metrics.get(key))
      if x is not None and not math.isfinite(x):
        out.append(Firing(step, "nonfinite", d.action, key, f"{key} is {_json_float(x)}",
                          {"value": _json_float(x)}))
    return out

  def _streak(self, step, detector, action, key, x, hit, patience, describe, extra, same=True):
    """Advances the streak of `detector|key` with value x (condition `hit`); fires at
    `patience`. With `same`, the streak only continues while x equals the previous value."""
    name = f"{detector}|{key}"
    count, last, recent = self._streaks.get(name, [0, None, []])
    if not hit:
      self._streaks[name] = [0, None, []]
      return []
    if same and last is not None and x != last:
      count, recent = 0, []
    count += 1
    recent = (recent + [x])[-patience:]
    self._streaks[name] = [count, x, recent]
    if count < patience:
      return []
    ev = dict(value=x, streak=count, patience=patience, recent=list(recent), **extra)
    return [Firing(step, detector, action, key,
                   f"{key} {describe} for {count} iterations (patience {patience})", ev)]

  def _reward_collapse(self, step, metrics):
    d = self.config.reward_collapse
    values = tuple(float(v) for v in d.values)
    out = []
    for key, x in _finite(metrics, d.keys):
      out += self._streak(step, "reward_collapse", d.action, key, x, x in values, d.patience,
                          f"stuck at {x:g}", {}, same=True)
    return out

  def _entropy_collapse(self, step, metrics):
    d = self.config.entropy_collapse
    out = []
    for key, x in _finite(metrics, d.keys):
      out += self._streak(step, "entropy_collapse", d.action, key, x, x < d.threshold,
                          d.patience, f"below {d.threshold:g}", {"threshold": d.threshold},
                          same=False)
    return out

  def _runaway_length(self, step, metrics):
    d = self.config.runaway_length
    caps = {"challenger": d.challenger_max_tokens, "reasoner": d.reasoner_max_tokens}
    checks = []
    for role in d.roles:
      checks.append((f"{role}/truncated_frac", float(d.truncated_frac)))
      cap = caps.get(role, 0)
      if cap and cap > 0:
        checks.append((f"{role}/response_len_mean", d.len_frac * cap))
    out = []
    thresholds = dict(checks)
    for key, x in _finite(metrics, thresholds):
      threshold = thresholds[key]
      out += self._streak(step, "runaway_length", d.action, key, x, x > threshold, d.patience,
                          f"above {threshold:g}", {"threshold": threshold}, same=False)
    return out

  def _logprob_mismatch(self, step, metrics):
    d = self.config.logprob_mismatch
    out = []
    for key, x in _finite(metrics, d.keys):
      out += self._streak(step, "logprob_mismatch", d.action, key, x, x > d.threshold,
                          d.patience, f"above {d.threshold:g}", {"threshold": d.threshold},
                          same=False)
    return out

  def _spikes(self, step, metrics):
    d = self.config.spike
    out = []
    for key, x in _finite(metrics, d.keys):
      win = self._windows.setdefault(key, [])
      if len(win) >= d.min_history:
        med = _median(win)
        mad = _median([abs(v - med) for v in win])
        scale = max(mad, d.mad_floor_abs, d.mad_floor_rel * abs(med))
        z = _MAD_TO_SIGMA * (x - med) / scale if scale > 0 else (math.inf if x > med else 0.0)
        if z > d.z:
          out.append(Firing(step, "spike", d.action, key,
                            f"{key} = {x:g} is {_json_float(z):.3g} robust z above the "
                            f"median {med:g} of the last {len(win)} (threshold {d.z:g})"
                            if math.isfinite(z) else f"{key} = {x:g} above a zero-scale window",
                            {"value": x, "median": med, "mad": mad, "scale": scale,
                             "z": _json_float(z), "threshold": d.z, "window": len(win)}))
      win.append(x)
      del win[:-d.window]
    return out

  # -------------------------------------------------------------------------- state
  def state_dict(self) -> dict:
    """JSON-serialisable detector state (store it in the checkpoint meta)."""
    return {"version": STATE_VERSION,
            "last_step": self.last_step,
            "streaks": {k: [v[0], v[1], list(v[2])] for k, v in sorted(self._streaks.items())},
            "windows": {k: list(v) for k, v in sorted(self._windows.items())},
            "rollbacks": self.rollbacks,
            "consecutive_rollbacks": self.consecutive_rollbacks,
            "failed_step": self.failed_step,
            "firing_counts": dict(sorted(self.firing_counts.items()))}

  def load_state_dict(self, state: Mapping | None) -> None:
    """Restores `state_dict()` exactly (resume). None resets to a fresh guard."""
    self._reset()
    if state is None:
      return
    self._load_detectors(state)
    self.rollbacks = int(state.get("rollbacks", 0))
    self.consecutive_rollbacks = int(state.get("consecutive_rollbacks", 0))
    failed = state.get("failed_step")
    self.failed_step = None if failed is None else int(failed)
    self.firing_counts = {str(k): int(v) for k, v in state.get("firing_counts", {}).items()}

  def _load_detectors(self, state: Mapping) -> None:
    if not isinstance(state, Mapping) or state.get("version") != STATE_VERSION:
      raise GuardError(f"guard state: expected a mapping with version {STATE_VERSION}, got "
                       f"{state.get('version') if isinstance(state, Mapping) else type(state)}")
    try:
      self._streaks = {str(k): [int(v[0]), None if v[1] is None else float(v[1]),
                                [float(x) for x in v[2]]]
                       for k, v in state.get("streaks", {}).items()}
      w = self.config.spike.window
      self._windows = {str(k): [float(x) for x in v][-w:]
                       for k, v in state.get("windows", {}).items()}
      last = state.get("last_step")
      self.last_step = None if last is None else int(last)
    except (TypeError, ValueError, IndexError) as e:
      raise GuardError(f"guard state: malformed detector history ({e})") from e

  def rollback_to(self, state: Mapping | None) -> int:
    """After the trainer restored the last good checkpoint: rewinds the detectors to that
    checkpoint's guard state (`None`: fresh detectors, for a rollback to the initial model)
    while keeping the run's rollback and firing counters. Returns the new total rollback
    count (derive the new data seed from it). Raises GuardError when this would be the
    (max_consecutive_rollbacks + 1)-th rollback in a row, i.e. without a good iteration
    beyond the step that triggered the previous rollback."""
    if self.consecutive_rollbacks >= self.config.max_consecutive_rollbacks:
      raise GuardError(f"guard: {self.consecutive_rollbacks} consecutive rollbacks without a "
                       "good iteration (guard.max_consecutive_rollbacks="
                       f"{self.config.max_consecutive_rollbacks}); stopping the run")
    rollbacks, consecutive, counts = (self.rollbacks, self.consecutive_rollbacks,
                                      self.firing_counts)
    failed = max(x for x in (self.last_step, self.failed_step, -1) if x is not None)
    self._reset()
    if state is not None:
      self._load_detectors(state)
    self.rollbacks, self.consecutive_rollbacks = rollbacks + 1, consecutive + 1
    self.failed_step = failed if failed >= 0 else None
    self.firing_counts = counts
    return self.rollbacks
