"""Row parsers for the public layouts of the paper's evaluation benchmarks.

Each parser turns one row (a dict read by `data.readers`) of one benchmark's published file
into an `Item(id, question, gold, kind)`: `question` is what the Reasoner sees (MCQ: stem
plus one `X) option` line per option), `kind` the verifier's kind ("mcq" | "integer" |
"expression" | "string"). Field names per public source are documented in
third_party/benchmarks/README.md. Errors (`BenchmarkError`) name the file, the row and the
fields that were expected.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import re
from typing import Any, Sequence

from spice_jax.errors import SpiceError

LETTERS = "ABCDEFGHIJ"
README = "third_party/benchmarks/README.md"


class BenchmarkError(SpiceError, ValueError):
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


# ---------------------------------------------------------------------------- helpers

class Ctx:
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


def _need(row: dict, keys: Sequence[str], what: str, ctx: Ctx, index: int) -> Any:
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


def math_row(answer_keys=("answer", "Answer"), solution_keys=("solution", "Solution"),
              kind: str | None = None):
  def parse(row, index, ctx):
    q = _text(_need(row, _Q, "question", ctx, index))
    gold = _math_gold(row, ctx, index, answer_keys, solution_keys)
    k, gold = (kind, gold) if kind else math_kind(gold)
    if kind == "integer":
      gold = gold.strip("$ ").replace(",", "")
    return Item(_row_id(row, _ID, index), q, gold, k, ctx.bench)
  return parse


def gsm8k_row(row, index, ctx):
  q = _text(_need(row, ("question", "problem"), "question", ctx, index))
  a = _text(_need(row, ("answer",), "answer", ctx, index))
  if "####" in a:
    a = a.rsplit("####", 1)[1]
  elif not re.fullmatch(r"\s*[-+]?[\d,]*\.?\d+\s*", a):
    raise ctx.err(index, "field 'answer' has no '#### <number>' line (GSM8K layout: "
                         "'question', 'answer' ending in '#### 72')")
  gold = a.strip().replace(",", "").rstrip(".")
  return Item(_row_id(row, ("id", "idx"), index), q, gold, "integer", ctx.bench)


def olympiad_row(row, index, ctx):
  q = _text(_need(row, ("question", "problem"), "question", ctx, index))
  context = row.get("context")
  if _present(row, "context") and isinstance(context, str):
    q = context.strip() + "\n\n" + q
  gold = _math_gold(row, ctx, index, ("final_answer", "answer"), ("solution",))
  kind, gold = math_kind(gold)
  return Item(_row_id(row, ("id", "idx", "unique_id"), index), q, gold, kind, ctx.bench)


def mmlu_pro_row(row, index, ctx):
  stem = _text(_need(row, ("question",), "question", ctx, index))
  opts = _options(row, ("options", "choices"), ctx, index)
  key = _letter_key(row, opts, ctx, index, ("answer",), ("answer_index",), ())
  return Item(_row_id(row, ("question_id", "id"), index), format_mcq(stem, opts), key, "mcq",
              ctx.bench, tuple(opts))


def supergpqa_row(row, index, ctx):
  stem = _text(_need(row, ("question",), "question", ctx, index))
  opts = _options(row, ("options", "choices"), ctx, index)
  key = _letter_key(row, opts, ctx, index, ("answer_letter",), ("answer_index",), ("answer",))
  return Item(_row_id(row, ("uuid", "id"), index), format_mcq(stem, opts), key, "mcq",
              ctx.bench, tuple(opts))


_GPQA_WRONG = ("Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")


def shuffle_seed(seed: int, item_id: str) -> int:
  """The per-item shuffle seed: a hash of (seed, id), independent of file order."""
  return int.from_bytes(hashlib.sha256(f"{seed}/{item_id}".encode()).digest()[:8], "little")


def gpqa_row(row, index, ctx):
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


def bbeh_row(row, index, ctx):
  q = _text(_need(row, ("input", "question"), "input", ctx, index))
  target = _text(_need(row, ("target", "answer"), "target", ctx, index))
  task = row.get("task") or row.get("_task") or ""
  kind, gold = bbeh_kind(target)
  item_id = _row_id(row, ("id",), index)
  if task and not _present(row, "id"):
    item_id = f"{task}/{row.get('_index', index)}"
  return Item(item_id, q, gold, kind, ctx.bench)
