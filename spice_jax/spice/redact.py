"""What the Reasoner must not see: the answer key and the gold answer (SPEC §2.4).

The rule, applied by `spice.tasks` to every question before it becomes `Task.question`:

1. An MCQ option ends at its line (`split_options` in tasks): text on the lines after an
   option, including everything after option D, is not part of any option and is dropped.
2. Answer lines are removed (`strip_answer_lines`): a line that starts, after markup and an
   optional `so` / `thus` / `hence` / `therefore`, with an answer label followed by `:`,
   `=`, a dash, `is` / `was`, or a bare option letter. Labels: `answer`, `final answer`,
   `correct answer`, `answer key`, `correct`, `correct option` / `choice` / `letter`,
   `right answer` / `option`, `solution`, `explanation`, `rationale` (each optionally after
   `the`); and `key` when what follows is an option letter. A line that says an option is
   right (`B is correct`, `Option (B) is the answer`, `✓ B`) is removed too.
3. Answer suffixes are cut (`strip_answer_suffix`): from such a label (with its separator)
   to the end of its line when the label starts the line or follows sentence punctuation, a
   bracket, markup or a dash (`...? Answer: 6`, `... (Correct: B)`, `... | Key - B`). On an
   option line (`strip_option_marks`) also a trailing `Answer: B` after any word, and a
   correctness mark: `(correct)`, `[right answer]`, `(this is correct)`, `✓`, `✔`, `☑`,
   `✅`, `<- correct`, `- correct`, `**correct**`, and their negations (`(wrong)`, `✗`),
   which reveal the key by elimination. Punctuation or a separator (`.`, `;`, `,`, `|`,
   a dash, an opening bracket) right before a cut is dropped with it.
4. What survives is checked (`states_answer`): a question that still states a gold form (the
   gold answer; for MCQ the key letter or the key option's text) right after an answer
   label (`the answer is 6`, `correct option: B`), or whose MCQ stem says the key option is
   right (`B is correct`), is rejected by tasks with reason `answer_in_question`. For MCQ
   the stem and each option are checked apart (a stem `Which is correct:` followed by
   `A) ...` states nothing; an option `Only B is correct` is an option, not a key).

All functions are linear in the text: suffix and mark checks look only at a bounded tail
of each line, and the statement check runs on whitespace-collapsed text.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable

# An option letter as models write it: B, (B), **B**, $B$, \text{B}, $\textbf{(B)}$.
_LETTER = (r"[$(\[ \t*_]{0,6}(?:\\text(?:bf)?\{)?[ \t]*\(?[A-J]\)?[ \t]*\}?"
           r"[$)\] \t*_]{0,6}")
_CUT_EDGE = " \t;,.|-\u2013\u2014([{"  # left at an option's end by a cut: dropped
_TAIL_CHARS = 240  # option marks and trailing "Answer: B" are looked for in this many chars

_LABEL = (r"(?:the\s+)?(?:(?:final|correct|right|best)\s+)?answer(?:\s+key)?"
          r"|(?:the\s+)?(?:correct|right)(?:\s+(?:option|choice|letter|response))?"
          r"|solution|explanation|rationale")
_SEP = r"[ \t*_]*(?:[:=]|[-\u2013\u2014](?!\w)|\s(?:is|was)\b"  # + the bare-letter form:
_LINE_SEP = _SEP + r"|\s+\(?[A-J]\)?[ \t.*_]*$)"
_SUFFIX_SEP = _SEP + r"|\s+\(?[A-J]\)?(?=[ \t.*_)\]]*$))"
_LINE_RE = re.compile(
    r"^[ \t>*_#\u2022-]*(?:(?:so|thus|hence|therefore),?[ \t]+)?(?:"
    rf"(?:{_LABEL}){_LINE_SEP}"
    r"|(?:answer\s+)?key[ \t*_]*(?:[:=\-\u2013\u2014]|\sis\b)?[ \t*_]*(?:(?:option|choice)\s+)?"
    r"\(?[A-J]\)?[ \t.*_]*$"
    r"|(?:(?:option|choice)\s+)?\(?[A-J]\)?\s+(?:is|was)\s+(?:the\s+)?(?:correct|right|answer)\b"
    r"|[\u2713\u2714\u2611\u2705]"
    r")[^\n]*$", re.IGNORECASE | re.MULTILINE)
_SUFFIX_RE = re.compile(
    rf"\b(?:(?:{_LABEL}){_SUFFIX_SEP}|(?:answer\s+)?key[ \t*_]*[:=\-\u2013\u2014])", re.IGNORECASE)
_SUFFIX_AFTER = ".?!;:,)]}([{|*_-\u2013\u2014>"
_KEYWORD = r"(?:this\s+is\s+)?(?:the\s+)?(?:correct|right|incorrect|wrong|answer|key)"
_MARK_RE = re.compile(
    r"(?:[(\[][ \t]*" + _KEYWORD + r"(?:[ \t]+(?:answer|option|choice))?[ \t]*[)\]]"
    r"|[\u2713\u2714\u2611\u2705\u2717\u2718\u274c]"
    r"|(?:<-+|\u2190|<=+)[ \t]*" + _KEYWORD + r"\w*(?:[ \t]+answer)?"
    r"|(?<![*\w])\*+[ \t]*(?:correct|right)(?:[ \t]+answer)?[ \t]*\*+"
    r"|(?<=\s)[-\u2013\u2014][ \t]*(?:correct|right)(?:[ \t]+answer)?"
    r"|(?<!\S)[(\[]?[ \t*_]*(?:" + _LABEL + r"|key)[ \t*_]*(?:[:=\-\u2013\u2014]|\sis\b)[ \t*_]*"
    r"(?:(?:option|choice)\s+)?" + _LETTER +
    r")[ \t.!*_)\]]*$", re.IGNORECASE)


def strip_answer_lines(text: str) -> str:
  """`text` without its answer lines (rule 2), blank-line runs collapsed."""
  text = _LINE_RE.sub("", text)
  return re.sub(r"\n{3,}", "\n\n", text).strip()


def strip_answer_suffix(line: str) -> str:
  """`line` cut before an answer label that starts a suffix (rule 3)."""
  for m in _SUFFIX_RE.finditer(line):
    j = m.start()
    while j > 0 and line[j - 1] in " \t":  # no slicing per match: linear in the line
      j -= 1
    if j == 0 or line[j - 1] in _SUFFIX_AFTER:
      return line[:j].rstrip(" \t([{|*_-\u2013\u2014")
  return line


def strip_option_marks(option: str) -> str:
  """An option's text without a trailing correctness mark or answer statement (rule 3)."""
  for _ in range(3):  # "2 ✓ (correct)": marks may stack
    start = max(0, len(option) - _TAIL_CHARS)
    m = _MARK_RE.search(option, start)
    if not m:
      break
    option = option[:m.start()].rstrip(_CUT_EDGE)
  cut = strip_answer_suffix(option)
  return (cut.rstrip(_CUT_EDGE) if cut != option else cut).strip(" ;,")


def redact(text: str) -> str:
  """Rules 2 and 3 over every line of a question."""
  text = strip_answer_lines(text)
  return "\n".join(strip_answer_suffix(line) for line in text.split("\n")).strip()


_DROP = str.maketrans("", "", "$*_{}`")


def _flat(text: str) -> str:
  """Whitespace-collapsed text without `$`, markup and \\boxed / \\text wrappers."""
  t = unicodedata.normalize("NFKC", text)
  t = re.sub(r"\\(?:boxed|text|textbf|mathrm)\s*\{", "", t)
  t = t.translate(_DROP)
  return " ".join(t.split())


_STATE_LABEL = (r"(?i:(?:(?:final|correct|right|best) )?answer(?: key)?|key|solution"
                r"|(?:correct|right) (?:option|choice|letter|response)|correct)")
_STATE_SEP = r" ?(?:[:=\-\u2013\u2014]|(?i:is|was)\b)"


def states_answer(question: str, golds: Iterable[str], key: str | None = None, *,
                  key_is_right: bool = True) -> bool:
  """Whether `question` still states one of `golds` (case-insensitive) after an answer label,
  or (MCQ) names the option letter `key` (case-sensitive, after a label and a separator) or,
  with `key_is_right`, says that option is right (`B is correct`; rule 4)."""
  q = _flat(question)
  for g in golds:
    g = _flat(str(g))
    if g and re.search(rf"\b{_STATE_LABEL}(?:{_STATE_SEP})? ?(?i:(?:option|choice|letter) ?)?"
                       rf"[(\[]? ?(?i:{re.escape(g)})(?!\w|[.,]\d)", q):
      return True
  if key:
    k = re.escape(key)
    if re.search(rf"\b{_STATE_LABEL}{_STATE_SEP} ?(?i:(?:option|choice|letter) ?)?[(\[]? ?"
                 rf"{k}(?!\w)", q):
      return True
    if key_is_right and re.search(
        rf"(?<!\w)[(\[]?{k}[)\]]? (?i:is|was) (?i:the )?(?i:correct|right)\b", q):
      return True
  return False
