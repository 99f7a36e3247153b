"""Answer extraction and normalisation: pure string functions, no process pool (SPEC §3).

Model output is untrusted: nothing here `eval`s it, and every function is linear in a capped
input (`MAX_SCAN_CHARS` of a response tail, `MAX_ANSWER_CHARS` of an extracted answer).

String normalisation (`normalize_string`, the documented rule of SPEC §3): NFKC; LaTeX text
wrappers unwrapped (`\\text{..}`, `\\textbf`, `\\mathrm`, ...), `$` and LaTeX spacing removed;
case folded; whitespace collapsed; punctuation and quotes stripped from both ends. Nothing
else (articles, plurals and hyphens are significant).

Math canonical form (`canonical_answer`, the verifier's exact-match fast path and the
majority-vote key): `$`, `\\left`/`\\right` and a trailing full stop removed, `\\dfrac` ->
`\\frac`; LaTeX spacing counts as whitespace; digits grouped by thousands with spaces or
commas are joined (`1 000`, `1\\,000`, `1,000` -> `1000`); any other whitespace is removed
except between two digits or two letters (`2 3` stays `2 3`, never `23`; `\\pi r` is not
`\\pir`). A plain number or integer fraction becomes its reduced rational.
"""

from __future__ import annotations

import collections
import re
import unicodedata
from fractions import Fraction
from typing import Sequence

KINDS = ("mcq", "integer", "expression", "string")
MCQ_LETTERS = "ABCDEFGHIJ"
MAX_SCAN_CHARS = 100_000   # only the tail of a response is searched for \boxed{...}
MAX_ANSWER_CHARS = 1_000   # longer extracted answers (or golds) are wrong without parsing

# --------------------------------------------------------------------------- extraction

_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BRACE_RE = re.compile(r"(?<!\\)[{}]")


def extract_boxed(text: str, max_chars: int = MAX_SCAN_CHARS) -> str | None:
  """Content of the last complete `\\boxed{...}` (or `\\fbox{...}`) in `text`, else None.

  Braces nest; escaped braces (`\\{`, `\\}`) do not count. "Last" = the box whose keyword
  starts last among boxes that close (so `\\boxed{\\boxed{1}}` gives `1`, and a truncated
  final box falls back to the previous complete one). Only the last `max_chars` characters
  are searched, so the work is O(max_chars) whatever the input.
  """
  if not isinstance(text, str):
    return None
  if len(text) > max_chars:
    text = text[-max_chars:]
  starts = [m.end() - 1 for m in _BOX_RE.finditer(text)]  # positions of the opening '{'
  if not starts:
    return None
  # One pass over the braces after the first box: match every '{' to its '}'.
  close_of: dict[int, int] = {}
  stack: list[int] = []
  for m in _BRACE_RE.finditer(text, starts[0]):
    if m.group() == "{":
      stack.append(m.start())
    elif stack:
      close_of[stack.pop()] = m.start()
  for s in reversed(starts):
    e = close_of.get(s)
    if e is not None:
      return text[s + 1:e].strip()
  return None


_WRAP_RE = re.compile(
    r"\\(?:text|textbf|textit|textrm|textsf|texttt|mathrm|mathbf|mathit|mathsf|mathtt|"
    r"operatorname|mbox|emph|boldsymbol|bm)\s*\{([^{}]*)\}")
_LATEX_SPACE_RE = re.compile(r"\\[,;:! ]|\\q?quad\b|~")
_EDGE_PUNCT = " \t\n\r.,;:!?\"'`*_()[]<>“”‘’«»"


def unwrap_latex_text(text: str) -> str:
  """`\\text{..}`-style wrappers removed, nested ones too (`\\textbf{\\text{B}}` -> `B`)."""
  for _ in range(8):
    new = _WRAP_RE.sub(r"\1", text)
    if new == text:
      break
    text = new
  return text


def normalize_string(text: str) -> str:
  """The String-answer normal form (see the module docstring)."""
  text = unicodedata.normalize("NFKC", text)
  text = unwrap_latex_text(text)
  text = _LATEX_SPACE_RE.sub(" ", text).replace("\\$", "").replace("$", "")
  text = text.replace("\\%", "%").replace("\\&", "&")
  text = " ".join(text.casefold().split())
  return text.strip(_EDGE_PUNCT)


_LETTER_PREFIX_RE = re.compile(
    r"^(?:(?:the\s+)?(?:final\s+)?(?:correct\s+)?(?:answer|option|choice)(?:\s+is)?\s*[:=]?\s*)",
    re.IGNORECASE)
_MULTI_LETTER_RE = re.compile(r"^\(?[A-J]\)?\s*(?:,|and\b|or\b|&|/|\+)\s*\(?[A-J]\)?(?:\W|$)",
                              re.IGNORECASE)


def extract_letter(text: str | None, letters: str = "ABCD") -> str | None:
  """The option letter an answer names, or None.

  Accepts `B`, `(B)`, `[B]`, `B)`, `B.`, `B:`, `B) 149,600,000 km`, `\\text{B}`,
  `\\textbf{(B)}`, `**B**`, `Option B`, `Answer: B`, and a bare lowercase `b` / `(b)` / `b)`.
  Rejects text that names several letters (`A and C`), words that merely start with a letter
  (`Both`, `A cat`), and letters outside `letters`.
  """
  if not text:
    return None
  t = unwrap_latex_text(unicodedata.normalize("NFKC", text[:MAX_ANSWER_CHARS]))
  t = t.replace("$", "").replace("*", "").strip().strip("\"'`")
  t = _LETTER_PREFIX_RE.sub("", t).strip()
  if not t or _MULTI_LETTER_RE.match(t):
    return None
  m = re.fullmatch(r"[(\[]?\s*([A-Za-z])\s*[)\]]?\s*[.:]?", t)
  if m:
    letter = m.group(1)
    if letter.islower() and not re.fullmatch(r"\(?[a-z]\)?", t):
      return None
    letter = letter.upper()
    return letter if letter in letters else None
  # A letter followed by a delimiter and option text: "B) 149 km", "(B) 149 km", "B. 149".
  m = re.match(r"[(\[]\s*([A-Z])\s*[)\]]|([A-Z])\s*[).:](?:\s|$)", t)
  if m:
    letter = m.group(1) or m.group(2)
    return letter if letter in letters else None
  # "B - 149 km" / "B, 149 km" / "B is correct"
  m = re.match(r"([A-Z])\s*(?:[-,\u2013\u2014]|\s(?:is|was)\b)", t)
  if m:
    return m.group(1) if m.group(1) in letters else None
  return None


# ------------------------------------------------------------------- canonical forms

_NUM_RE = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+")
_FRAC_RE = re.compile(r"([+-]?)\\frac\{([+-]?\d+)\}\{([+-]?\d+)\}")
_SLASH_RE = re.compile(r"([+-]?\d+)/([+-]?\d+)")
# A number written in thousands groups separated by single spaces: "1 000", "12 345 678".
_SPACED_GROUPS_RE = re.compile(r"(?<![\d.,])\d{1,3}(?: \d{3})+(?!\d)")
# Whitespace that carries no meaning: everywhere except between two digits or two letters.
_SPACE_RE = re.compile(r"(?<=\d) (?=\d)|(?<=[A-Za-z]) (?=[A-Za-z])| ")


def numbers(text: str) -> list[str]:
  """Every number written in `text` (thousands groups and decimals allowed), as written."""
  return _NUM_RE.findall(text)


def _squeeze_spaces(t: str) -> str:
  t = " ".join(t.split())
  t = _SPACED_GROUPS_RE.sub(lambda m: m.group(0).replace(" ", ""), t)
  return _SPACE_RE.sub(lambda m: " " if m.start() > 0 and m.end() < len(t) and
                       _same_class(t[m.start() - 1], t[m.end()]) else "", t)


def _same_class(a: str, b: str) -> bool:
  return (a.isdigit() and b.isdigit()) or (a.isalpha() and b.isalpha())


def clean_math(text: str) -> str:
  """The math canonical text (module docstring) before rational reduction."""
  t = unicodedata.normalize("NFKC", text)
  t = t.replace("\\$", "").replace("$", "").replace("\\left", "").replace("\\right", "")
  t = t.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("{,}", ",")
  t = _squeeze_spaces(_LATEX_SPACE_RE.sub(" ", t))
  return t.rstrip(".")


def as_fraction(t: str) -> Fraction | None:
  """Exact value of a plain number / integer fraction (in `clean_math` form), else None."""
  if _NUM_RE.fullmatch(t):
    return Fraction(t.replace(",", ""))
  m = _FRAC_RE.fullmatch(t)
  if m:
    num, den = int(m.group(2)), int(m.group(3))
    return None if den == 0 else Fraction(num, den) * (-1 if m.group(1) == "-" else 1)
  m = _SLASH_RE.fullmatch(t)
  if m and int(m.group(2)) != 0:
    return Fraction(int(m.group(1)), int(m.group(2)))
  return None


def canonical_answer(answer: str | None, kind: str) -> str | None:
  """A cheap canonical form used for majority voting and the exact-match fast path.

  mcq: the letter (A-J); string: `normalize_string`; integer/expression: `clean_math`, then
  a plain number (thousands separators allowed) or an integer fraction (`3/4`,
  `\\frac{3}{4}`) becomes its exact reduced rational (`0.75` == `3/4` == `\\frac{6}{8}`).
  Two answers with the same canonical form are equivalent; different forms may still be
  (math-verify decides).
  """
  if answer is None:
    return None
  if kind == "mcq":
    return extract_letter(answer, MCQ_LETTERS)
  if kind == "string":
    return normalize_string(answer) or None
  if kind in ("integer", "expression"):
    t = clean_math(answer[:MAX_ANSWER_CHARS])
    if not t:
      return None
    f = as_fraction(t)
    return str(f) if f is not None else t
  raise ValueError(f"unknown answer kind {kind!r}; expected one of {KINDS}")


def majority_answer(responses: Sequence[str], kind: str) -> str | None:
  """The most common answer among `responses` (R-Zero pseudo-label), or None.

  Each response's last `\\boxed{}` is reduced by `canonical_answer`; the class with most
  members wins, ties broken by earliest first appearance. Returns the first raw boxed answer
  of the winning class (a letter for mcq). Equivalence is the canonical form only (no
  math-verify), so `\\sqrt{8}` and `2\\sqrt{2}` count as different answers.
  """
  return majority_vote(responses, kind)[0]


def majority_vote(responses: Sequence[str], kind: str) -> tuple[str | None, list[bool]]:
  """`(majority answer, agrees[i])` where agrees[i] says response i is in the winning class."""
  keys = []
  for r in responses:
    box = extract_boxed(r)
    keys.append((canonical_answer(box, kind), box))
  counts = collections.Counter(k for k, _ in keys if k is not None)
  if not counts:
    return None, [False] * len(responses)
  best = max(counts.values())
  for k, box in keys:
    if k is not None and counts[k] == best:
      answer = k if kind == "mcq" else box
      return answer, [kk == k for kk, _ in keys]
  raise AssertionError("unreachable")


# ------------------------------------------------------------- Challenger gold answers

_INT_RE = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.0+)?")
_WORDY_RE = re.compile(r"(?<!\\)\b[A-Za-z]{3,}\b")
_MATHY_RE = re.compile(r"[\d\\^_=+\-*/()<>|πα-ωΑ-Ω√∞]|\b[a-zA-Z]\b")


def integer_answer(value) -> str | None:
  """Canonical digits of an Integer answer (`"1,024"`, `"1 024"` -> `"1024"`, `12.0` -> `"12"`),
  else None. Spaces inside the number are allowed only between thousands groups (`"2 3"` is
  not an integer)."""
  if isinstance(value, bool):
    return None
  if isinstance(value, int):
    return str(value)
  if isinstance(value, float):
    return str(int(value)) if value.is_integer() and abs(value) < 1e18 else None
  if not isinstance(value, str):
    return None
  s = unicodedata.normalize("NFC", value).replace("$", "").replace("{,}", ",")
  s = _squeeze_spaces(_LATEX_SPACE_RE.sub(" ", s.replace("\u2212", "-")))
  m = re.fullmatch(r"\\boxed\{(.*)\}", s)
  if m:
    s = m.group(1)
  if _INT_RE.fullmatch(s):
    s = s.split(".")[0].replace(",", "").lstrip("+")
    neg = s.startswith("-")
    digits = s.lstrip("-").lstrip("0") or "0"
    return ("-" if neg and digits != "0" else "") + digits
  return None


def looks_like_expression(s: str) -> bool:
  """Cheap syntactic test that `s` is a formula, not prose: balanced brackets, at least one
  mathematical character, and at most 3 plain words (outside LaTeX commands and \\text{})."""
  if not s or len(s) > 1000:
    return False
  depth = 0
  for ch in s:
    if ch in "{(":
      depth += 1
    elif ch in "})":
      depth -= 1
      if depth < 0:
        return False
  if depth != 0:
    return False
  bare = re.sub(r"\\text\{[^{}]*\}|\\[A-Za-z]+", " ", s)
  if len(_WORDY_RE.findall(bare)) > 3:
    return False
  return bool(_MATHY_RE.search(s))
