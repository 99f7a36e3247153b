"""The pre-registered decision rule of an ablation (experiments/README.md, "Pre-registration:
the ladder ablation"): a difference holds when it exceeds two standard errors.

  compare([g_spice_s0, ..], [g_fixed_s0, ..])        # -> Comparison(diff, se, verdict)
  depth_shift(curriculum_records, first=10, last=10)  # mean depth, last minus first iterations
  hypotheses(gains, shifts)                           # H1-H3 and the lr=0 sanity check

Pure functions over plain numbers; the report (`spice_jax.report`) renders them. Standard
deviations are sample standard deviations (ddof=1) over seeds.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from typing import Mapping, Sequence

HOLDS, REVERSED, NOT_SEPARATED = "holds", "reversed", "not separated"
# The paper's ordering of Challenger rewards by gain (Table 3), variant names of
# experiments/world_ladder.py: variance (spice) > rzero > threshold > absolute_zero.
PAPER_ORDER = ("spice", "rzero", "threshold", "absolute_zero")
PLACED = ("plateau", "grounding_regret")   # placed in that order by the same rule


_mean = statistics.fmean


def _var(xs: Sequence[float]) -> float:
  """Sample variance (ddof=1); 0 for a single value (no spread measured)."""
  return statistics.variance(xs) if len(xs) >= 2 else 0.0


@dataclasses.dataclass(frozen=True)
class Comparison:
  """mean(a) - mean(b), its standard error, and the verdict on "a exceeds b"."""
  diff: float
  se: float
  verdict: str


def _verdict(diff: float, se: float) -> str:
  if diff > 2 * se:
    return HOLDS
  if diff < -2 * se:
    return REVERSED
  return NOT_SEPARATED


def compare(a: Sequence[float], b: Sequence[float]) -> Comparison:
  """Two independent groups (e.g. two variants' gains over seeds):
  SE = sqrt(s_a^2 / n_a + s_b^2 / n_b)."""
  if not a or not b:
    raise ValueError("compare: both groups need at least one value")
  diff = _mean(a) - _mean(b)
  se = math.sqrt(_var(a) / len(a) + _var(b) / len(b))
  return Comparison(diff, se, _verdict(diff, se))


def paired(d: Sequence[float]) -> Comparison:
  """Within-run differences (e.g. each seed's late minus early depth): "the mean exceeds 0",
  SE = s_d / sqrt(n)."""
  if not d:
    raise ValueError("paired: no differences")
  diff = _mean(d)
  se = math.sqrt(_var(d) / len(d))
  return Comparison(diff, se, _verdict(diff, se))


def depth_windows(records: Sequence[Mapping], first: int = 10, last: int = 10,
                  key: str = "curriculum/mean_depth") -> tuple[float, float]:
  """A run's mean task depth over its first `first` and its last `last` iterations (records:
  `curriculum.jsonl`, one per iteration, by step; iterations without tasks of known depth
  are skipped); NaN for a window with no value."""
  recs = sorted(records, key=lambda r: r["step"])
  early = [float(r[key]) for r in recs[:first] if key in r]
  late = [float(r[key]) for r in recs[-last:] if key in r]
  return (_mean(early) if early else float("nan"), _mean(late) if late else float("nan"))


def depth_shift(records: Sequence[Mapping], first: int = 10, last: int = 10,
                key: str = "curriculum/mean_depth") -> float:
  """Mean task depth over the last `last` iterations minus over the first `first`
  (`depth_windows`); NaN when either window has no value."""
  early, late = depth_windows(records, first, last, key)
  return late - early


@dataclasses.dataclass(frozen=True)
class Outcome:
  name: str
  statement: str
  comparison: Comparison | None
  verdict: str


def hypotheses(gains: Mapping[str, Sequence[float]],
               shifts: Mapping[str, Sequence[float]] | None = None) -> list[Outcome]:
  """H1, H2, H3 and the lr=0 sanity check, as pre-registered. gains: {variant: [gain per
  seed]} (end minus start accuracy, fractions); shifts: {variant: [depth_shift per seed]}.
  A hypothesis whose variants are missing is left out."""
  out = []
  if "spice" in gains and "fixed_challenger" in gains:
    c = compare(gains["spice"], gains["fixed_challenger"])
    out.append(Outcome("H1", "spice's gain exceeds fixed_challenger's", c, c.verdict))
  shifts = {k: [x for x in v if not math.isnan(x)] for k, v in (shifts or {}).items()}
  if shifts.get("spice") and shifts.get("fixed_challenger"):
    s, f = paired(shifts["spice"]), paired(shifts["fixed_challenger"])
    ok = s.verdict == HOLDS and f.verdict == NOT_SEPARATED
    out.append(Outcome("H2a", "spice's task depth rises (iterations 31-40 over 1-10)", s,
                       s.verdict))
    out.append(Outcome("H2b", "fixed_challenger's task depth does not move", f,
                       HOLDS if f.verdict == NOT_SEPARATED else "does not hold"))
    out.append(Outcome("H2", "H2a and H2b", None, HOLDS if ok else "does not hold"))
  order = [v for v in PAPER_ORDER if v in gains]
  for hi, lo in zip(order, order[1:]):
    c = compare(gains[hi], gains[lo])
    out.append(Outcome("H3", f"{hi} > {lo}", c, c.verdict))
  for new in PLACED:
    if new in gains:
      for ref in order:
        c = compare(gains[new], gains[ref])
        out.append(Outcome("H3 placement", f"{new} > {ref}", c, c.verdict))
  if "lr0" in gains:
    m = _mean(gains["lr0"])
    out.append(Outcome("sanity", "lr0's mean gain within 1 point of 0",
                       Comparison(m, math.sqrt(_var(gains["lr0"]) / len(gains["lr0"])),
                                  HOLDS if abs(m) <= 0.01 else "does not hold"),
                       HOLDS if abs(m) <= 0.01 else "does not hold"))
  return out


def to_markdown(outcomes: Sequence[Outcome], unit: str = "points") -> str:
  """The outcomes as a table (differences in `unit`: accuracy points, or depth for H2)."""
  lines = ["| hypothesis | statement | difference ± SE | verdict |", "|---|---|---:|---|"]
  for o in outcomes:
    scale = 1.0 if o.name.startswith("H2") else 100.0
    cell = "" if o.comparison is None else (
        f"{scale * o.comparison.diff:+.2f} ± {scale * o.comparison.se:.2f}")
    lines.append(f"| {o.name} | {o.statement} | {cell} | {o.verdict} |")
  return "\n".join(lines)
