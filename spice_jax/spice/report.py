"""Metrics (SPEC §9) and audit records of one self-play iteration, built from its records.

Pure functions of the `selfplay.DocPlay` list: no sampling, no state.
"""

from __future__ import annotations

import collections
from typing import Any, Sequence

import numpy as np

from spice_jax.sampling import stats as engine_stats
from spice_jax.spice import prompts as prompts_lib
from spice_jax.spice.config import FORMATS

MAX_AUDIT_CHARS = 4000
ANSWER_KINDS = ("mcq", "integer", "expression", "string")


def _mean(xs) -> float:
  xs = list(xs)
  return float(np.mean(xs)) if xs else 0.0


def _spread(prefix: str, xs) -> dict[str, float]:
  a = np.asarray(list(xs), np.float32)
  if not a.size:
    return {f"{prefix}_mean": 0.0, f"{prefix}_std": 0.0, f"{prefix}_abs_max": 0.0}
  return {f"{prefix}_mean": float(a.mean()), f"{prefix}_std": float(a.std()),
          f"{prefix}_abs_max": float(np.abs(a).max())}


def _lengths(role: str, samples) -> dict[str, float]:
  lens = [s.length for s in samples]
  return {f"{role}/response_len_mean": _mean(lens),
          f"{role}/response_len_max": float(max(lens)) if lens else 0.0,
          f"{role}/truncated_frac": _mean(s.finish == "length" for s in samples)}


def metrics(plays: Sequence[Any], counters: collections.Counter, cfg) -> dict[str, Any]:
  """The iteration's metrics: Challenger validity/attempts/format mix/reward/pass rates,
  Reasoner accuracy/reward, both roles' advantages and lengths, time and token counters."""
  K = cfg.num_answers
  attempts = [a for p in plays for a in p.attempts]
  kept = [a for p in plays for a in p.kept]
  tasks = [t for p in plays for t in p.tasks]
  train = [ans for t in tasks if t.trains for ans in t.answers]
  n_att = [len(p.attempts) for p in plays]
  m: dict[str, Any] = {
      "challenger/valid_rate": _mean(a.task.valid for a in attempts),
      "challenger/kept_valid_rate": _mean(a.task.valid for a in kept),
      "challenger/attempts_per_doc_mean": _mean(n_att),
      "challenger/attempts_per_doc_max": float(max(n_att)) if n_att else 0.0,
      "challenger/docs_without_valid": float(sum(not p.has_valid for p in plays)),
      "challenger/reward_mean": _mean(a.reward for a in kept),
  }
  for f in FORMATS:
    m[f"challenger/format_{f}"] = _mean(p.fmt == f for p in plays)
  kinds = collections.Counter(t.attempt.task.kind for t in tasks)
  for kd in ANSWER_KINDS:
    m[f"challenger/answer_type_{kd}"] = kinds[kd] / max(len(tasks), 1)
  reasons = collections.Counter(a.task.reason for a in attempts if not a.task.valid)
  for r, n in reasons.items():
    m[f"challenger/invalid_{r}"] = n / max(len(attempts), 1)
  p = np.array([t.pass_rate for t in tasks])
  hist = np.bincount(np.round(p * K).astype(int), minlength=K + 1) if len(p) else np.zeros(K + 1)
  m["challenger/pass_rate_hist"] = [int(x) for x in hist]
  m["challenger/pass_rate_mean"] = _mean(p)
  m["challenger/zero_variance_frac"] = _mean((p == 0) | (p == 1))
  m["reasoner/accuracy"] = _mean(ans.correct for t in tasks for ans in t.answers)
  m["reasoner/reward_mean"] = _mean(ans.reward for ans in train)
  m.update(_spread("challenger/adv", [a.advantage for a in kept]))
  m.update(_spread("reasoner/adv", [ans.advantage for ans in train]))
  m.update(_lengths("challenger", [a.sample for a in attempts]))
  m.update(_lengths("reasoner", [ans.sample for t in tasks for ans in t.answers]))
  for role in ("format", "challenger", "reasoner"):
    m[f"time/sample_{role}"] = float(counters[f"time/sample_{role}"])
    m[f"tokens/{role}"] = float(counters[f"tokens/{role}"])
  for k in ("time/verify", "time/verify_exposed", "time/parse"):
    m[k] = float(counters[k])
  m["challenger/format_selection_failed"] = float(counters["format_selection_failed"])
  m.update({k: float(v) for k, v in counters.items() if k.startswith("host/")})
  m.update(engine_stats.metrics(counters))  # occupancy, preemptions, KV high-water mark
  return m


def _clip(text: str | None) -> str | None:
  return None if text is None else text[:MAX_AUDIT_CHARS]


def audit(plays: Sequence[Any], step: int, cfg, *, grounded: bool, versions: dict,
          train_challenger: bool) -> list[dict]:
  """One JSON-able record per kept Challenger trajectory: the document, the template, the
  format-selection output, attempts used, the task, its validity, rewards, and (for a valid
  task) every Reasoner answer with its verdict."""
  recs = []
  for p in plays:
    doc = p.doc or {}
    name = prompts_lib.challenger_template_name(p.fmt, cfg.challenger_style, grounded=grounded)
    by_attempt = {id(t.attempt): t for t in p.tasks}
    for a in p.kept:
      rec = dict(step=step, doc_index=p.gid, doc_id=doc.get("doc_id"),
                 source=doc.get("source"), offset=doc.get("offset"), fmt=p.fmt,
                 answer_type_hint=p.answer_type, format_selection=_clip(p.selection),
                 attempts_used=len(p.attempts), template=name,
                 template_version=versions.get(name), valid=a.task.valid,
                 reason=a.task.reason, kind=a.task.kind, question=a.task.question,
                 gold=a.task.answer, challenger_output=_clip(a.sample.text),
                 finish=a.sample.finish, challenger_reward=a.reward,
                 challenger_advantage=a.advantage if train_challenger else None)
      t = by_attempt.get(id(a))
      if t is not None:
        rec["reasoner"] = [dict(answer=_clip(ans.sample.text), correct=ans.correct,
                                reason=ans.reason) for ans in t.answers]
        rec["pass_rate"] = t.pass_rate
        rec["gold_used"] = t.gold
        rec["reasoner_training_group"] = t.trains
      recs.append(rec)
  return recs
