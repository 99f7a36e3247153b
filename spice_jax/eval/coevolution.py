"""The co-evolution probe (SPEC §8, paper Fig. 3) over a run's checkpoints.

Two curves over a fixed document pool, with one step `s0` held fixed:
  * fixed Challenger: Reasoners of later steps s answer the tasks the step-`s0` Challenger
    wrote (paper: pass rate rises 55 % -> 85 %, the Reasoner gets stronger);
  * fixed Reasoner: the step-`s0` Reasoner answers tasks the Challengers of later steps s
    wrote (paper: pass rate falls 55 % -> 35 %, the Challenger gets harder).

The probe is written against three small callables so the trainer's own code does the
work (and tests can use fakes):
  load_params(step) -> params
  generate_tasks(params, documents) -> list of tasks (objects with .valid, .question,
    .answer, .kind, e.g. `spice.tasks.Task`); invalid ones are ignored
  solve(params, tasks) -> list[float] pass rate per task (mean correctness of K answers)
`make_solve` builds `solve` from a sampler; `selfplay_generate_tasks` builds
`generate_tasks` from the trainer's `SelfPlay`; `hooks_from_workdir` wires both to a run
directory's checkpoints.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from typing import Any, Callable, Sequence

from absl import logging

LoadParams = Callable[[int], Any]
GenerateTasks = Callable[[Any, Sequence[Any]], Sequence[Any]]
Solve = Callable[[Any, Sequence[Any]], Sequence[float]]


@dataclasses.dataclass
class ProbeRow:
  """One step of the probe.

  step: the checkpoint step s.
  reasoner_vs_fixed_challenger: pass rate of Reasoner@s on Challenger@s0's tasks.
  fixed_reasoner_vs_challenger: pass rate of Reasoner@s0 on Challenger@s's tasks.
  tasks: valid tasks Challenger@s wrote for the pool; valid_rate = tasks / tasks asked for.
  """
  step: int
  reasoner_vs_fixed_challenger: float | None
  fixed_reasoner_vs_challenger: float | None
  tasks: int
  valid_rate: float


def _mean(xs: Sequence[float]) -> float | None:
  xs = [float(x) for x in xs]
  return sum(xs) / len(xs) if xs else None


def _valid(tasks: Sequence[Any]) -> list[Any]:
  return [t for t in tasks if getattr(t, "valid", True)]


def probe(steps: Sequence[int], documents: Sequence[Any], *, load_params: LoadParams,
          generate_tasks: GenerateTasks, solve: Solve,
          fixed_step: int | None = None) -> list[ProbeRow]:
  """Runs the probe over `steps` (sorted; the fixed step defaults to the first one).

  Steps before `fixed_step` are skipped (the probe looks forward in training). Params are
  loaded once per step; the fixed step's params and tasks are kept for the whole probe.
  """
  steps = sorted({int(s) for s in steps})
  if not steps:
    raise ValueError("coevolution probe: no steps given")
  fixed = steps[0] if fixed_step is None else int(fixed_step)
  if fixed not in steps:
    steps = sorted(set(steps) | {fixed})
  steps = [s for s in steps if s >= fixed]
  if not documents:
    raise ValueError("coevolution probe: the document pool is empty")
  n_docs = len(documents)

  fixed_params = load_params(fixed)
  fixed_all = list(generate_tasks(fixed_params, documents))
  fixed_tasks = _valid(fixed_all)
  if not fixed_tasks:
    logging.warning("coevolution: the step-%d Challenger wrote no valid task for %d documents",
                    fixed, n_docs)
  fixed_on_fixed = _mean(solve(fixed_params, fixed_tasks)) if fixed_tasks else None
  rows = [ProbeRow(fixed, fixed_on_fixed, fixed_on_fixed, len(fixed_tasks),
                   len(fixed_tasks) / max(len(fixed_all), 1))]
  logging.info("coevolution step %d (fixed): pass rate %s on %d tasks", fixed, fixed_on_fixed,
               len(fixed_tasks))
  for s in steps:
    if s == fixed:
      continue
    params = load_params(s)
    asked = list(generate_tasks(params, documents))
    tasks = _valid(asked)
    later_r = _mean(solve(params, fixed_tasks)) if fixed_tasks else None
    fixed_r = _mean(solve(fixed_params, tasks)) if tasks else None
    rows.append(ProbeRow(s, later_r, fixed_r, len(tasks), len(tasks) / max(len(asked), 1)))
    logging.info("coevolution step %d: Reasoner@%d on Challenger@%d tasks %s; Reasoner@%d on "
                 "Challenger@%d tasks %s (%d tasks)", s, s, fixed, later_r, fixed, s, fixed_r,
                 len(tasks))
    del params
  return rows


# ------------------------------------------------------------------------------ output

_COLS = ("step", "reasoner_vs_fixed_challenger", "fixed_reasoner_vs_challenger", "tasks",
         "valid_rate")


def _pct(v) -> str:
  return "-" if v is None else f"{100.0 * v:.1f}"


def to_markdown(rows: Sequence[ProbeRow], fixed_step: int) -> str:
  head = (f"| step | Reasoner@step vs Challenger@{fixed_step} (%) | "
          f"Reasoner@{fixed_step} vs Challenger@step (%) | valid tasks | valid rate (%) |")
  lines = [head, "|---:|---:|---:|---:|---:|"]
  for r in rows:
    lines.append(f"| {r.step} | {_pct(r.reasoner_vs_fixed_challenger)} | "
                 f"{_pct(r.fixed_reasoner_vs_challenger)} | {r.tasks} | {_pct(r.valid_rate)} |")
  return "\n".join(lines) + "\n"


def write(rows: Sequence[ProbeRow], out_dir: str, *, fixed_step: int | None = None,
          meta: dict | None = None) -> dict[str, str]:
  """Writes coevolution.{md,csv,json,png} into `out_dir`; returns the paths."""
  os.makedirs(out_dir, exist_ok=True)
  fixed = rows[0].step if fixed_step is None else fixed_step
  paths = {e: os.path.join(out_dir, f"coevolution.{e}") for e in ("md", "csv", "json", "png")}
  with open(paths["md"], "w", encoding="utf-8") as f:
    f.write(to_markdown(rows, fixed))
  with open(paths["csv"], "w", encoding="utf-8", newline="") as f:
    w = csv.writer(f)
    w.writerow(_COLS)
    for r in rows:
      w.writerow(["" if getattr(r, c) is None else getattr(r, c) for c in _COLS])
  with open(paths["json"], "w", encoding="utf-8") as f:
    json.dump({"fixed_step": fixed, "rows": [dataclasses.asdict(r) for r in rows],
               "meta": meta or {}}, f, indent=2)
  plot(rows, paths["png"], fixed_step=fixed)
  return paths


def plot(rows: Sequence[ProbeRow], path: str, *, fixed_step: int) -> str:
  from spice_jax.utils import plots
  series = []
  for attr, label, style in (
      ("reasoner_vs_fixed_challenger", f"Reasoner@step vs fixed Challenger@{fixed_step}", "o-"),
      ("fixed_reasoner_vs_challenger", f"fixed Reasoner@{fixed_step} vs Challenger@step", "s--")):
    pts = [(r.step, 100.0 * getattr(r, attr)) for r in rows if getattr(r, attr) is not None]
    if pts:
      series.append((label, [p[0] for p in pts], [p[1] for p in pts], style))
  return plots.lines(path, series, xlabel="training step", ylabel="pass rate (%)",
                     title="Co-evolution probe", ylim=(0, 100), empty_text="no valid tasks",
                     size=(5.5, 3.8))


# ---------------------------------------------------------------------- default hooks

def make_solve(sampler, tokenizer, *, template: str, stop_ids: Sequence[int] = (),
               num_answers: int = 8, temperature: float = 1.0, top_p: float = 1.0,
               max_new_tokens: int = 1024, batch_size: int = 64, seed: int = 0,
               pool=None, template_dir: str | None = None) -> Solve:
  """`solve(params, tasks)`: K Reasoner answers per task with `sampler` (a
  `spice_jax.sampling.Sampler`), scored against each task's gold; returns pass rates."""
  from spice_jax.eval import benchmarks as bench_lib
  from spice_jax.eval import runner

  protocol = runner.Protocol(
      max_new_tokens=int(max_new_tokens), template=template,
      sampled={"probe": runner.Sampling(int(num_answers), float(temperature), float(top_p))},
      batch_size=int(batch_size), seed=int(seed), template_dir=template_dir)
  stop = tuple(int(s) for s in stop_ids)

  def solve(params, tasks: Sequence[Any]) -> list[float]:
    if not tasks:
      return []
    items = [bench_lib.Item(str(i), t.question, str(t.answer), t.kind, "probe")
             for i, t in enumerate(tasks)]

    def generate_fn(prompts, **kw):
      return sampler(params, prompts, stop_ids=stop, **kw)

    res = runner.run_items(generate_fn, tokenizer, items, protocol,
                           max_seq_len=getattr(getattr(sampler, "cfg", None), "max_seq_len",
                                               None), pool=pool)
    from spice_jax.eval import scoring
    per = scoring.item_scores(res.records)
    return [per[("probe", str(i))] for i in range(len(tasks))]
  return solve


def selfplay_generate_tasks(selfplay, *, seed: int = 0) -> GenerateTasks:
  """`generate_tasks(params, documents)` from the trainer's `SelfPlay`: format selection,
  Challenger rounds (its config's attempt cap), and the first valid task per document (an
  invalid placeholder when a document got none). The same seed for every step, so
  Challengers of different steps see the same documents and random choices."""
  import collections

  def generate_tasks(params, documents):
    counters = collections.Counter()
    out = []
    for play in selfplay.challenge(params, documents, seed=seed, counters=counters):
      valid = [a.task for a in play.attempts if a.task.valid]
      out.append(valid[0] if valid else play.attempts[0].task if play.attempts else _NoTask())
    return out
  return generate_tasks


@dataclasses.dataclass(frozen=True)
class _NoTask:
  valid: bool = False
  question: str = ""
  answer: str = ""
  kind: str = ""


def checkpoint_steps(workdir: str) -> list[int]:
  """Steps with a saved checkpoint under `workdir` (or `workdir/checkpoints`)."""
  root = os.path.join(workdir, "checkpoints")
  root = root if os.path.isdir(root) else workdir
  if not os.path.isdir(root):
    raise FileNotFoundError(f"{workdir}: not a directory")
  return sorted(int(d) for d in os.listdir(root) if d.isdigit())


def read_documents(path: str, n: int) -> list[dict]:
  """The first `n` documents of a JSONL file (field 'text') or a .txt file (blank-line
  separated), as {"text": ...} dicts."""
  docs: list[dict] = []
  if path.endswith(".jsonl"):
    with open(path, encoding="utf-8") as f:
      for k, line in enumerate(f, 1):
        if not line.strip():
          continue
        row = json.loads(line)
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
          raise ValueError(f"{path} line {k}: expected an object with a string field 'text'")
        docs.append({"text": row["text"], "id": row.get("id", str(len(docs)))})
        if len(docs) >= n:
          break
  else:
    with open(path, encoding="utf-8") as f:
      parts = [p.strip() for p in f.read().split("\n\n") if p.strip()]
    docs = [{"text": p, "id": str(i)} for i, p in enumerate(parts[:n])]
  if not docs:
    raise ValueError(f"{path}: no documents")
  return docs


def hooks_from_workdir(workdir: str, *, mesh=None, num_answers: int | None = None,
                       max_new_tokens: int | None = None, attempts: int | None = None,
                       seed: int = 0, pool=None, first_step: int | None = None):
  """(load_params, generate_tasks, solve, documents_fn) for a training run directory.

  Uses the run's saved config (checkpoint metadata) for templates, formats, temperatures and
  lengths; `attempts` caps Challenger attempts per document (default: the group size G),
  `num_answers` the K answers per task, `max_new_tokens` both roles' budgets.
  documents_fn(n) draws n passages from the run's corpus (a fresh stream with `seed`).
  first_step: the checkpoint loaded first (for the model, tokenizer and sampler) and kept
  for the first `load_params` call (pass the probe's fixed step; default the latest).
  load_params keeps one step in memory besides what the caller holds.
  """
  import ml_collections
  from spice_jax.sampling import Sampler
  from spice_jax.sampling.config import EngineConfig
  from spice_jax.spice.config import SpiceConfig
  from spice_jax.spice import selfplay as selfplay_lib
  from spice_jax.spice import verify as verify_lib
  from spice_jax.utils import checkpointing

  _, meta, _ = checkpointing.read_meta(workdir)
  config = ml_collections.ConfigDict(meta["config"])
  sp = SpiceConfig.from_config(config.spice)
  sp = dataclasses.replace(sp, max_challenger_attempts=int(attempts or sp.group_size))
  if max_new_tokens:
    sp = dataclasses.replace(sp, challenger_max_tokens=int(max_new_tokens),
                             reasoner_max_tokens=int(max_new_tokens))
  model0, step0 = checkpointing.load_params(workdir, first_step, mesh=mesh)
  cache: dict[int, Any] = {int(step0): model0.params}
  tok = model0.tokenizer
  sampler = Sampler(model0.config, model0.mesh, dtype=model0.dtype,
                    **EngineConfig.from_config(config.get("engine", {})).sampler_kwargs())
  actor = selfplay_lib.Actor(sampler, tok, sp.chat_layout, model0.stop_ids)
  pool = pool or verify_lib.default_pool()
  sp_obj = selfplay_lib.SelfPlay(sp, policy=actor, challenger=actor, pool=pool, grounded=True,
                                 sampler_batch=int(config.train.sampler_batch))

  def load_params(step: int):
    if step not in cache:
      cache.clear()
      model, _ = checkpointing.load_params(workdir, step, mesh=model0.mesh)
      cache[step] = model.params
    return cache[step]

  def documents_fn(n: int) -> list[dict]:
    from spice_jax.data import pipeline
    corpus_dir = config.corpus.data_dir or os.path.join(workdir, "corpus")
    stream = pipeline.DocumentStream(corpus_dir, seed=seed, process_index=0, process_count=1)
    return stream.take(n)

  solve = make_solve(sampler, tok, template=sp.chat_layout, stop_ids=model0.stop_ids,
                     num_answers=int(num_answers or sp.num_answers),
                     temperature=float(sp.reasoner_temperature), top_p=float(sp.top_p),
                     max_new_tokens=int(sp.reasoner_max_tokens),
                     batch_size=int(config.train.sampler_batch), seed=seed, pool=pool,
                     template_dir=sp.template_dir or None)
  return load_params, selfplay_generate_tasks(sp_obj, seed=seed), solve, documents_fn
