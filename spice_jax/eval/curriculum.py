"""Curriculum metrics: at which depth does the Challenger ask, and how does the Reasoner fare?

  m = curriculum.metrics(tasks, ladder.depth_of, max_depth=6)
      # {"curriculum/depth_share_d3": .., "curriculum/pass_rate_d3": .., "curriculum/mean_depth": ..}
  recs = curriculum.from_audit(run_dir + "/audit/tasks.jsonl", docs_by_id, ladder.depth_of)
  curriculum.plot(recs, run_dir + "/plots/curriculum.png")   # or plot(".../metrics.jsonl", ...)

A task is one valid Challenger task of one iteration (`Task`: its document, its gold answer,
the Reasoner's pass rate over its K answers). Its depth comes from a world's `depth_of(doc,
gold) -> int | None` (e.g. `data.ladder.depth_of`); None (the gold is none of the document's
results) counts as "unknown". Pure functions; the plot is the only side effect.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from typing import Any, Callable, Iterable, Mapping, Sequence

PREFIX = "curriculum/"
_DEPTH_KEY = re.compile(r"^curriculum/(depth_share|pass_rate)_d(\d+)$")


@dataclasses.dataclass(frozen=True)
class Task:
  """doc: what `depth_of` reads (a document's text or object); gold: the Challenger's
  answer; pass_rate: the Reasoner's share of correct answers, in [0, 1]."""
  doc: Any
  gold: Any
  pass_rate: float


def metrics(tasks: Sequence[Task], depth_of: Callable[[Any, Any], int | None],
            max_depth: int) -> dict[str, float]:
  """One iteration's curriculum metrics over its valid tasks (n of them):

    curriculum/num_tasks            n
    curriculum/depth_share_d{k}     share of the n tasks at depth k, k = 1..max_depth (0.0
                                    when none; with depth_unknown they sum to 1 when n > 0)
    curriculum/depth_unknown        share whose depth is None or outside 1..max_depth
    curriculum/pass_rate_d{k}       mean pass rate of the tasks at depth k (only for depths
                                    with at least one task)
    curriculum/mean_depth           mean depth of the tasks of known depth (only if any)
  """
  if max_depth < 1:
    raise ValueError(f"max_depth {max_depth}: expected >= 1")
  depths = [depth_of(t.doc, t.gold) for t in tasks]
  known = [(d, float(t.pass_rate)) for d, t in zip(depths, tasks)
           if d is not None and 1 <= d <= max_depth]
  n = len(tasks)
  m = {f"{PREFIX}num_tasks": float(n),
       f"{PREFIX}depth_unknown": (n - len(known)) / n if n else 0.0}
  for k in range(1, max_depth + 1):
    rates = [p for d, p in known if d == k]
    m[f"{PREFIX}depth_share_d{k}"] = len(rates) / n if n else 0.0
    if rates:
      m[f"{PREFIX}pass_rate_d{k}"] = sum(rates) / len(rates)
  if known:
    m[f"{PREFIX}mean_depth"] = sum(d for d, _ in known) / len(known)
  return m


def tasks_from_audit(records: Iterable[Mapping], docs_by_id: Mapping[str, Any]
                     ) -> dict[int, list[Task]]:
  """{step: [Task]} from audit records (`audit/tasks.jsonl`: one per kept Challenger
  trajectory): the valid ones with a pass rate, their document looked up by `doc_id`
  (records whose document is not in `docs_by_id` are skipped)."""
  out: dict[int, list[Task]] = {}
  for r in records:
    if not r.get("valid") or r.get("pass_rate") is None or r.get("doc_id") not in docs_by_id:
      continue
    out.setdefault(int(r["step"]), []).append(
        Task(docs_by_id[r["doc_id"]], r.get("gold"), float(r["pass_rate"])))
  return out


def from_audit(path: str, docs_by_id: Mapping[str, Any],
               depth_of: Callable[[Any, Any], int | None], max_depth: int) -> list[dict]:
  """Per-iteration records {"step": s, **metrics(...)} of a run's audit trail, by step."""
  from spice_jax.utils import metrics as metrics_lib
  by_step = tasks_from_audit(metrics_lib.read(path), docs_by_id)
  return [{"step": s, **metrics(by_step[s], depth_of, max_depth)} for s in sorted(by_step)]


def write_jsonl(records: Sequence[Mapping], path: str) -> str:
  with open(path, "w", encoding="utf-8") as f:
    for r in records:
      f.write(json.dumps(dict(r), sort_keys=True) + "\n")
  return path


def _depths(records: Sequence[Mapping]) -> list[int]:
  return sorted({int(m.group(2)) for r in records for k in r
                 for m in [_DEPTH_KEY.match(k)] if m})


def smooth(xs: Sequence[float], window: int) -> list[float]:
  """Trailing mean over the last `window` finite values (NaN where none)."""
  out = []
  for i in range(len(xs)):
    w = [x for x in xs[max(0, i - window + 1):i + 1] if not math.isnan(x)]
    out.append(sum(w) / len(w) if w else float("nan"))
  return out


def plot(source: str | Sequence[Mapping], path: str, *, window: int = 1) -> str:
  """A PNG of two panels over iterations: the depth distribution of valid tasks (stacked
  shares, one band per depth, grey: gold matching no result) and the Reasoner's pass rate per depth. source: a run's
  `metrics.jsonl` (or `curriculum.jsonl`) path, or the records themselves; records without
  curriculum keys are skipped. window: trailing moving average over iterations."""
  from spice_jax.utils import metrics as metrics_lib
  from spice_jax.utils import plots
  recs = metrics_lib.read(source) if isinstance(source, str) else list(source)
  recs = [r for r in recs if f"{PREFIX}num_tasks" in r]
  plt = plots._pyplot()
  fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
  depths = _depths(recs)
  if not recs or not depths:
    for ax in (a1, a2):
      ax.text(0.5, 0.5, "no curriculum metrics", ha="center", va="center")
  else:
    xs = [r.get("step", i + 1) for i, r in enumerate(recs)]
    cmap = plt.get_cmap("viridis")
    colors = [cmap(i / max(len(depths) - 1, 1)) for i in range(len(depths))]
    shares = [smooth([float(r.get(f"{PREFIX}depth_share_d{k}", 0.0)) for r in recs], window)
              for k in depths]
    unknown = smooth([float(r.get(f"{PREFIX}depth_unknown", 0.0)) for r in recs], window)
    a1.stackplot(xs, shares + [unknown], labels=[f"d{k}" for k in depths] + ["unknown"],
                 colors=colors + ["lightgrey"], alpha=0.85)
    a1.set_ylim(0, 1)
    a1.set_title("depth of valid Challenger tasks (share)")
    for k, c in zip(depths, colors):
      ys = smooth([float(r.get(f"{PREFIX}pass_rate_d{k}", float("nan"))) for r in recs],
                   window)
      a2.plot(xs, ys, "o-", markersize=3, color=c, label=f"d{k}")
    a2.axhline(0.5, color="grey", lw=0.8, ls=":")
    a2.set_ylim(-0.02, 1.02)
    a2.set_title("Reasoner pass rate per depth")
    for ax in (a1, a2):
      ax.set_xlabel("SPICE iteration")
      ax.legend(fontsize=7, ncol=2)
  return plots._save(fig, path, 120)
