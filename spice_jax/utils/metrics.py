"""Metric sinks: JSON lines (the record of a run), TensorBoard, and the console.

Only process 0 writes. `MetricsWriter.truncate_after(step)` drops records of iterations that
a resumed run is about to redo, so a killed-and-resumed run leaves the same file as an
uninterrupted one.
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any, Mapping

import jax
import numpy as np
from absl import logging

from spice_jax.utils import fs


def _scalar(v):
  if isinstance(v, (np.generic, np.ndarray)) and np.ndim(v) == 0:
    v = v.item()
  if isinstance(v, jax.Array) and v.ndim == 0:
    v = v.item()
  if isinstance(v, float) and not math.isfinite(v):
    return str(v)
  return v


def _jsonable(v):
  v = _scalar(v)
  if isinstance(v, (np.ndarray, jax.Array)):
    return np.asarray(v).tolist()
  if isinstance(v, dict):
    return {k: _jsonable(x) for k, x in v.items()}
  if isinstance(v, (list, tuple)):
    return [_jsonable(x) for x in v]
  return v


def truncate_jsonl(path: str, keep) -> int:
  """Rewrites the stream `path` keeping only records for which keep(record) is true.

  Each part (the file, or an object store's segments) is rewritten only when it loses a
  record; a segment left empty is deleted. Returns the number of records dropped.
  """
  dropped = 0
  for part in fs.parts(path):
    kept, lost = [], 0
    for line in fs.object_lines(part):
      try:
        rec = json.loads(line)
      except json.JSONDecodeError:
        lost += 1  # a torn last line from a killed run
        continue
      if keep(rec):
        kept.append(line)
      else:
        lost += 1
    dropped += lost
    if lost and not kept and part != path:
      fs.remove(part)
    elif lost:
      fs.write_text_atomic(part, "".join(kept))
  return dropped


# TensorBoard event files: tensorboardX writes local paths and (with its cloud extras)
# gs:// and s3://; other filesystems get metrics.jsonl only.
_TB_SCHEMES = ("gs://", "s3://")


def _summary_writer_class():
  """tensorboardX's SummaryWriter, imported without PyTorch where PyTorch is not loaded yet.

  tensorboardX imports torch, when installed, only to accept torch tensors (we write Python
  floats); that import took 3.5 s of every trainer start here (torch is installed for the
  transformers parity tests). Hiding it during the import leaves tensorboardX on numpy; a
  later `import torch` works as usual."""
  if "torch" in sys.modules:
    from tensorboardX import SummaryWriter
    return SummaryWriter
  sys.modules["torch"] = None  # `import torch` raises ImportError while this is set
  try:
    from tensorboardX import SummaryWriter
  finally:
    del sys.modules["torch"]
  return SummaryWriter


class MetricsWriter:
  """Writes `metrics.jsonl` and TensorBoard events under `workdir`."""

  def __init__(self, workdir: str, *, tensorboard: bool = True):
    self.enabled = jax.process_index() == 0
    self.path = fs.join(workdir, "metrics.jsonl")
    self._tb = None
    if self.enabled:
      fs.path(workdir).mkdir(parents=True, exist_ok=True)
      tb_ok = fs.is_local(workdir) or os.fspath(workdir).startswith(_TB_SCHEMES)
      if tensorboard and not tb_ok:
        logging.warning("%s: no TensorBoard events on this filesystem (metrics.jsonl only)",
                        workdir)
      elif tensorboard:
        self._tb = _summary_writer_class()(fs.join(workdir, "tensorboard"))

  def truncate_after(self, step: int) -> int:
    if not self.enabled:
      return 0
    return truncate_jsonl(self.path, lambda r: r.get("step", -1) <= step)

  def write(self, step: int, metrics: Mapping[str, Any]) -> None:
    if not self.enabled:
      return
    rec = {"step": int(step)}
    rec.update({k: _jsonable(v) for k, v in metrics.items()})
    line = json.dumps(rec, sort_keys=True)
    try:
      fs.append_lines(self.path, [line + "\n"])
    except OSError as e:
      raise OSError(e.errno, f"cannot append metrics to {self.path}: {e.strerror}") from e
    if self._tb is not None:
      for k, v in rec.items():
        v = _scalar(v)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "step":
          self._tb.add_scalar(k, v, step)
      self._tb.flush()

  def close(self):
    if self._tb is not None:
      self._tb.close()


def read(path: str) -> list[dict]:
  out = []
  for line in fs.read_lines(path):
    try:
      out.append(json.loads(line))
    except json.JSONDecodeError:
      logging.warning("%s: skipping a malformed line", path)
  return out


def add_throughput(m: dict) -> None:
  """Adds sampling throughput and the unaccounted time to an iteration's metrics."""
  sample_t = sum(m.get(f"time/sample_{r}", 0.0) for r in ("format", "challenger", "reasoner"))
  m["time/other"] = max(m["time/iteration"] - sample_t - m.get("time/verify", 0.0)
                        - m.get("time/parse", 0.0) - m["time/update"], 0.0)
  for role in ("challenger", "reasoner"):
    tk, tt = m.get(f"tokens/{role}", 0.0), m.get(f"time/sample_{role}", 0.0)
    m[f"throughput/sample_tokens_per_s_{role}"] = tk / tt if tt else 0.0
  tot_tok = m.get("tokens/challenger", 0.0) + m.get("tokens/reasoner", 0.0)
  m["throughput/sample_tokens_per_s"] = tot_tok / sample_t if sample_t else 0.0


def summary_table(workdir: str) -> str:
  """A short Markdown table of a run's iterations (for the demo and the README)."""
  recs = read(fs.join(workdir, "metrics.jsonl"))
  cols = [("iter", "step", "{:d}"), ("valid", "challenger/valid_rate", "{:.2f}"),
          ("r_C", "challenger/reward_mean", "{:.3f}"), ("acc", "reasoner/accuracy", "{:.2f}"),
          ("loss", "loss", "{:.4f}"), ("sample s", None, "{:.1f}"),
          ("verify s", "time/verify", "{:.1f}"), ("update s", "time/update", "{:.1f}"),
          ("total s", "time/iteration", "{:.1f}")]
  lines = ["| " + " | ".join(c[0] for c in cols) + " |", "|" + "---|" * len(cols)]
  for r in recs:
    cells = []
    for _, key, fmt in cols:
      v = (sum(r.get(f"time/sample_{x}", 0.0) for x in ("format", "challenger", "reasoner"))
           if key is None else r.get(key, float("nan")))
      try:
        cells.append(fmt.format(v))
      except (ValueError, TypeError):
        cells.append(str(v))
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines)
