"""Loaders for the paper's 11 evaluation benchmarks from local copies of their public files.

Nothing is downloaded: the user points `data_dir` (or an explicit path per benchmark) at the
files as the datasets publish them (JSONL, JSON, Parquet or CSV; a directory holding them,
e.g. a Hugging Face dataset snapshot, works too). Each row becomes an `Item(id, question,
gold, kind)`; `question` is what the Reasoner sees (MCQ: stem plus one `X) option` line per
option), `kind` is the verifier's kind ("mcq" | "integer" | "expression" | "string").
The row parsers of each public layout are in `eval.layouts` (documented in
third_party/benchmarks/README.md); files are read by `data.readers`.

Errors (`BenchmarkError`) name the file, the row and the fields that were expected.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
from typing import Callable, Sequence

from spice_jax.data import readers
from spice_jax.eval import layouts as L
from spice_jax.eval.layouts import (LETTERS, README, BenchmarkError, Item,  # noqa: F401
                                    bbeh_kind, format_mcq, math_kind, shuffle_seed)

MATH = "math"
GENERAL = "general"
EXTENSIONS = (".jsonl", ".json", ".parquet", ".csv")


@dataclasses.dataclass(frozen=True)
class Benchmark:
  """A registry entry: display name, group, file-name aliases and the row parser."""
  name: str
  title: str
  group: str                                  # MATH or GENERAL
  aliases: tuple[str, ...]                    # normalised file/dir stems that identify it
  parse_row: Callable[..., Item]              # (row, index, ctx) -> Item
  expected: str                               # the fields a row needs, for error messages
  prefer: tuple[str, ...] = ("test",)         # path tokens that pick files inside a dir


# ----------------------------------------------------------------------------- registry

def _norm(name: str) -> str:
  return re.sub(r"[^a-z0-9]", "", name.lower())


_B = Benchmark
BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in [
    _B("math500", "MATH-500", MATH, ("math500",), L.math_row(),
       "'problem', 'answer' (or 'solution' with \\boxed{}), 'unique_id'"),
    _B("gsm8k", "GSM8K", MATH, ("gsm8k",), L.gsm8k_row,
       "'question', 'answer' ending in '#### <number>'", prefer=("test", "main")),
    _B("amc23", "AMC23", MATH, ("amc23", "amc", "amc2023", "aimovalidationamc"), L.math_row(),
       "'question' or 'problem', 'answer'"),
    _B("aime24", "AIME'24", MATH, ("aime24", "aime2024"), L.math_row(kind="integer"),
       "'problem' (or 'Problem'), 'answer' (or 'Answer', or 'solution' with \\boxed{})"),
    _B("aime25", "AIME'25", MATH, ("aime25", "aime2025"), L.math_row(kind="integer"),
       "'problem' (or 'question'), 'answer'"),
    _B("minerva_math", "Minerva Math", MATH, ("minervamath", "minerva"), L.math_row(),
       "'question' or 'problem', 'answer' (or 'solution' with \\boxed{})"),
    _B("olympiadbench", "OlympiadBench", MATH, ("olympiadbench",), L.olympiad_row,
       "'question', 'final_answer' (list of strings) or 'answer'",
       prefer=("test", "oe_to_maths_en_comp")),
    _B("mmlu_pro", "MMLU-Pro", GENERAL, ("mmlupro",), L.mmlu_pro_row,
       "'question', 'options' (list), 'answer' (letter) or 'answer_index'"),
    _B("supergpqa", "SuperGPQA", GENERAL, ("supergpqa",), L.supergpqa_row,
       "'question', 'options' (list), 'answer_letter' or 'answer' (option text)"),
    _B("gpqa_diamond", "GPQA-Diamond", GENERAL, ("gpqadiamond", "gpqa"), L.gpqa_row,
       "'Question', 'Correct Answer', 'Incorrect Answer 1..3', 'Record ID'",
       prefer=("diamond",)),
    _B("bbeh", "BBEH", GENERAL, ("bbeh", "bigbenchextrahard"), L.bbeh_row,
       "'input', 'target' (+ optional 'task'), or task.json {'examples': [...]}"),
]}
MATH_BENCHMARKS = tuple(n for n, b in BENCHMARKS.items() if b.group == MATH)
GENERAL_BENCHMARKS = tuple(n for n, b in BENCHMARKS.items() if b.group == GENERAL)
_BY_ALIAS = {a: b.name for b in BENCHMARKS.values() for a in (_norm(b.name),) + b.aliases}


def get(name: str) -> Benchmark:
  """The registry entry for a benchmark name or alias ('MATH-500', 'aime_2024', ...)."""
  key = _BY_ALIAS.get(_norm(name))
  if key is None:
    raise BenchmarkError(f"unknown benchmark {name!r}; known: {list(BENCHMARKS)}")
  return BENCHMARKS[key]


# ------------------------------------------------------------------------- file reading

_RECORD_ERRORS = {"malformed_json": "not valid JSON", "not_an_object": "expected a JSON object, got",
                  "invalid_utf8": "not valid UTF-8", "too_long": "line too long"}


def _bbeh_task(path: str) -> str:
  """BBEH task.json: the task name is the directory name (bbeh_<task>)."""
  task = os.path.basename(os.path.dirname(os.path.abspath(path)))
  return task[5:] if task.startswith("bbeh_") else task


def read_rows(path: str) -> list[dict]:
  """All rows of one file as dicts (format by extension, read by `data.readers`)."""
  ext = os.path.splitext(path)[1].lower()
  if ext not in EXTENSIONS:
    raise BenchmarkError(f"{path}: unsupported extension {ext!r}; expected one of "
                         f"{list(EXTENSIONS)}")
  rows = []
  try:
    if ext == ".json":  # rows wrapped in {"examples": [...]} also get BBEH's task name
      data = readers.json_rows(path)
      task = _bbeh_task(path) if data.key else ""
      for i, row in enumerate(data.rows):
        if not isinstance(row, dict):
          raise BenchmarkError(f"{path} element {i}: expected an object, got "
                               f"{type(row).__name__}")
        rows.append(dict(row, _task=task, _index=i) if task and "task" not in row else row)
      return rows
    for rec in readers.records(path):
      if rec.reason == "blank_line":
        continue
      if rec.reason is not None:
        raise BenchmarkError(f"{path} line {rec.number}: {_RECORD_ERRORS[rec.reason]} "
                             f"({rec.detail})")
      rows.append(rec.value)
  except readers.FileError as e:
    if e.reason == "empty_file":
      return []
    raise BenchmarkError(str(e)) from e
  return rows


def _files_in(directory: str, prefer: Sequence[str]) -> list[str]:
  files = sorted(p for p in glob.glob(os.path.join(directory, "**", "*"), recursive=True)
                 if os.path.isfile(p) and os.path.splitext(p)[1].lower() in EXTENSIONS
                 and not os.path.basename(p).startswith("."))
  # Skip metadata files that sit next to the data (HF dataset_info.json, BBEH README.json...).
  files = [p for p in files if _norm(os.path.splitext(os.path.basename(p))[0]) not in
           ("datasetinfo", "datasetinfos", "datasetdict", "state", "metadata", "config")]
  for token in prefer:
    kept = [p for p in files if token in os.path.relpath(p, directory).lower()]
    if kept:
      files = kept
  return files


def resolve(name: str, data_dir: str) -> list[str]:
  """The data file(s) of benchmark `name` under `data_dir`.

  Looks for `<alias>.<ext>` or a directory `<alias>/` (case and punctuation ignored: MATH-500,
  math_500 and math500 all match) directly in `data_dir`.
  """
  bench = get(name)
  if not os.path.isdir(data_dir):
    raise BenchmarkError(f"data_dir {data_dir!r} is not a directory")
  aliases = {_norm(bench.name), *bench.aliases}
  hits = []
  for entry in sorted(os.listdir(data_dir)):
    stem, ext = os.path.splitext(entry)
    full = os.path.join(data_dir, entry)
    if os.path.isdir(full) and _norm(entry) in aliases:
      hits.append(full)
    elif os.path.isfile(full) and ext.lower() in EXTENSIONS and _norm(stem) in aliases:
      hits.append(full)
  if not hits:
    raise BenchmarkError(
        f"{bench.title} ({name}): no file under {data_dir!r}; expected '<name>.jsonl|.json|"
        f".parquet|.csv' or a directory '<name>/' with name one of {sorted(aliases)}; rows need "
        f"{bench.expected}. Get a local copy as described in {README}")
  if len(hits) > 1:
    raise BenchmarkError(f"{bench.title} ({name}): several candidates under {data_dir!r}: "
                         f"{hits}; keep one or pass the file explicitly")
  files = _files_in(hits[0], bench.prefer) if os.path.isdir(hits[0]) else hits
  if not files:
    raise BenchmarkError(f"{bench.title} ({name}): {hits[0]} holds no {list(EXTENSIONS)} file")
  return files


def load_file(name: str, path: str | Sequence[str], *, seed: int = 0,
              limit: int | None = None) -> list[Item]:
  """Items of benchmark `name` from one file, a directory or a list of files.

  seed: GPQA option-shuffle seed. limit: keep the first `limit` items (None = all).
  """
  bench = get(name)
  paths = [path] if isinstance(path, str) else list(path)
  files: list[str] = []
  for p in paths:
    if os.path.isdir(p):
      found = _files_in(p, bench.prefer)
      if not found:
        raise BenchmarkError(f"{bench.title}: directory {p} holds no {list(EXTENSIONS)} file")
      files += found
    elif os.path.isfile(p):
      files.append(p)
    else:
      raise BenchmarkError(f"{bench.title}: {p}: no such file or directory; rows need "
                           f"{bench.expected} (see {README})")
  items: list[Item] = []
  seen: set[str] = set()
  for f in files:
    ctx = L.Ctx(bench.name, f, seed)
    rows = read_rows(f)
    if not rows:
      raise BenchmarkError(f"{f}: no rows")
    for i, row in enumerate(rows):
      item = bench.parse_row(row, i, ctx)
      if not item.question:
        raise ctx.err(i, "empty question")
      if not item.gold:
        raise ctx.err(i, "empty gold answer")
      if item.id in seen:  # ids must be unique (several files or duplicate rows)
        item = dataclasses.replace(item, id=f"{item.id}#{i}@{os.path.basename(f)}")
      seen.add(item.id)
      items.append(item)
      if limit is not None and len(items) >= limit:
        return items
  return items


def load(name: str, data_dir: str | None = None, *, path: str | Sequence[str] | None = None,
         seed: int = 0, limit: int | None = None) -> list[Item]:
  """Items of benchmark `name`, from `path` if given, else found under `data_dir`."""
  if path is None:
    if data_dir is None:
      raise BenchmarkError(f"{name}: give data_dir or an explicit path")
    path = resolve(name, data_dir)
  return load_file(name, path, seed=seed, limit=limit)
