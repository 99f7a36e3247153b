"""The last well-formed JSON object in a model's text (SPEC §2.4), tolerant of model quirks.

Every top-level JSON object in the text is decoded (code fences and prose around it are
ignored); `last_json_object` returns the one ending last, preferring one that has any of the
wanted keys. Tolerated quirks: smart quotes as delimiters, LaTeX backslashes left unescaped
(`"\\frac{1}{2}"` in the raw text, which JSON would read as a form feed + "rac"), trailing
commas, raw newlines in strings. Bounded work on hostile input: only the last
`MAX_TEXT_CHARS` characters, at most `MAX_JSON_ATTEMPTS` decoding starts, objects nested at
most `MAX_JSON_DEPTH` deep.
"""

from __future__ import annotations

import bisect
import json
import re
from typing import Sequence

MAX_TEXT_CHARS = 64_000      # model outputs are cut to their last MAX_TEXT_CHARS
MAX_JSON_ATTEMPTS = 1_000    # '{' positions tried per text (bounds pathological inputs)
MAX_JSON_DEPTH = 32          # deeper objects are not tasks (and would exhaust the stack later)

_SMART_DQ = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"',
                           "\u2033": '"', "\uff02": '"'})
# One repair pass: a backslash that starts no valid JSON escape is doubled ("\sqrt" ->
# "\\sqrt"), and a comma right before a closing bracket is dropped.
_REPAIR_RE = re.compile(r'\\(?:[\\"/bfnrt]|u[0-9a-fA-F]{4})|\\|,(?=\s*[}\]])')
# After decoding: control characters that were really LaTeX commands.
_LATEX_CTRL = [
    (re.compile("\x0c"), "\\\\f"),   # \frac, \forall
    (re.compile("\x08"), "\\\\b"),   # \beta, \binom, \bar
    (re.compile("\t(?=(?:imes|heta|au|ext|extbf|frac|an|anh|riangle|ilde|op|o)(?![a-z]))"),
     "\\\\t"),
    (re.compile("\r(?=(?:ight|ho|angle|m|ightarrow|Rightarrow)(?![a-z]))"), "\\\\r"),
    (re.compile("\n(?=(?:eq|eg|abla|otin|ot|mid|u|e|i|leq|geq|exists|parallel|subseteq)"
                "(?![a-zA-Z]))"), "\\\\n"),
]
_DECODER = json.JSONDecoder(strict=False)
# Lone surrogates (raw, or from JSON escapes such as "\ud800") are not encodable: a question
# holding one would crash the tokenizer and the UTF-8 audit trail. Replaced by U+FFFD.
SURROGATE_RE = re.compile("[\ud800-\udfff]")
_OBJ_START_RE = re.compile(r'\{\s*(?:"|\})')


def _fix_latex_controls(value):
  if isinstance(value, str):
    value = SURROGATE_RE.sub("\ufffd", value)
    for pat, rep in _LATEX_CTRL:
      value = pat.sub(rep, value)
    return value
  if isinstance(value, list):
    return [_fix_latex_controls(v) for v in value]
  if isinstance(value, dict):
    return {SURROGATE_RE.sub("\ufffd", k): _fix_latex_controls(v) for k, v in value.items()}
  return value


def _shallow(obj, limit: int = MAX_JSON_DEPTH) -> bool:
  """Whether a decoded JSON value nests at most `limit` containers deep (iterative)."""
  stack = [(obj, 1)]
  while stack:
    v, d = stack.pop()
    if d > limit:
      return False
    if isinstance(v, dict):
      v = v.values()
    elif not isinstance(v, list):
      continue
    stack.extend((x, d + 1) for x in v if isinstance(x, (dict, list)))
  return True


def _objects(text: str) -> list[tuple[int, dict]]:
  """`(end, object)` for the top-level JSON objects in `text`, in order.

  An object nested deeper than MAX_JSON_DEPTH is skipped like a malformed one (the scan
  resumes inside it), so the result does not depend on whether the decoder hit the
  interpreter's recursion limit first (which depends on the caller's stack depth).
  """
  out: list[tuple[int, dict]] = []
  pos, attempts = 0, 0
  while attempts < MAX_JSON_ATTEMPTS:
    m = _OBJ_START_RE.search(text, pos)
    if not m:
      break
    attempts += 1
    try:
      obj, end = _DECODER.raw_decode(text, m.start())
    except (ValueError, RecursionError):
      pos = m.start() + 1
      continue
    if not _shallow(obj):
      pos = m.start() + 1
      continue
    if isinstance(obj, dict):
      out.append((end, obj))
    pos = end
  return out


def _repair(text: str) -> tuple[str, list[int], list[int]]:
  """`(repaired, at, shift)`: a repaired position p maps back to p - shift[k] for the last
  k with at[k] <= p."""
  at, shift = [0], [0]
  cum = 0

  def sub(m):
    nonlocal cum
    g = m.group(0)
    rep = "\\\\" if g == "\\" else ("" if g == "," else g)
    if rep != g:
      cum += len(rep) - len(g)
      at.append(m.end() + cum)
      shift.append(cum)
    return rep

  return _REPAIR_RE.sub(sub, text), at, shift


def _candidates(text: str):
  """`(end position in text, variant rank, object)` over the decoding variants."""
  out = [(end, 0, o) for end, o in _objects(text)]
  smart = text.translate(_SMART_DQ)  # 1:1 characters, positions unchanged
  for rank, variant in enumerate(dict.fromkeys((text, smart)), start=1):
    repaired, at, shift = _repair(variant)
    if repaired == text:
      continue
    for end, o in _objects(repaired):
      out.append((end - shift[bisect.bisect_right(at, end) - 1], rank, o))
  return out


def _norm_key(k: str) -> str:
  return re.sub(r"[\s\-]+", "_", str(k).strip().lower())


def last_json_object(text: str, keys: Sequence[str] = ()) -> dict | None:
  """The last well-formed JSON object in `text`, with keys normalised (lower case, `_`).

  Objects are decoded from the raw text and from repaired variants (smart quotes
  straightened, unescaped LaTeX backslashes escaped, trailing commas dropped); the object
  ending last in the original text wins, preferring one that has any of `keys`, and the raw
  decoding when two variants find the same object.
  """
  if not isinstance(text, str):
    return None
  text = text[-MAX_TEXT_CHARS:]
  cands = _candidates(text)
  if not cands:
    return None
  norm = [(end, rank, {_norm_key(k): v for k, v in o.items()}) for end, rank, o in cands]
  wanted = [c for c in norm if any(k in c[2] for k in keys)] or norm
  end, rank, obj = max(wanted, key=lambda c: (c[0], -c[1]))
  return _fix_latex_controls(obj)
