"""All PNG plotting: a run's main curves (from `metrics.jsonl`) and grouped bar charts.

  python -m spice_jax.utils.plots --workdir=runs/demo     # writes runs/demo/plots/curves.png

matplotlib is imported lazily (Agg backend), so importing this module is cheap.
"""

from __future__ import annotations

import argparse
from typing import Mapping, Sequence

from spice_jax.utils import fs
from spice_jax.utils import metrics as metrics_lib

PANELS = (
    ("Reasoner accuracy", ("reasoner/accuracy",)),
    ("Challenger reward / valid rate", ("challenger/reward_mean", "challenger/valid_rate")),
    ("Loss", ("loss",)),
    ("Grad norm", ("grad_norm",)),
    ("Entropy", ("challenger/entropy", "reasoner/entropy")),
    ("Response length", ("challenger/response_len_mean", "reasoner/response_len_mean")),
    ("Pass-rate of valid tasks", ("challenger/pass_rate_mean",)),
    ("Throughput (tokens/s)", ("throughput/sample_tokens_per_s", "throughput/update_tokens_per_s")),
)


def _pyplot():
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  return plt


def _save(fig, path: str, dpi: int) -> str:
  fs.path(path).parent.mkdir(parents=True, exist_ok=True)
  fig.tight_layout()
  with fs.path(path).open("wb") as f:
    fig.savefig(f, format="png", dpi=dpi)
  _pyplot().close(fig)
  return path


def lines(path: str, series: Sequence[tuple], *, xlabel: str, ylabel: str, title: str = "",
          ylim: tuple[float, float] | None = None, empty_text: str = "no data",
          size: tuple[float, float] = (6, 4)) -> str:
  """A line chart as PNG. series: (label, xs, ys, style) or (label, xs, ys, style, spread)
  where spread (same length as ys) is drawn as a +- band around the line."""
  fig, ax = _pyplot().subplots(figsize=size)
  for label, xs, ys, style, *band in series:
    ax.plot(xs, ys, style, label=label)
    if band:
      lo = [y - s for y, s in zip(ys, band[0])]
      hi = [y + s for y, s in zip(ys, band[0])]
      ax.fill_between(xs, lo, hi, alpha=0.15)
  ax.set_xlabel(xlabel)
  ax.set_ylabel(ylabel)
  if ylim:
    ax.set_ylim(*ylim)
  if title:
    ax.set_title(title, fontsize=9)
  if ax.get_lines():
    ax.legend(fontsize=7)
  else:
    ax.text(0.5, 0.5, empty_text, ha="center", va="center", transform=ax.transAxes)
  return _save(fig, path, dpi=120)


def plot_run(workdir: str, out: str | None = None) -> str:
  """Writes `plots/curves.png` (a grid of the main curves) and returns its path."""
  recs = metrics_lib.read(fs.join(workdir, "metrics.jsonl"))
  if not recs:
    raise FileNotFoundError(f"{workdir}/metrics.jsonl: no metrics to plot")
  cols = 4
  rows = (len(PANELS) + cols - 1) // cols
  fig, axes = _pyplot().subplots(rows, cols, figsize=(4 * cols, 3 * rows))
  for ax, (title, keys) in zip(axes.flat, PANELS):
    for k in keys:
      pts = [(r["step"], r[k]) for r in recs if isinstance(r.get(k), (int, float))]
      if pts:
        xs, ys = zip(*pts)
        ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, label=k)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("iteration", fontsize=8)
    ax.tick_params(labelsize=7)
    if ax.lines:
      ax.legend(fontsize=6)
  return _save(fig, out or fs.join(workdir, "plots", "curves.png"), dpi=90)


def grouped_bars(values: Mapping[str, Sequence[float | None]], labels: Sequence[str],
                 path: str, *, title: str = "", ylabel: str = "", ymax: float | None = None,
                 split_at: int | None = None) -> str:
  """A grouped bar chart as PNG: one group per label, one bar per series.

  values: {series name: one value per label (None drawn as 0)}.
  split_at: draw a dashed separator before group `split_at` (e.g. benchmarks | averages).
  """
  import numpy as np
  x = np.arange(len(labels))
  width = 0.8 / max(len(values), 1)
  fig, ax = _pyplot().subplots(figsize=(max(6.0, 0.9 * len(labels) + 2), 4.2))
  for i, (name, vals) in enumerate(values.items()):
    vals = [0.0 if v is None else float(v) for v in vals]
    bars = ax.bar(x - 0.4 + width * (i + 0.5), vals, width, label=name)
    for b, v in zip(bars, vals):
      ax.annotate(f"{v:.0f}", (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom",
                  fontsize=6)
  ax.set_xticks(x)
  ax.set_xticklabels(list(labels), rotation=35, ha="right", fontsize=8)
  if split_at is not None and 0 < split_at < len(labels):
    ax.axvline(split_at - 0.5, color="grey", lw=0.8, ls="--")
  ax.set_ylabel(ylabel)
  if ymax is not None:
    ax.set_ylim(0, ymax)
  ax.set_title(title)
  ax.legend(fontsize=7, loc="upper right")
  return _save(fig, path, dpi=120)


def main(argv: Sequence[str] | None = None) -> None:
  ap = argparse.ArgumentParser(prog="python -m spice_jax.utils.plots",
                               description="Writes the PNG plots of a run.")
  ap.add_argument("--workdir", required=True, help="Run directory holding metrics.jsonl.")
  ap.add_argument("--out", default=None, help="PNG path (default: <workdir>/plots/curves.png).")
  args = ap.parse_args(argv)
  print(plot_run(args.workdir, args.out))


if __name__ == "__main__":
  main()
