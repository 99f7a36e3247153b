"""The audit trail: one JSON line per Challenger task (and per guardrail event).

`audit/tasks.jsonl` records, for every task, the document it came from, the template
version, the question, the gold answer, why it is (in)valid, every Reasoner answer with its
verdict, and the rewards and advantages. `audit/events.jsonl` records guardrail firings and
resumes. Records carry the iteration `step`, so a resumed run truncates what it will redo.
"""

from __future__ import annotations

import json
from typing import Iterable, Mapping

import jax

from spice_jax.utils import fs
from spice_jax.utils.metrics import _jsonable, truncate_jsonl


class AuditTrail:

  def __init__(self, workdir: str):
    self.enabled = jax.process_index() == 0
    self.dir = fs.join(workdir, "audit")
    if self.enabled:
      fs.path(self.dir).mkdir(parents=True, exist_ok=True)

  def _path(self, name):
    return fs.join(self.dir, f"{name}.jsonl")

  def truncate_after(self, step: int, names=("tasks", "events")) -> None:
    """Drops records of iterations after `step` (that a resumed run will redo)."""
    if not self.enabled:
      return
    for name in names:
      truncate_jsonl(self._path(name), lambda r: r.get("step", -1) <= step)

  def write(self, name: str, records: Iterable[Mapping]) -> None:
    if not self.enabled:
      return
    lines = [json.dumps(_jsonable(dict(r)), sort_keys=True, ensure_ascii=False) + "\n"
             for r in records]
    path = self._path(name)
    try:
      fs.append_lines(path, lines)
    except OSError as e:
      raise OSError(e.errno, f"cannot append the audit trail {path}: {e.strerror}") from e

  def event(self, step: int, kind: str, **fields) -> None:
    self.write("events", [dict(step=step, event=kind, **fields)])
