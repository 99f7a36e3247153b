"""Challenger output -> `Task`: parsing and the validity rules of SPEC §2.4.

Formats (`fmt`):
  "mcq"       the full MCQ prompt's JSON (`multiple_choice_question`, `multiple_choice_correct`).
  "free_form" the full free-form prompt's JSON (`question`, `answer`, `answer_type`).
  "compact"   the small-model line format: `Question: ...` (optionally followed by `A) ..` to
              `D) ..` option lines), `Answer: ...`, optionally `Type: Integer|Expression|String`.
              A compact output that is a JSON object is read as free-form/MCQ JSON instead.

JSON extraction (decision, SPEC §2.4 "last well-formed JSON object"): every top-level JSON
object in the text is decoded (code fences and prose around it are ignored); the last one
that has one of the format's key fields wins, else the last one. Tolerated model quirks:
smart quotes as delimiters, LaTeX backslashes left unescaped (`"\\frac{1}{2}"` in the raw
text, which JSON would read as a form feed + "rac"), trailing commas, raw newlines in strings.

Validity (SPEC §2.4), with the reason code logged for each failure:
  no_json / no_task          nothing to parse (JSON formats / compact format)
  empty_question             question (MCQ: the stem) missing or blank
  missing_options            MCQ without four non-empty options A-D
  extra_options              MCQ with an option E or later
  bad_key                    MCQ key not one of A-D
  empty_answer               free-form answer missing or blank ("document too simple")
  answer_not_scalar          answer is a list / object / boolean
  bad_answer_type            answer_type not Integer / Expression / String
  answer_type_mismatch       Integer that does not parse as an integer; Expression that is
                             not a formula (syntactic check here; `parse_batch` also asks
                             math-verify in the verifier pool)
  too_many_words             String answer with more than 3 words
  answer_in_question         the question still states the gold answer after an answer label,
                             or (free-form) after its last `?` (see spice.redact rules 4, 5)
  emptied_by_redaction       redaction removed text and what is left asks nothing (no `?`,
                             no interrogative / imperative word): `...balls. Answer = number
                             of ways...` must not become a question without a question
  result_in_question         (`leaks_document`, for every grounded task) the question copies
                             the document's clause stating the gold, or the whole document
  answer_not_in_document     (only with `spice.answer_in_document`, an extension) the gold
                             answer of an Integer / String task does not occur in the document
  gold_not_stated            (only with `spice.gold_must_be_stated`, an extension for worlds
                             whose documents state their results) the gold is none of the
                             document's stated results by the world's registered checker
                             (`stated_gold`; e.g. "ladder": a start or an operand is not)
The Reasoner sees `Task.question`: for MCQ the stem plus the four options, one per line; the
answer key and gold answer are removed by the rule documented in `spice.redact` (options end
at their line, answer lines and suffixes are cut, correctness marks dropped).
"""

from __future__ import annotations

import bisect
import dataclasses
import re
import unicodedata
from typing import Any, Callable, Sequence

from spice_jax.errors import SpiceError
from spice_jax.spice import answers, redact
from spice_jax.spice.answers import (extract_letter, integer_answer, looks_like_expression,
                                     normalize_string)
from spice_jax.spice.model_json import (MAX_JSON_DEPTH, MAX_TEXT_CHARS,  # noqa: F401
                                        SURROGATE_RE, last_json_object)
from spice_jax.utils.registry import Registry

FORMATS = ("mcq", "free_form", "compact")
ANSWER_TYPES = {"integer": "integer", "int": "integer", "expression": "expression",
                "expr": "expression", "string": "string", "str": "string", "text": "string"}
MAX_STRING_WORDS = 3


@dataclasses.dataclass(frozen=True)
class Task:
  """One parsed Challenger task.

  question: what the Reasoner sees (MCQ: stem + options A-D, answer lines stripped).
  answer: the gold answer (MCQ: the letter; Integer: digits without separators).
  kind: "mcq" | "integer" | "expression" | "string" (the verifier's kind).
  fmt: the format it was parsed as. reason: "ok" or the failure code.
  options: the four MCQ option texts (else ()). answer_type: as written by the model.
  mentions_document: the question refers to "the document/passage/text" (logged only).
  fields: the decoded JSON object (or the compact fields), for the audit trail.
  """
  valid: bool
  reason: str
  question: str = ""
  answer: str = ""
  kind: str = ""
  fmt: str = ""
  options: tuple[str, ...] = ()
  answer_type: str = ""
  mentions_document: bool = False
  fields: Any = dataclasses.field(default=None, compare=False, hash=False, repr=False)


def _invalid(reason: str, fmt: str, **kw) -> Task:
  return Task(valid=False, reason=reason, fmt=fmt, **kw)


# ----------------------------------------------------------------------------- helpers

_PLACEHOLDER_RE = re.compile(r"^\s*(?:<[a-z][a-z ,_/\-]*>|\.\.\.|…|n/a|null)\s*$", re.IGNORECASE)
_DOC_REF_RE = re.compile(
    r"\b(?:the|this|above|given|provided)\s+(?:document|passage|text|article|excerpt)\b",
    re.IGNORECASE)
_QUESTION_PREFIX_RE = re.compile(r"^[\s*_#]*(?:exam\s+)?question[\s\d*_]*[:.\-]\s*[*_]*",
                                 re.IGNORECASE)


def _text(value) -> str:
  if value is None:
    return ""
  if isinstance(value, bool):
    return str(value).lower()
  if isinstance(value, (int, float, str)):
    s = str(value)
  else:
    return ""
  s = unicodedata.normalize("NFC", s).strip()
  return "" if _PLACEHOLDER_RE.match(s) else s


# Option markers: "A)", "(A)", "A.", "A:" at a line start or after whitespace.
_OPT_LINE_RE = re.compile(r"^[ \t*_]*\(?([A-J])[).:][ \t*_]*", re.MULTILINE)
_OPT_INLINE_RE = re.compile(r"(?:(?<=\s)|^)\(?([A-J])\)[ \t]*")


def split_options(text: str) -> tuple[str, dict[str, str]]:
  """Splits an MCQ text into `(stem, {letter: option text})`.

  Options are found at line starts (`A) ...`, `(A) ...`, `A. ...`, `A: ...`), or, when the
  options are written inline (`... A) x B) y C) z D) w`), by `A)` / `(A)` markers. The
  markers must appear in alphabetical order starting at A; the stem is the text before A.
  An option ends at the next marker or at the end of its line, whichever comes first: text
  on later lines (e.g. after option D) belongs to no option. (Correctness marks at an
  option's end are cut later, by `redact.strip_option_marks`.)
  """
  for pattern in (_OPT_LINE_RE, _OPT_INLINE_RE):
    marks = [(m.group(1), m.start(), m.end()) for m in pattern.finditer(text)]
    by_letter: dict[str, list[int]] = {}
    for i, mk in enumerate(marks):
      by_letter.setdefault(mk[0], []).append(i)
    # The longest (then the last) chain A, B, C, ... of markers in text order, each the first
    # marker of its letter after the previous one: O(markers x log) for hostile inputs.
    best: list[tuple[str, int, int]] = []
    for i in by_letter.get("A", []):
      run, cur = [marks[i]], i
      for letter in "BCDEFGHIJ":
        idx = by_letter.get(letter, [])
        k = bisect.bisect_right(idx, cur)
        if k == len(idx):
          break
        cur = idx[k]
        run.append(marks[cur])
      if len(run) >= 2 and len(run) >= len(best):
        best = run
    if best:
      stem = text[:best[0][1]]
      opts = {}
      for j, (letter, _, end) in enumerate(best):
        eol = text.find("\n", end)
        stop = min(best[j + 1][1] if j + 1 < len(best) else len(text),
                   len(text) if eol < 0 else eol)
        opts[letter] = " ".join(text[end:stop].split())
      return stem.strip(), opts
  return text.strip(), {}


def _mcq_task(fmt: str, stem: str, options: dict[str, str], key_text: str,
              fields) -> Task:
  raw = _QUESTION_PREFIX_RE.sub("", stem, count=1).strip()
  stem = redact.redact(raw)
  mentions = bool(_DOC_REF_RE.search(stem))
  if not stem or _PLACEHOLDER_RE.match(stem):
    return _invalid("empty_question", fmt, kind="mcq", fields=fields)
  if stem != raw and not redact.asks(stem):
    return _invalid("emptied_by_redaction", fmt, question=stem, kind="mcq", fields=fields)
  opts = {k: redact.strip_option_marks(v) for k, v in options.items()}
  if any(k not in "ABCD" for k in opts):
    return _invalid("extra_options", fmt, question=stem, kind="mcq", fields=fields)
  if [k for k in "ABCD" if opts.get(k)] != list("ABCD"):
    return _invalid("missing_options", fmt, question=stem, kind="mcq", fields=fields)
  key = extract_letter(key_text, "ABCD") if key_text else None
  options_t = tuple(opts[k] for k in "ABCD")
  question = stem + "\n\n" + "\n".join(f"{k}) {v}" for k, v in zip("ABCD", options_t))
  if key is None:
    return _invalid("bad_key", fmt, question=question, kind="mcq", options=options_t,
                    fields=fields)
  kw = dict(question=question, answer=key, kind="mcq", fmt=fmt, options=options_t,
            answer_type="MCQ", mentions_document=mentions, fields=fields)
  if redact.states_answer(stem, [options_t["ABCD".index(key)]], key) or any(
      redact.states_answer(o, [], key, key_is_right=False) for o in options_t):
    return Task(valid=False, reason="answer_in_question", **kw)
  return Task(valid=True, reason="ok", **kw)


def _options_from_field(value) -> dict[str, str]:
  if isinstance(value, dict):
    return {str(k).strip().strip("()").upper(): _text(v) for k, v in value.items()}
  if isinstance(value, list):
    out = {}
    for i, v in enumerate(value[:10]):
      s = _text(v)
      m = re.match(r"\(?([A-J])[).:]\s*", s)
      out[m.group(1) if m else "ABCDEFGHIJ"[i]] = s[m.end():] if m else s
    return out
  return {}


def _parse_mcq_fields(obj: dict, fmt: str) -> Task:
  mcq = _text(obj.get("multiple_choice_question"))
  key = _text(obj.get("multiple_choice_correct") or obj.get("correct_option")
              or obj.get("correct_letter"))
  if not mcq:
    return _invalid("empty_question", fmt, kind="mcq", fields=obj)
  stem, options = split_options(redact.strip_answer_lines(mcq))
  if not options:
    options = _options_from_field(obj.get("options") or obj.get("choices"))
  return _mcq_task(fmt, stem, options, key, obj)


# ---------------------------------------------------------------- free-form answers

def _free_form_task(fmt: str, question, answer, answer_type, fields) -> Task:
  raw = _QUESTION_PREFIX_RE.sub("", _text(question), count=1).strip()
  q = _text(redact.redact(raw))
  mentions = bool(_DOC_REF_RE.search(q))
  atype = _text(answer_type)
  kw = dict(question=q, answer_type=atype, fields=fields, mentions_document=mentions)
  if not q:
    return _invalid("empty_question", fmt, **kw)
  if q != raw and not redact.asks(q):
    return _invalid("emptied_by_redaction", fmt, **kw)
  if isinstance(answer, (list, dict, bool)):
    return _invalid("answer_not_scalar", fmt, **kw)
  a = _text(answer)
  if not a:
    return _invalid("empty_answer", fmt, **kw)
  kind = ANSWER_TYPES.get(atype.lower().strip(" .*`'\""))
  if kind is None:
    return _invalid("bad_answer_type", fmt, answer=a, **kw)
  kw["answer"] = a
  if kind == "integer":
    digits = integer_answer(answer)
    if digits is None:
      return _invalid("answer_type_mismatch", fmt, kind=kind, **kw)
    kw["answer"] = digits
  elif kind == "expression":
    expr = a.strip()
    if len(expr) >= 2 and expr[0] == "$" == expr[-1]:  # $..$ / $$..$$ (no regex: `\$+(.*?)\$+`
      expr = expr.strip("$").strip()                  # backtracks cubically on "$$$...x")
    else:
      m = re.fullmatch(r"\\\((.*)\\\)|\\\[(.*)\\\]", expr, re.DOTALL)
      if m:
        expr = next(g for g in m.groups() if g is not None).strip()
    if not looks_like_expression(expr):
      return _invalid("answer_type_mismatch", fmt, kind=kind, **kw)
    kw["answer"] = expr
  else:
    norm = normalize_string(a)
    if not norm:
      return _invalid("empty_answer", fmt, kind=kind, **kw)
    if len(norm.split()) > MAX_STRING_WORDS:
      return _invalid("too_many_words", fmt, kind=kind, **kw)
  if redact.states_answer(q, {a, kw["answer"]}) or (
      kind != "expression" and redact.states_after_question(q, {a, kw["answer"]})):
    return _invalid("answer_in_question", fmt, kind=kind, **kw)
  return Task(valid=True, reason="ok", kind=kind, fmt=fmt, **kw)


def _parse_free_form_fields(obj: dict, fmt: str) -> Task:
  question = obj.get("question", obj.get("exam_question"))
  answer = obj.get("answer", obj.get("final_answer"))
  return _free_form_task(fmt, question, answer, obj.get("answer_type"), obj)


# ------------------------------------------------------------------- compact format

_LINE_KEY_RE = re.compile(
    r"^[ \t>*_#]*(question|problem|answer|final answer|type|answer type)[\s\d*_]*[:：][ \t*_]*",
    re.IGNORECASE | re.MULTILINE)


def _parse_compact(text: str, fmt: str, expect: str | None) -> Task:
  text = text[-MAX_TEXT_CHARS:]
  marks = [(m.group(1).lower(), m.start(), m.end()) for m in _LINE_KEY_RE.finditer(text)]
  # The last question marker that is followed by an answer marker.
  last_answer = max((i for i, (n, _, _) in enumerate(marks) if n in ("answer", "final answer")),
                    default=-1)
  qi = max((i for i, (n, _, _) in enumerate(marks[:max(last_answer, 0)])
            if n in ("question", "problem")), default=None)
  if qi is None:
    keys = ("question", "multiple_choice_question")
    obj = last_json_object(text, keys)
    if obj is not None and any(k in obj for k in keys):
      if "multiple_choice_question" in obj or expect == "mcq":
        return dataclasses.replace(_parse_mcq_fields(obj, fmt), fmt=fmt)
      return _parse_free_form_fields(obj, fmt)
    return _invalid("no_task", fmt)
  fields: dict[str, str] = {}
  for j in range(qi, len(marks)):
    name, _, end = marks[j]
    stop = marks[j + 1][1] if j + 1 < len(marks) else len(text)
    name = {"problem": "question", "final answer": "answer", "answer type": "type"}.get(
        name, name)
    if name in fields:  # a second question/answer pair: stop at the first complete one
      break
    value = text[end:stop]
    if name != "question":
      value = value.strip().split("\n", 1)[0]  # single-line fields
    fields[name] = value.strip().strip("*_` ").strip()
  question, answer = fields.get("question", ""), fields.get("answer", "")
  stem, options = split_options(redact.strip_answer_lines(question))
  if expect == "mcq" or (expect is None and len(options) >= 4):
    return _mcq_task(fmt, stem, options, answer, fields)
  atype = fields.get("type", "")
  if not atype:  # no Type line: infer
    if integer_answer(answer) is not None:
      atype = "Integer"
    elif looks_like_expression(answer) and not re.fullmatch(r"[A-Za-z][A-Za-z \-']*", answer):
      atype = "Expression"
    else:
      atype = "String"
  return _free_form_task(fmt, question, answer, atype, fields)


# --------------------------------------------------------------------------- public

def parse(text: str, fmt: str, *, expect: str | None = None) -> Task:
  """Parses one Challenger output in format `fmt` ("mcq" | "free_form" | "compact").

  `expect` ("mcq" | "free_form" | None) tells the compact parser which compact prompt was
  used; None infers MCQ from the presence of four option lines. Never raises on bad model
  text (the reason code says what was wrong); raises ValueError for an unknown `fmt`.
  """
  if fmt not in FORMATS:
    raise ValueError(f"tasks.parse: fmt {fmt!r} not in {FORMATS}")
  if not isinstance(text, str):
    return _invalid("no_json" if fmt != "compact" else "no_task", fmt)
  text = SURROGATE_RE.sub("\ufffd", text)
  if fmt == "compact":
    return _parse_compact(text, fmt, expect)
  keys = (("multiple_choice_question", "multiple_choice_correct") if fmt == "mcq"
          else ("question", "answer", "answer_type"))
  obj = last_json_object(text, keys)
  if obj is None:
    return _invalid("no_json", fmt)
  if fmt == "mcq":
    return _parse_mcq_fields(obj, fmt)
  return _parse_free_form_fields(obj, fmt)


def parse_batch(texts: Sequence[str], fmts: Sequence[str] | str, *, pool=None,
                check_expressions: bool = True,
                expect: Sequence[str | None] | str | None = None) -> list[Task]:
  """`parse` over a batch; with `check_expressions`, Expression answers are also checked by
  the verifier, so an Expression task is valid only if math-verify can read its gold answer
  (SPEC §2.4). pool: an object with `parseable(expressions) -> [(ok, reason)]` (a
  `verify.VerifierPool`); required when `check_expressions`."""
  n = len(texts)
  fmts = [fmts] * n if isinstance(fmts, str) else list(fmts)
  expects = [expect] * n if expect is None or isinstance(expect, str) else list(expect)
  tasks = [parse(t, f, expect=e) for t, f, e in zip(texts, fmts, expects)]
  if check_expressions:
    idx = [i for i, t in enumerate(tasks) if t.valid and t.kind == "expression"]
    if idx and pool is None:
      raise ValueError("tasks.parse_batch: check_expressions needs a pool (a "
                       "verify.VerifierPool), or pass check_expressions=False")
    if idx:
      for i, (ok, _) in zip(idx, pool.parseable([tasks[i].answer for i in idx])):
        if not ok:
          tasks[i] = dataclasses.replace(tasks[i], valid=False, reason="answer_type_mismatch")
  return tasks


def gold_forms(task: Task) -> tuple[str, ...]:
  """The texts that state `task`'s gold: the answer as written and canonical (free-form), or
  the key option's text (MCQ; the letter alone says nothing outside an answer label)."""
  if task.kind == "mcq":
    return (task.options["ABCD".index(task.answer)],) if task.options and task.answer else ()
  raw = _text((task.fields or {}).get("answer")) if isinstance(task.fields, dict) else ""
  return tuple(g for g in {task.answer, raw} if g)


def leaks_document(task: Task, document: str) -> Task:
  """`task`, or an invalid copy (reason `result_in_question`) when its question copies the
  clause of `document` that states its gold (or the whole document): the Reasoner would read
  the result instead of deriving it (SPEC §10, information asymmetry; spice.redact rule 6).
  Applies to every valid task of a grounded document; MCQ: the stem against the key
  option's text."""
  if not task.valid or not document:
    return task
  q = task.question.split("\n\n", 1)[0] if task.kind == "mcq" else task.question
  if redact.copies_result(q, document, gold_forms(task)):
    return dataclasses.replace(task, valid=False, reason="result_in_question")
  return task


def grounded(task: Task, document: str) -> Task:
  """`task`, or an invalid copy (reason `answer_not_in_document`) when it is a valid
  free-form Integer / String task whose gold answer does not occur in `document`.

  Integer: the canonical gold equals the canonical form of a number written in the
  document (`1,000` == `1000`); String: the normalised gold is a substring of the normalised
  document. MCQ and Expression tasks (answers that are derived, not quoted) pass unchanged.
  An opt-in extension of SPEC §2.4 (`spice.answer_in_document`): it rejects golds that a
  model made up instead of reading them, at the price of rejecting derived results.
  """
  if not task.valid or task.kind not in ("integer", "string"):
    return task
  if task.kind == "integer":
    gold = answers.canonical_answer(task.answer, "integer")
    found = {answers.canonical_answer(m, "integer") for m in answers.numbers(document)}
    ok = gold is not None and gold in found
  else:
    gold = answers.normalize_string(task.answer)
    ok = bool(gold) and gold in answers.normalize_string(document)
  return task if ok else dataclasses.replace(task, valid=False, reason="answer_not_in_document")


# ------------------------------------------------------------------ stated results
# `spice.gold_must_be_stated` names a checker here: is_stated(document, gold) -> bool, whether
# `gold` (the task's answer as written; MCQ: the letter) is one of the results `document`
# states. A world registers its own with `@register_stated("name")`; it is resolved when
# used, so the config can name it before the world's module is imported.
StatedCheck = Callable[[str, str], bool]
_STATED = Registry("stated-result checker", SpiceError)
register_stated, stated_checker, stated_checkers = (_STATED.register, _STATED.get,
                                                    _STATED.names)


@register_stated("ladder")
def _ladder_stated(document: str, gold: str) -> bool:
  """`data.ladder`: the gold is the value after one of the document's steps."""
  from spice_jax.data import ladder
  return ladder.is_stated_result(document, gold)


def stated_gold(task: Task, document: str, is_stated: StatedCheck) -> Task:
  """`task`, or an invalid copy (reason `gold_not_stated`) when it is valid and
  `is_stated(document, task.answer)` is False: on a world whose documents state every result
  (`data.ladder`), a gold that is a number of the document but no result (the start, an
  operand) asks nothing the world can grade. An opt-in extension of SPEC §2.4
  (`spice.gold_must_be_stated`), checked after `grounded`."""
  if not task.valid or is_stated(document, task.answer):
    return task
  return dataclasses.replace(task, valid=False, reason="gold_not_stated")


def _bool(value) -> bool | None:
  if isinstance(value, bool):
    return value
  if isinstance(value, str):
    v = value.strip().lower()
    if v in ("true", "yes", "y", "1"):
      return True
    if v in ("false", "no", "n", "0"):
      return False
  if isinstance(value, int):
    return bool(value)
  return None


def parse_format_selection(text: str) -> str | None:
  """The format the format-selection call chose (SPEC §2.2): "mcq", "free_form" or None.

  Exactly one of `suitable_for_mcq` / `suitable_for_free_form` true -> that format. Both
  true, both false, or anything unreadable -> None: the caller picks uniformly at random.
  """
  obj = last_json_object(text, ("suitable_for_mcq", "suitable_for_free_form"))
  if obj is None:
    return None
  mcq, ff = _bool(obj.get("suitable_for_mcq")), _bool(obj.get("suitable_for_free_form"))
  if mcq is None or ff is None or mcq == ff:
    return None
  return "mcq" if mcq else "free_form"


def format_selection_fields(text: str) -> dict | None:
  """The decoded format-selection object (for logging `best_answer_type` / `reason`)."""
  return last_json_object(text, ("suitable_for_mcq", "suitable_for_free_form"))
