"""Scoring of model outputs against benchmark golds, aggregation, and the results table.

Accuracy protocol (SPEC §8): an item's score is the mean correctness over its samples (1
greedy sample for most benchmarks, `n` samples for AIME), a benchmark's accuracy is the mean
item score, "math avg" / "general avg" are plain means over the benchmarks of each group
that were run, and "Overall" is the plain mean over all benchmarks run (the paper's 11).
Accuracies are fractions in [0, 1] in code and JSON, percentages in the Markdown/CSV/plot.
"""

from __future__ import annotations

import collections
import csv
import json
import os
from typing import Mapping, Sequence

from spice_jax.eval import benchmarks as bench_lib
from spice_jax.spice import verify as verify_lib
from spice_jax.utils import plots

MATH_AVG, GENERAL_AVG, OVERALL = "math_avg", "general_avg", "overall"
SUMMARY_KEYS = (MATH_AVG, GENERAL_AVG, OVERALL)
SUMMARY_TITLES = {MATH_AVG: "Math avg", GENERAL_AVG: "General avg", OVERALL: "Overall"}


def score_responses(items: Sequence[bench_lib.Item], responses: Sequence[str], *,
                    pool: verify_lib.VerifierPool | None = None) -> list[verify_lib.Verdict]:
  """A `Verdict(correct, reason, answer)` per (item, response) pair (letters A-J for MCQ)."""
  if len(items) != len(responses):
    raise ValueError(f"score_responses: {len(items)} items but {len(responses)} responses")
  return verify_lib.score_detailed(list(responses), [it.gold for it in items],
                                   [it.kind for it in items], pool=pool,
                                   mcq_letters=bench_lib.LETTERS)


def item_scores(records: Sequence[Mapping]) -> dict[tuple[str, str], float]:
  """{(benchmark, item id): mean correctness over its samples} from per-sample records
  (each with 'benchmark', 'id', 'correct')."""
  acc: dict[tuple[str, str], list[float]] = collections.defaultdict(list)
  for r in records:
    acc[(r["benchmark"], str(r["id"]))].append(float(bool(r["correct"])))
  return {k: sum(v) / len(v) for k, v in acc.items()}


def benchmark_accuracy(records: Sequence[Mapping]) -> dict[str, float]:
  """{benchmark: mean over items of the per-item mean correctness}."""
  per: dict[str, list[float]] = collections.defaultdict(list)
  for (b, _), s in item_scores(records).items():
    per[b].append(s)
  return {b: sum(v) / len(v) for b, v in per.items()}


def summarize(per_bench: Mapping[str, float]) -> dict[str, float | None]:
  """Adds math avg, general avg and Overall (plain means over the benchmarks present;
  None when a group has no benchmark)."""
  def mean(names):
    vals = [per_bench[n] for n in names if n in per_bench and per_bench[n] is not None]
    return sum(vals) / len(vals) if vals else None
  known = [n for n in per_bench if n in bench_lib.BENCHMARKS]
  return {MATH_AVG: mean(bench_lib.MATH_BENCHMARKS),
          GENERAL_AVG: mean(bench_lib.GENERAL_BENCHMARKS),
          OVERALL: mean(known)}


def _ordered(names) -> list[str]:
  order = list(bench_lib.BENCHMARKS)
  return sorted(set(names), key=lambda n: (order.index(n) if n in order else len(order), n))


def _title(name: str) -> str:
  if name in bench_lib.BENCHMARKS:
    return bench_lib.BENCHMARKS[name].title
  return SUMMARY_TITLES.get(name, name)


def _pct(v) -> str:
  return "-" if v is None else f"{100.0 * v:.1f}"


def table_columns(results: Mapping[str, Mapping[str, float | None]]) -> list[str]:
  """Benchmark columns (math first, then general, registry order) then the summary columns."""
  names = {n for r in results.values() for n in r if n not in SUMMARY_KEYS}
  return _ordered(names) + list(SUMMARY_KEYS)


def to_markdown(results: Mapping[str, Mapping[str, float | None]]) -> str:
  """One row per model, one column per benchmark plus the averages, in percent."""
  cols = table_columns(results)
  head = "| Model | " + " | ".join(_title(c) for c in cols) + " |"
  sep = "|---|" + "|".join("---:" for _ in cols) + "|"
  rows = [f"| {m} | " + " | ".join(_pct(r.get(c)) for c in cols) + " |"
          for m, r in results.items()]
  return "\n".join([head, sep] + rows) + "\n"


def write_tables(results: Mapping[str, Mapping[str, float | None]], out_dir: str, *,
                 meta: Mapping | None = None, stem: str = "results") -> dict[str, str]:
  """Writes `<stem>.md`, `<stem>.csv` (percent) and `<stem>.json` (fractions + meta).

  results: {model label: {benchmark or summary key: accuracy fraction or None}}.
  Returns {"md": path, "csv": path, "json": path}.
  """
  os.makedirs(out_dir, exist_ok=True)
  cols = table_columns(results)
  paths = {ext: os.path.join(out_dir, f"{stem}.{ext}") for ext in ("md", "csv", "json")}
  with open(paths["md"], "w", encoding="utf-8") as f:
    f.write(to_markdown(results))
  with open(paths["csv"], "w", encoding="utf-8", newline="") as f:
    w = csv.writer(f)
    w.writerow(["model"] + cols)
    for m, r in results.items():
      w.writerow([m] + ["" if r.get(c) is None else f"{100.0 * r[c]:.2f}" for c in cols])
  with open(paths["json"], "w", encoding="utf-8") as f:
    json.dump({"columns": cols, "results": results, "meta": dict(meta or {})}, f, indent=2)
  return paths


def plot_results(results: Mapping[str, Mapping[str, float | None]], path: str, *,
                 title: str = "SPICE evaluation") -> str:
  """Grouped bar chart (one group per benchmark + averages, one bar per model, percent) as PNG."""
  cols = table_columns(results)
  values = {m: [None if r.get(c) is None else 100.0 * r[c] for c in cols]
            for m, r in results.items()}
  return plots.grouped_bars(values, [_title(c) for c in cols], path, title=title,
                            ylabel="accuracy (%)", ymax=100,
                            split_at=len(cols) - len(SUMMARY_KEYS))
