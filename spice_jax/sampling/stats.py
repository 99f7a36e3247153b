"""The continuous engine's per-call figures, summed over an iteration's sampler calls.

  stats.accumulate(counters, role, sampler.last_timing)   # after each call
  metrics = stats.metrics(counters)                       # per iteration

Per role: `engine/occupancy_<role>`: mean live rows per slot-step (tokens produced / (slots
x decode steps)); `engine/packing_<role>`: tokens produced / rows of the compiled window
programs x their steps. Over roles: `engine/preemptions`, `engine/peak_kv_pages` and
`engine/peak_kv_bytes` (the pool's high-water mark over the iteration's calls),
`engine/kv_pool_bytes` (the largest pool allocated).
"""

from __future__ import annotations

from typing import Any, Mapping, MutableMapping

_SUMS = ("token_steps", "decode_steps", "slot_steps")


def accumulate(counters: MutableMapping[str, float], role: str,
               timing: Mapping[str, Any] | None) -> None:
  """Adds one sampler call's `last_timing` (continuous engine; other engines: nothing)."""
  if not timing or timing.get("engine") != "continuous":
    return
  for k in _SUMS:
    counters[f"engine/{role}_{k}"] += timing.get(k, 0)
  counters[f"engine/{role}_slot_capacity"] += timing["slots"] * timing.get("decode_steps", 0)
  counters["engine/preemptions"] += timing.get("preemptions", 0)
  page = timing.get("page_bytes", 0)
  for key, val in (("peak_kv_pages", timing.get("peak_pages", 0)),
                   ("peak_kv_bytes", timing.get("peak_pages", 0) * page),
                   ("kv_pool_bytes", timing.get("kv_pages", 0) * page)):
    counters[f"engine/{key}"] = max(counters.get(f"engine/{key}", 0), val)


def metrics(counters: Mapping[str, float]) -> dict[str, float]:
  """Iteration metrics from `accumulate`d counters (empty when no continuous call ran)."""
  out = {}
  roles = sorted({k[len("engine/"):-len("_slot_capacity")] for k in counters
                  if k.startswith("engine/") and k.endswith("_slot_capacity")})
  for role in roles:
    tok = counters[f"engine/{role}_token_steps"]
    out[f"engine/occupancy_{role}"] = tok / max(1, counters[f"engine/{role}_slot_capacity"])
    out[f"engine/packing_{role}"] = tok / max(1, counters[f"engine/{role}_slot_steps"])
  if roles:
    for k in ("preemptions", "peak_kv_pages", "peak_kv_bytes", "kv_pool_bytes"):
      out[f"engine/{k}"] = float(counters.get(f"engine/{k}", 0))
  return out
