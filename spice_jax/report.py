"""The world experiment's report: Markdown tables, one PNG, and the summary line.

`write(workdir, curves=..., runs=..., probes=..., times=...)` writes `report.md`,
`accuracy.png` and `summary.json` into the workdir and returns {"table", "line", ...}.
curves: {(variant, seed): {step: {"overall": acc, "world_d1": .., "world_d2": ..}}}.
"""

from __future__ import annotations

import json
import os
from typing import Mapping

import numpy as np

from spice_jax.utils import metrics as metrics_lib


def _ms(xs) -> str:
  xs = [100.0 * x for x in xs]
  if not xs:
    return "-"
  return f"{np.mean(xs):.1f}" + (f" ± {np.std(xs):.1f}" if len(xs) > 1 else "")


def _by_variant(curves) -> dict[str, dict[int, dict[int, dict]]]:
  out: dict = {}
  for (name, seed), c in curves.items():
    out.setdefault(name, {})[seed] = c
  return out


def ablation_table(curves) -> tuple[str, dict]:
  """Variant | warm start | end | gain (held-out overall, mean ± std over seeds)."""
  lines = ["| variant | seeds | start (%) | end (%) | gain (points) | end d1 (%) | end d2 (%) |",
           "|---|---:|---:|---:|---:|---:|---:|"]
  stats = {}
  for name, seeds in _by_variant(curves).items():
    start = [c[min(c)]["overall"] for c in seeds.values()]
    end = [c[max(c)]["overall"] for c in seeds.values()]
    gain = [e - s for s, e in zip(start, end)]
    d1 = [c[max(c)].get("world_d1", 0.0) for c in seeds.values()]
    d2 = [c[max(c)].get("world_d2", 0.0) for c in seeds.values()]
    stats[name] = dict(start=float(np.mean(start)), end=float(np.mean(end)),
                       gain=float(np.mean(gain)), gain_std=float(np.std(gain)),
                       end_std=float(np.std(end)))
    lines.append(f"| {name} | {len(seeds)} | {_ms(start)} | {_ms(end)} | {_ms(gain)} | "
                 f"{_ms(d1)} | {_ms(d2)} |")
  return "\n".join(lines), stats


def checkpoint_table(curves) -> str:
  """Held-out accuracy per checkpoint step, one column per variant (mean ± std)."""
  byv = _by_variant(curves)
  steps = sorted({s for c in curves.values() for s in c})
  lines = ["| step | " + " | ".join(byv) + " |", "|---:|" + "---:|" * len(byv)]
  for s in steps:
    cells = [_ms([c[s]["overall"] for c in seeds.values() if s in c]) for seeds in byv.values()]
    lines.append(f"| {s} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def dynamics_table(runs) -> str:
  """Challenger valid rate and mean pass rate of its valid tasks, first vs last iteration."""
  lines = ["| run | valid rate first→last | pass rate first→last | r_C first→last |",
           "|---|---|---|---|"]
  for (name, seed), d in runs.items():
    recs = metrics_lib.read(os.path.join(d, "metrics.jsonl"))
    if not recs:
      continue
    f, l = recs[0], recs[-1]
    cell = lambda k: f"{f.get(k, float('nan')):.2f} → {l.get(k, float('nan')):.2f}"
    lines.append(f"| {name} s{seed} | {cell('challenger/valid_rate')} | "
                 f"{cell('challenger/pass_rate_mean')} | {cell('challenger/reward_mean')} |")
  return "\n".join(lines)


def plot(curves, path: str) -> str:
  """Held-out accuracy per checkpoint, mean +- std over seeds, one line per variant."""
  from spice_jax.utils import plots
  series = []
  for name, seeds in _by_variant(curves).items():
    steps = sorted(set.intersection(*[set(c) for c in seeds.values()]))
    vals = np.array([[100 * c[s]["overall"] for s in steps] for c in seeds.values()])
    series.append((name, steps, list(vals.mean(0)), "o-", list(vals.std(0))))
  return plots.lines(path, series, xlabel="SPICE iteration",
                     ylabel="held-out Reasoner accuracy (%)")


def summary_line(stats: Mapping[str, dict]) -> str:
  s = stats.get("spice") or next(iter(stats.values()))
  ctrl = stats.get("lr0")
  c = f"{100 * ctrl['end']:.1f}%" if ctrl else "n/a"
  return (f"held-out reasoner accuracy: {100 * s['start']:.1f}% -> {100 * s['end']:.1f}% "
          f"(lr=0 control: {c})")


def write(workdir: str, *, curves, runs, probes, times, n_items: int) -> dict:
  from spice_jax.eval import coevolution
  abl, stats = ablation_table(curves)
  parts = [f"# SPICE world experiment\n\nHeld-out set: {n_items} tasks from held-out "
           "documents, graded against the generator's values (greedy decoding).\n",
           "## Held-out Reasoner accuracy (mean ± std over seeds)\n", abl, "",
           "## Per checkpoint (overall, %)\n", checkpoint_table(curves), "",
           "## Challenger dynamics (training metrics)\n", dynamics_table(runs), ""]
  for seed, rows in probes.items():
    parts += [f"## Co-evolution probe (spice, seed {seed}; held-out documents)\n",
              coevolution.to_markdown(rows, rows[0].step)]
  parts += ["## Wall times (s)\n", "| stage | seconds |", "|---|---:|"]
  parts += [f"| {k} | {v:.0f} |" for k, v in times.items()]
  parts += ["", f"load average at the end: {os.getloadavg()[0]:.2f} (2 cores)", ""]
  line = summary_line(stats)
  parts += ["```", line, "```", ""]
  with open(os.path.join(workdir, "report.md"), "w") as f:
    f.write("\n".join(parts))
  plot(curves, os.path.join(workdir, "accuracy.png"))
  out = {"table": abl, "line": line, "stats": stats, "times": times}
  with open(os.path.join(workdir, "summary.json"), "w") as f:
    json.dump(out, f, indent=2)
  return dict(out, curves=curves)
