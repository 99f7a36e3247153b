"""The world experiment's report: Markdown tables, one PNG, and the summary line.

`write(workdir, curves=..., runs=..., probes=..., times=...)` writes `report.md`,
`accuracy.png` and `summary.json` into the workdir and returns {"table", "line", ...}.
curves: {(variant, seed): {step: {"test": acc, "test_d1": .., "dev": .., "dev_d2": ..}}}
(`eval.heldout.accuracy` per checkpoint). Three held-out sets (`data.world`): "test" and
"dev" (problems whose quantities no role has seen; test is the headline and the summary
line, dev is the set every design choice was made on) and "train_renamed" (the SPICE corpus's
problems renamed: fitting of the training problems, not generalisation). A world may name its
own sets (`write(sets=...)`, e.g. `data.ladder.SETS`: dev and test pool depths 2..D, depth 1
is reported apart as `dev_facts` / `test_facts`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Mapping, Sequence

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


SETS = {"test": "unseen problems (quantities no role has seen), reported only: the headline",
        "dev": "unseen problems (quantities no role has seen), used for every design choice",
        "train_renamed": "the SPICE corpus's own problems renamed (fitting, not transfer)"}
HEADLINE = "test"
LABELS = {"test": " on unseen problems", "dev": " on unseen problems, dev set",
          "train_renamed": " on the training problems renamed"}


def ablation_table(curves, held_out: str = HEADLINE) -> tuple[str, dict]:
  """Variant | start | end | gain on one held-out set (mean ± std over seeds)."""
  lines = ["| variant | seeds | start (%) | end (%) | gain (points) | end d1 (%) | end d2 (%) |",
           "|---|---:|---:|---:|---:|---:|---:|"]
  stats = {}
  for name, seeds in _by_variant(curves).items():
    start = [c[min(c)][held_out] for c in seeds.values()]
    end = [c[max(c)][held_out] for c in seeds.values()]
    gain = [e - s for s, e in zip(start, end)]
    d1 = [c[max(c)][f"{held_out}_d1"] for c in seeds.values() if f"{held_out}_d1" in c[max(c)]]
    d2 = [c[max(c)][f"{held_out}_d2"] for c in seeds.values() if f"{held_out}_d2" in c[max(c)]]
    stats[name] = dict(start=float(np.mean(start)), end=float(np.mean(end)),
                       gain=float(np.mean(gain)), gain_std=float(np.std(gain)),
                       end_std=float(np.std(end)))
    lines.append(f"| {name} | {len(seeds)} | {_ms(start)} | {_ms(end)} | {_ms(gain)} | "
                 f"{_ms(d1)} | {_ms(d2)} |")
  return "\n".join(lines), stats


def checkpoint_table(curves, held_out: str = HEADLINE) -> str:
  """Held-out accuracy per checkpoint step, one column per variant (mean ± std)."""
  byv = _by_variant(curves)
  steps = sorted({s for c in curves.values() for s in c})
  lines = ["| step | " + " | ".join(byv) + " |", "|---:|" + "---:|" * len(byv)]
  for s in steps:
    cells = [_ms([c[s][held_out] for c in seeds.values() if s in c]) for seeds in byv.values()]
    lines.append(f"| {s} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def _gold_accuracy(run_dir: str, first: bool, grade=None) -> float:
  """Share of valid tasks (first or last tenth of the iterations, audit trail) whose gold
  equals the generator's value for the question as written: grade(question, gold) -> bool
  | None (default `data.world.gold_is_true`; None: not gradable, left out)."""
  if grade is None:
    from spice_jax.data import world
    grade = world.gold_is_true
  path = os.path.join(run_dir, "audit", "tasks.jsonl")
  if not os.path.exists(path):
    return float("nan")
  recs = [r for r in metrics_lib.read(path) if r.get("reason") == "ok"]
  if not recs:
    return float("nan")
  last = max(r["step"] for r in recs)
  tenth = max(1, last // 10)
  keep = [r for r in recs if (r["step"] <= tenth if first else r["step"] > last - tenth)]
  graded = [grade(r["question"], r["gold"]) for r in keep]
  graded = [g for g in graded if g is not None]
  return sum(graded) / len(graded) if graded else float("nan")


def dynamics_table(runs, grade=None) -> str:
  """Challenger valid rate, mean pass rate of its valid tasks, r_C and gold accuracy (graded
  by the generator: `grade`, as `_gold_accuracy`), first vs last iteration (gold: first vs
  last tenth of the run)."""
  lines = ["| run | valid rate first→last | pass rate first→last | r_C first→last | "
           "gold correct first→last |", "|---|---|---|---|---|"]
  for (name, seed), d in runs.items():
    recs = metrics_lib.read(os.path.join(d, "metrics.jsonl"))
    if not recs:
      continue
    f, l = recs[0], recs[-1]
    cell = lambda k: f"{f.get(k, float('nan')):.2f} → {l.get(k, float('nan')):.2f}"
    gold = f"{_gold_accuracy(d, True, grade):.2f} → {_gold_accuracy(d, False, grade):.2f}"
    lines.append(f"| {name} s{seed} | {cell('challenger/valid_rate')} | "
                 f"{cell('challenger/pass_rate_mean')} | {cell('challenger/reward_mean')} | "
                 f"{gold} |")
  return "\n".join(lines)


def depth_table(curves, held_out: str, max_depth: int) -> str:
  """Accuracy per depth (a ladder world's `<set>_d<k>` benchmarks): start and end per
  variant, mean ± std over seeds, and the gain per depth."""
  ks = range(1, max_depth + 1)
  lines = ["| variant | " + " | ".join(f"d{k} start→end (gain)" for k in ks) + " |",
           "|---|" + "---|" * max_depth]
  for name, seeds in _by_variant(curves).items():
    cells = []
    for k in ks:
      key = f"{held_out}_d{k}"
      st = [c[min(c)].get(key, float("nan")) for c in seeds.values()]
      en = [c[max(c)].get(key, float("nan")) for c in seeds.values()]
      cells.append(f"{_ms(st)} → {_ms(en)} ({_ms([e - s for s, e in zip(st, en)])})")
    lines.append(f"| {name} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def _finite_mean(xs) -> float:
  """Mean of the non-NaN values of `xs`; NaN when there are none."""
  xs = [x for x in xs if not np.isnan(x)]
  return float(np.mean(xs)) if xs else float("nan")


def _curriculum(run_dir: str) -> list[dict]:
  path = os.path.join(run_dir, "curriculum.jsonl")
  return metrics_lib.read(path) if os.path.exists(path) else []


def curricula(runs) -> dict[str, list[list[dict]]]:
  """{variant: [each seed's `curriculum.jsonl` records, by step]}, runs without one left out."""
  by: dict = {}
  for (name, _), d in runs.items():
    recs = sorted(_curriculum(d), key=lambda r: r["step"])
    if recs:
      by.setdefault(name, []).append(recs)
  return by


def curriculum_table(runs, max_depth: int) -> str:
  """Per variant (mean over seeds): the Challenger's mean valid-task depth over the first
  and the last ten iterations, the share of golds matching no stated result, and the
  Reasoner's pass rate per depth over the last ten iterations (`curriculum.jsonl`)."""
  from spice_jax.eval import decision
  by = curricula(runs)
  ks = range(1, max_depth + 1)
  lines = ["| variant | mean depth, iterations 1-10 | 31-40 | shift ± SE | unknown depth | "
           + " | ".join(f"pass d{k}" for k in ks) + " |",
           "|---|---:|---:|---:|---:|" + "---:|" * max_depth]

  def avg(recs, key):
    return _finite_mean([float(r[key]) for r in recs if key in r])

  for name, runs_ in by.items():
    early, late = zip(*(decision.depth_windows(r) for r in runs_))
    shift = [x for x in (decision.depth_shift(r) for r in runs_) if not np.isnan(x)]
    sh = decision.paired(shift) if shift else None
    unk = [avg(r, "curriculum/depth_unknown") for r in runs_]
    passes = [_finite_mean([avg(r[-10:], f"curriculum/pass_rate_d{k}") for r in runs_])
              for k in ks]
    lines.append(f"| {name} | {_finite_mean(early):.2f} | {_finite_mean(late):.2f} | "
                 + (f"{sh.diff:+.2f} ± {sh.se:.2f}" if sh else "-")
                 + f" | {_finite_mean(unk):.2f} | " + " | ".join(f"{p:.2f}" for p in passes)
                 + " |")
  return "\n".join(lines)


def seed_mean(runs_records: Sequence[Sequence[Mapping]]) -> list[dict]:
  """Per-iteration means over seeds of curriculum records (one list per seed, `step` keyed):
  every numeric key averaged over the seeds that have it at that step (NaN values skipped)."""
  by_step: dict = {}
  for recs in runs_records:
    for r in recs:
      by_step.setdefault(int(r["step"]), []).append(r)
  out = []
  for step in sorted(by_step):
    keys = {k for r in by_step[step] for k in r if k != "step"}
    row = {"step": step}
    for k in sorted(keys):
      xs = [float(r[k]) for r in by_step[step]
            if isinstance(r.get(k), (int, float)) and not math.isnan(float(r[k]))]
      if xs:
        row[k] = sum(xs) / len(xs)
    out.append(row)
  return out


def curriculum_plots(runs, workdir: str, window: int = 5) -> list[str]:
  """The experiment's curriculum pictures (a ladder world): `curriculum_depth.png`, every
  variant's mean valid-task depth per iteration (mean over seeds, trailing `window`-iteration
  average), and `curriculum_<variant>.png` for spice and fixed_challenger: their depth shares
  and per-depth pass rates averaged over seeds (`eval.curriculum.plot`)."""
  from spice_jax.eval import curriculum
  from spice_jax.utils import plots
  by = curricula(runs)
  series = []
  for name, seeds in by.items():
    mean = [r for r in seed_mean(seeds) if "curriculum/mean_depth" in r]
    ys = curriculum.smooth([r["curriculum/mean_depth"] for r in mean], window)
    series.append((name, [r["step"] for r in mean], ys, "-"))
  paths = [plots.lines(os.path.join(workdir, "curriculum_depth.png"), series,
                       xlabel="SPICE iteration", ylabel="mean depth of valid tasks",
                       title=f"Challenger task depth (mean over seeds, {window}-iteration "
                             "trailing average)", empty_text="no curriculum metrics")]
  for name in ("spice", "fixed_challenger"):
    if name in by:
      paths.append(curriculum.plot(seed_mean(by[name]),
                                   os.path.join(workdir, f"curriculum_{name}.png"),
                                   window=window))
  return paths


def hypotheses(curves, runs, held_out: str = HEADLINE) -> list:
  """The pre-registered H1-H3 and the lr=0 check (`eval.decision.Outcome`s) on one held-out
  set: gains from `curves`, depth shifts from each run's `curriculum.jsonl`."""
  from spice_jax.eval import decision
  gains = {name: [c[max(c)][held_out] - c[min(c)][held_out] for c in seeds.values()]
           for name, seeds in _by_variant(curves).items()}
  shifts: dict = {}
  for (name, _), d in runs.items():
    recs = _curriculum(d)
    if recs:
      shifts.setdefault(name, []).append(decision.depth_shift(recs))
  return decision.hypotheses(gains, shifts)


def provenance() -> str:
  """`spice_jax <commit>[+changes], <UTC date>` of the code that runs (commit: 'unknown'
  outside a git checkout), for the pictures a run writes."""
  import datetime
  import subprocess
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  try:
    commit = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, timeout=10).stdout.strip()
    dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=10).stdout.strip()
  except (OSError, subprocess.SubprocessError):
    commit, dirty = "", ""
  date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
  return f"spice_jax {commit or 'unknown'}{'+changes' if dirty else ''}, {date}"


def plot(curves, path: str, title: str = "") -> str:
  """Held-out accuracy per checkpoint, mean +- std over seeds: one line per variant and set
  (solid: test, dashed: dev, dotted: train_renamed). title: e.g. what made it."""
  from spice_jax.utils import plots
  series = []
  for held_out, style in (("test", "o-"), ("dev", "s--"), ("train_renamed", "^:")):
    for name, seeds in _by_variant(curves).items():
      steps = sorted(set.intersection(*[set(c) for c in seeds.values()]))
      vals = np.array([[100 * c[s][held_out] for s in steps] for c in seeds.values()])
      series.append((f"{name} ({held_out})", steps, list(vals.mean(0)), style,
                     list(vals.std(0))))
  return plots.lines(path, series, xlabel="SPICE iteration",
                     ylabel="held-out Reasoner accuracy (%)", title=title)


def summary_line(stats: Mapping[str, dict], label: str = "") -> str:
  s = stats.get("spice") or next(iter(stats.values()))
  ctrl = stats.get("lr0")
  c = f"{100 * ctrl['end']:.1f}%" if ctrl else "n/a"
  return (f"held-out reasoner accuracy{label}: {100 * s['start']:.1f}% -> "
          f"{100 * s['end']:.1f}% (lr=0 control: {c})")


def write(workdir: str, *, curves, runs, probes, times, n_items: int,
          command: str = "", max_depth: int = 0, grade_gold=None,
          sets: Mapping[str, str] | None = None) -> dict:
  """report.md, accuracy.png (titled with `command` and `provenance()`) and summary.json.
  max_depth > 0 (a ladder world): also accuracy per depth, the curriculum and the
  pre-registered hypotheses (`eval.decision`). grade_gold: the world's gold grader for the
  dynamics table (`_gold_accuracy`). sets: {held-out set: what it measures}, the pooled
  sets of `curves` to tabulate (default `SETS`; it must hold test, dev and train_renamed)."""
  from spice_jax.eval import coevolution
  sets = dict(sets or SETS)
  missing = [h for h in SETS if h not in sets]
  if missing:
    raise ValueError(f"report.write: sets {sorted(sets)} lack {missing}")
  tables = {h: ablation_table(curves, h) for h in sets}
  parts = [f"# SPICE world experiment\n\nHeld-out tasks: {n_items}, graded against the "
           "generator's values (greedy decoding), in three sets of held-out documents:\n"]
  parts += [f"- **{h}**: {what}" for h, what in sets.items()]
  parts += [""]
  for h in sets:
    parts += [f"## Held-out Reasoner accuracy, set {h} (mean ± std over seeds)\n",
              tables[h][0], "", f"Per checkpoint ({h}, %):\n", checkpoint_table(curves, h),
              ""]
  outcomes = {h: hypotheses(curves, runs, h) for h in (HEADLINE, "dev")} if max_depth else {}
  if max_depth:
    from spice_jax.eval import decision
    for h in (HEADLINE, "dev"):
      parts += [f"## Accuracy per depth, set {h} (%, mean ± std over seeds)\n",
                depth_table(curves, h, max_depth), ""]
    pics = [os.path.basename(p) for p in curriculum_plots(runs, workdir)]
    parts += ["## Curriculum (valid Challenger tasks, `curriculum.jsonl` of each run)\n",
              curriculum_table(runs, max_depth), "",
              " ".join(f"![{p}]({p})" for p in pics), ""]
    for h in (HEADLINE, "dev"):
      parts += [f"## Pre-registered hypotheses, set {h} (gains in points, depth shift in "
                "depth units; holds: beyond 2 SE)\n", decision.to_markdown(outcomes[h]), ""]
  parts += ["## Challenger dynamics (training metrics)\n", dynamics_table(runs, grade_gold),
            ""]
  for seed, rows in probes.items():
    parts += [f"## Co-evolution probe (spice, seed {seed}; held-out documents)\n",
              coevolution.to_markdown(rows, rows[0].step)]
  parts += ["## Wall times (s)\n", "| stage | seconds |", "|---|---:|"]
  parts += [f"| {k} | {v:.0f} |" for k, v in times.items()]
  parts += ["", f"load average at the end: {os.getloadavg()[0]:.2f} (2 cores)", ""]
  lines = [summary_line(tables[h][1], LABELS[h]) for h in ("train_renamed", "dev", HEADLINE)]
  parts += ["```", *lines, "```", ""]
  with open(os.path.join(workdir, "report.md"), "w") as f:
    f.write("\n".join(parts))
  plot(curves, os.path.join(workdir, "accuracy.png"),
       title=f"{command + chr(10) if command else ''}{provenance()}")
  table = "\n\n".join(f"held-out set {h} ({sets[h]}):\n{tables[h][0]}" for h in sets)
  out = {"table": table, "lines": lines, "line": lines[-1],
         "stats": {h: tables[h][1] for h in sets}, "times": times,
         "hypotheses": {h: [dataclasses.asdict(o) for o in os_] for h, os_ in outcomes.items()}}
  with open(os.path.join(workdir, "summary.json"), "w") as f:
    json.dump(out, f, indent=2)
  return dict(out, curves=curves)
