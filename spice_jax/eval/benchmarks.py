"""Loaders for the paper's 11 evaluation benchmarks from local copies of their public files.

Nothing is downloaded: the user points `data_dir` (or an explicit path per benchmark) at the
files as the datasets publish them (JSONL, JSON, Parquet or CSV; a directory holding them,
e.g. a Hugging Face dataset snapshot, works too). Each row becomes an `Item(id, question,
gold, kind)`; `question` is what the Reasoner sees (MCQ: stem plus one `X) option` line per
option), `kind` is the verifier's kind ("mcq" | "integer" | "expression" | "string").
Layouts (field names per public source) are documented in third_party/benchmarks/README.md.

Errors (`BenchmarkError`) name the file, the row and the fields that were expected.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import os
import random
import re
from typing import Any, Callable, Sequence

from spice_jax.data import readers

MATH = "math"
GENERAL = "general"
LETTERS = "ABCDEFGHIJ"
EXTENSIONS = (".jsonl", ".json", ".parquet", ".csv")
README = "third_party/benchmarks/README.md"


class BenchmarkError(ValueError):
  """A benchmark file that is missing, unreadable or not in a known layout."""


@dataclasses.dataclass(frozen=True)
class Item:
  """One evaluation question.

  id: stable id within its benchmark (the source's own id where it has one).
  question: the text the Reasoner sees (MCQ: stem + option lines `A) ...`).
  gold: the gold answer (MCQ: the letter).
  kind: "mcq" | "integer" | "expression" | "string" (see spice.verify.score).
  benchmark: the registry name (e.g. "math500").
  options: MCQ option texts in presentation order (else ()).
  """
  id: str
  question: str
  gold: str
  kind: str
  benchmark: str = ""
  options: tuple[str, ...] = ()

  @property
  def prompt(self) -> str:
    return self.question


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


# ---------------------------------------------------------------------------- helpers

class _Ctx:
  """Where a row came from (for error messages) and loader options."""

  def __init__(self, bench: str, path: str, seed: int):
    self.bench, self.path, self.seed = bench, path, seed

  def err(self, index: int, msg: str) -> BenchmarkError:
    return BenchmarkError(f"{self.path} row {index}: {msg}")


def _present(row: dict, key: str) -> bool:
  v = row.get(key)
  if v is None:
    return False
  if isinstance(v, float) and v != v:  # NaN from CSV/Parquet
    return False
  if isinstance(v, str) and not v.strip():
    return False
  return True


def _first(row: dict, keys: Sequence[str]) -> tuple[str | None, Any]:
  for k in keys:
    if _present(row, k):
      return k, row[k]
  return None, None


def _need(row: dict, keys: Sequence[str], what: str, ctx: _Ctx, index: int) -> Any:
  _, v = _first(row, keys)
  if v is None:
    raise ctx.err(index, f"no {what}: expected one of the fields {list(keys)} "
                         f"(row has {sorted(row)}); see {README}")
  return v


def _text(v: Any) -> str:
  if isinstance(v, float) and v.is_integer():
    return str(int(v))
  return str(v).strip()


def _row_id(row: dict, keys: Sequence[str], index: int) -> str:
  _, v = _first(row, keys)
  return _text(v) if v is not None else str(index)


def _last_boxed(text: str) -> str | None:
  from spice_jax.spice.answers import extract_boxed
  return extract_boxed(text)


_TEXT_WRAP_RE = re.compile(r"^\\(?:text|textbf|mathrm)\s*\{(.*)\}$", re.S)


def math_kind(gold: str) -> tuple[str, str]:
  """(kind, gold) for a math answer: option answers `\\text{(C)}` -> ("mcq", "C");
  word answers (`\\text{Evelyn}`, `east`) -> "string" (math-verify cannot parse them);
  anything else -> "expression"."""
  g = gold.strip().strip("$").strip()
  inner = g
  for _ in range(3):
    m = _TEXT_WRAP_RE.match(inner)
    if not m:
      break
    inner = m.group(1).strip()
  m = re.fullmatch(r"\(([A-J])\)", inner)
  if m:
    return "mcq", m.group(1)
  if re.fullmatch(r"[A-Za-z][A-Za-z' -]*[A-Za-z]", inner) and not re.fullmatch(
      r"(?:pi|infty|inf|e|i)", inner):
    return "string", inner
  return "expression", g


def _math_gold(row, ctx, index, answer_keys, solution_keys) -> str:
  k, v = _first(row, answer_keys)
  if v is not None:
    if isinstance(v, (list, tuple)) or hasattr(v, "tolist"):
      vals = [_text(x).strip("$").strip() for x in (v.tolist() if hasattr(v, "tolist") else v)]
      vals = [x for x in vals if x]
      if not vals:
        raise ctx.err(index, f"field {k!r} is an empty list")
      return ", ".join(vals)
    return _text(v)
  k, sol = _first(row, solution_keys)
  if sol is not None:
    if isinstance(sol, (list, tuple)):
      sol = "\n".join(map(str, sol))
    box = _last_boxed(str(sol))
    if box:
      return box
    raise ctx.err(index, f"no answer field {list(answer_keys)} and no \\boxed{{}} in {k!r}")
  raise ctx.err(index, f"no gold answer: expected one of the fields {list(answer_keys)} or a "
                       f"solution with \\boxed{{}} in {list(solution_keys)} (row has "
                       f"{sorted(row)}); see {README}")


def format_mcq(stem: str, options: Sequence[str]) -> str:
  """The MCQ question text: the stem, a blank line, then `A) option` lines."""
  lines = [f"{LETTERS[i]}) {str(o).strip()}" for i, o in enumerate(options)]
  return stem.strip() + "\n\n" + "\n".join(lines)


def _options(row, keys, ctx, index) -> list[str]:
  k, v = _first(row, keys)
  if v is None:
    raise ctx.err(index, f"no options: expected a list in one of {list(keys)} (row has "
                         f"{sorted(row)}); see {README}")
  if isinstance(v, str):
    try:
      v = json.loads(v)
    except ValueError:
      try:
        import ast
        v = ast.literal_eval(v)  # CSV exports write Python list reprs; literals only
      except (ValueError, SyntaxError) as e:
        raise ctx.err(index, f"field {k!r} is a string that is not a list") from e
  if hasattr(v, "tolist"):
    v = v.tolist()
  if not isinstance(v, (list, tuple)) or not v:
    raise ctx.err(index, f"field {k!r} must be a non-empty list of options, got "
                         f"{type(v).__name__}")
  if len(v) > len(LETTERS):
    raise ctx.err(index, f"field {k!r} has {len(v)} options; at most {len(LETTERS)} (A-J)")
  return [str(o).strip() for o in v]


def _letter_key(row, options, ctx, index, letter_keys, index_keys, text_keys) -> str:
  _, v = _first(row, letter_keys)
  if v is not None:
    t = _text(v).strip("() .")
    if len(t) == 1 and t.upper() in LETTERS[:len(options)]:
      return t.upper()
  _, v = _first(row, index_keys)
  if v is not None:
    try:
      i = int(v)
    except (TypeError, ValueError):
      i = -1
    if 0 <= i < len(options):
      return LETTERS[i]
  _, v = _first(row, text_keys)
  if v is not None:
    t = _text(v)
    if t in options:
      return LETTERS[options.index(t)]
  raise ctx.err(index, f"no answer key among {len(options)} options: expected a letter in "
                       f"{list(letter_keys)}, an index in {list(index_keys)} or the option "
                       f"text in {list(text_keys)}; see {README}")


# ------------------------------------------------------------------------ row parsers

_Q = ("problem", "question", "Problem", "Question")
_ID = ("unique_id", "id", "ID", "idx", "question_id", "uuid", "Record ID")


def _math_row(answer_keys=("answer", "Answer"), solution_keys=("solution", "Solution"),
              kind: str | None = None):
  def parse(row, index, ctx):
    q = _text(_need(row, _Q, "question", ctx, index))
    gold = _math_gold(row, ctx, index, answer_keys, solution_keys)
    k, gold = (kind, gold) if kind else math_kind(gold)
    if kind == "integer":
      gold = gold.strip("$ ").replace(",", "")
    return Item(_row_id(row, _ID, index), q, gold, k, ctx.bench)
  return parse


def _gsm8k_row(row, index, ctx):
  q = _text(_need(row, ("question", "problem"), "question", ctx, index))
  a = _text(_need(row, ("answer",), "answer", ctx, index))
  if "####" in a:
    a = a.rsplit("####", 1)[1]
  elif not re.fullmatch(r"\s*[-+]?[\d,]*\.?\d+\s*", a):
    raise ctx.err(index, "field 'answer' has no '#### <number>' line (GSM8K layout: "
                         "'question', 'answer' ending in '#### 72')")
  gold = a.strip().replace(",", "").rstrip(".")
  return Item(_row_id(row, ("id", "idx"), index), q, gold, "integer", ctx.bench)


def _olympiad_row(row, index, ctx):
  q = _text(_need(row, ("question", "problem"), "question", ctx, index))
  context = row.get("context")
  if _present(row, "context") and isinstance(context, str):
    q = context.strip() + "\n\n" + q
  gold = _math_gold(row, ctx, index, ("final_answer", "answer"), ("solution",))
  kind, gold = math_kind(gold)
  return Item(_row_id(row, ("id", "idx", "unique_id"), index), q, gold, kind, ctx.bench)


def _mmlu_pro_row(row, index, ctx):
  stem = _text(_need(row, ("question",), "question", ctx, index))
  opts = _options(row, ("options", "choices"), ctx, index)
  key = _letter_key(row, opts, ctx, index, ("answer",), ("answer_index",), ())
  return Item(_row_id(row, ("question_id", "id"), index), format_mcq(stem, opts), key, "mcq",
              ctx.bench, tuple(opts))


def _supergpqa_row(row, index, ctx):
  stem = _text(_need(row, ("question",), "question", ctx, index))
  opts = _options(row, ("options", "choices"), ctx, index)
  key = _letter_key(row, opts, ctx, index, ("answer_letter",), ("answer_index",), ("answer",))
  return Item(_row_id(row, ("uuid", "id"), index), format_mcq(stem, opts), key, "mcq",
              ctx.bench, tuple(opts))


_GPQA_WRONG = ("Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")


def shuffle_seed(seed: int, item_id: str) -> int:
  """The per-item shuffle seed: a hash of (seed, id), independent of file order."""
  return int.from_bytes(hashlib.sha256(f"{seed}/{item_id}".encode()).digest()[:8], "little")


def _gpqa_row(row, index, ctx):
  if _present(row, "Correct Answer"):  # the official CSV
    stem = _text(_need(row, ("Question",), "question", ctx, index))
    right = _text(row["Correct Answer"])
    wrong = []
    for k in _GPQA_WRONG:
      if not _present(row, k):
        raise ctx.err(index, f"field {k!r} missing (GPQA CSV layout: 'Question', "
                             f"'Correct Answer', {list(_GPQA_WRONG)}, 'Record ID')")
      wrong.append(_text(row[k]))
    item_id = _row_id(row, ("Record ID", "id"), index)
    opts = [right] + wrong
    order = list(range(4))
    random.Random(shuffle_seed(ctx.seed, item_id)).shuffle(order)
    opts = [opts[i] for i in order]
    key = LETTERS[order.index(0)]
    return Item(item_id, format_mcq(stem, opts), key, "mcq", ctx.bench, tuple(opts))
  if _present(row, "options") or _present(row, "choices"):  # an already-shuffled MCQ layout
    stem = _text(_need(row, ("question", "Question"), "question", ctx, index))
    opts = _options(row, ("options", "choices"), ctx, index)
    key = _letter_key(row, opts, ctx, index, ("answer", "answer_letter"), ("answer_index",), ())
    return Item(_row_id(row, ("id", "Record ID"), index), format_mcq(stem, opts), key, "mcq",
                ctx.bench, tuple(opts))
  raise ctx.err(index, "unknown GPQA layout: expected the official CSV columns 'Question', "
                       f"'Correct Answer', {list(_GPQA_WRONG)} (or 'question', 'options', "
                       f"'answer' letter); row has {sorted(row)}; see {README}")


def bbeh_kind(target: str) -> tuple[str, str]:
  """(kind, gold) for a BBEH target: `(C)` -> mcq "C"; numbers -> expression; else string."""
  t = target.strip()
  m = re.fullmatch(r"\(([A-J])\)", t)
  if m:
    return "mcq", m.group(1)
  if re.fullmatch(r"[-+]?\d+(?:\.\d+)?(?:/\d+)?", t):
    return "expression", t
  return "string", t


def _bbeh_row(row, index, ctx):
  q = _text(_need(row, ("input", "question"), "input", ctx, index))
  target = _text(_need(row, ("target", "answer"), "target", ctx, index))
  task = row.get("task") or row.get("_task") or ""
  kind, gold = bbeh_kind(target)
  item_id = _row_id(row, ("id",), index)
  if task and not _present(row, "id"):
    item_id = f"{task}/{row.get('_index', index)}"
  return Item(item_id, q, gold, kind, ctx.bench)


# ----------------------------------------------------------------------------- registry

def _norm(name: str) -> str:
  return re.sub(r"[^a-z0-9]", "", name.lower())


_B = Benchmark
BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in [
    _B("math500", "MATH-500", MATH, ("math500",), _math_row(),
       "'problem', 'answer' (or 'solution' with \\boxed{}), 'unique_id'"),
    _B("gsm8k", "GSM8K", MATH, ("gsm8k",), _gsm8k_row,
       "'question', 'answer' ending in '#### <number>'", prefer=("test", "main")),
    _B("amc23", "AMC23", MATH, ("amc23", "amc", "amc2023", "aimovalidationamc"), _math_row(),
       "'question' or 'problem', 'answer'"),
    _B("aime24", "AIME'24", MATH, ("aime24", "aime2024"), _math_row(kind="integer"),
       "'problem' (or 'Problem'), 'answer' (or 'Answer', or 'solution' with \\boxed{})"),
    _B("aime25", "AIME'25", MATH, ("aime25", "aime2025"), _math_row(kind="integer"),
       "'problem' (or 'question'), 'answer'"),
    _B("minerva_math", "Minerva Math", MATH, ("minervamath", "minerva"), _math_row(),
       "'question' or 'problem', 'answer' (or 'solution' with \\boxed{})"),
    _B("olympiadbench", "OlympiadBench", MATH, ("olympiadbench",), _olympiad_row,
       "'question', 'final_answer' (list of strings) or 'answer'",
       prefer=("test", "oe_to_maths_en_comp")),
    _B("mmlu_pro", "MMLU-Pro", GENERAL, ("mmlupro",), _mmlu_pro_row,
       "'question', 'options' (list), 'answer' (letter) or 'answer_index'"),
    _B("supergpqa", "SuperGPQA", GENERAL, ("supergpqa",), _supergpqa_row,
       "'question', 'options' (list), 'answer_letter' or 'answer' (option text)"),
    _B("gpqa_diamond", "GPQA-Diamond", GENERAL, ("gpqadiamond", "gpqa"), _gpqa_row,
       "'Question', 'Correct Answer', 'Incorrect Answer 1..3', 'Record ID'",
       prefer=("diamond",)),
    _B("bbeh", "BBEH", GENERAL, ("bbeh", "bigbenchextrahard"), _bbeh_row,
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
    ctx = _Ctx(bench.name, f, seed)
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
