"""What the Reasoner must not see: the answer key and the gold answer (SPEC §2.4).

The rule, applied by `spice.tasks` to every question before it becomes `Task.question`:

1. An MCQ option ends at its line (`split_options` in tasks): text on the lines after an
   option, including everything after option D, is not part of any option and is dropped.
2. Answer lines are removed (`strip_answer_lines`): a line that starts, after markup and an
   optional `so` / `thus` / `hence` / `therefore`, with an answer label followed by `:`
   (or fullwidth `：`), `=`, an arrow (`->`, `=>`, `→`, `⇒`, ...), a dash, `is` / `was`, or
   a bare option letter. Labels: `answer`, `final answer`, `correct answer`, `answer key` /
   `choice` / `option` / `letter`, `ans`, `result`, `correct`, `correct option` / `choice` /
   `letter`, `right answer` / `option`, `solution`, `explanation`, `rationale` (each
   optionally after `the`); and `key` when what follows is an option letter. A line that
   says an option is right (`B is correct`, `Option (B) is the answer`, `✓ B`), a line that
   is a bare option letter (`(B)`, `-> B`, `**B**`), and a line holding `\\boxed{` are
   removed too.
3. Answer suffixes are cut (`strip_answer_suffix`): from such a label (with its separator)
   to the end of its line when the label starts the line or follows sentence punctuation, a
   bracket, markup or a dash (`...? Answer: 6`, `... (Correct: B)`, `... | Key - B`). On an
   option line (`strip_option_marks`) also a trailing `Answer: B` after any word, and a
   correctness mark: `(correct)`, `[right answer]`, `(this is correct)`, `✓`, `✔`, `☑`,
   `✅`, `<- correct`, `- correct`, `**correct**`, a bare `<-` / `←` or star, an arrow to a
   letter (`-> B`, `Answer → (B)`), and their negations (`(wrong)`, `✗`), which reveal the key
   by elimination; emphasis (`**23**`, `__23__`: a bolded key option stands out) and a
   trailing bracketed letter (`27 (B)`; kept when the option names another bracketed letter,
   `Both (A) and (B)`). In any line, a `\\boxed{` (with a label before it) and an arrow or
   `=` right after a `?` cut the rest of the line. Punctuation or a separator (`.`, `;`, `,`,
   `|`, a dash, `>`, `#`, an opening bracket) right before a cut is dropped with it.
4. What survives is checked (`states_answer`): a question that still states a gold form (the
   gold answer; for MCQ the key letter or the key option's text) right after an answer
   label (`the answer is 6`, `correct option: B`), or whose MCQ stem says the key option is
   right (`B is correct`), is rejected by tasks with reason `answer_in_question`. For MCQ
   the stem and each option are checked apart (a stem `Which is correct:` followed by
   `A) ...` states nothing; an option `Only B is correct` is an option, not a key).

Rules 5 and 6 (the gold after the question, the document's result copied) are below
(`states_after_question`, `copies_result`); `asks` tells tasks whether what redaction left
still asks something (else `emptied_by_redaction`).

All functions are linear in the text: suffix and mark checks look only at a bounded tail
of each line, and the statement check runs on whitespace-collapsed text.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable

# An option letter as models write it: B, (B), **B**, $B$, \text{B}, $\textbf{(B)}$.
_LETTER = (r"[$(\[ \t*_`]{0,6}(?:\\(?:text(?:bf)?|boxed)\{)?[ \t]*\(?[A-J]\)?[ \t]*\}?"
           r"[$)\] \t*_`]{0,6}")
_CUT_EDGE = " \t;,.|-\u2013\u2014([{>#*_"  # left at an option's end by a cut: dropped
_TAIL_CHARS = 240  # option marks and trailing "Answer: B" are looked for in this many chars

_LABEL = (r"(?:the\s+)?(?:(?:final|correct|right|best)\s+)?"
          r"(?:answer(?:\s+(?:key|choice|option|letter))?|ans\b\.?|result)"
          r"|(?:the\s+)?(?:correct|right)(?:\s+(?:option|choice|letter|response))?"
          r"|solution|explanation|rationale")
_ARROW = r"(?:-+>|=+>|[\u2192\u21d2\u27f6\u2794\u279c\u27a1])"  # ->, =>, unicode arrows
_SEP = (r"[ \t*_]*(?:[:=\uff1a]|" + _ARROW + r"|[-\u2013\u2014](?!\w)|\s(?:is|was)\b")
# (+ the bare-letter form:)
_LINE_SEP = _SEP + r"|\s+\(?[A-J]\)?[ \t.*_]*$)"
_SUFFIX_SEP = _SEP + r"|\s+\(?[A-J]\)?(?=[ \t.*_)\]]*$))"
_LINE_RE = re.compile(
    r"^[ \t>*_#\u2022=\u2192\u21d2\u27f6\u2794\u279c\u27a1-]*+"  # possessive: linear
    r"(?:(?:so|thus|hence|therefore),?[ \t]+)?(?:"
    rf"(?:{_LABEL}){_LINE_SEP}"
    r"|[$(\[ \t*_]{0,6}(?:\\(?:text(?:bf)?|boxed)\{)?[ \t]*\(?[A-J]\)?[ \t]*\}?"  # a bare letter
    r"[$)\] \t.*_]{0,6}$"
    r"|(?:answer\s+)?key[ \t*_]*(?:[:=\uff1a\-\u2013\u2014]|\sis\b)?[ \t*_]*(?:(?:option|choice)\s+)?"
    r"\(?[A-J]\)?[ \t.*_]*$"
    r"|(?:(?:option|choice)\s+)?\(?[A-J]\)?\s+(?:is|was)\s+(?:the\s+)?(?:correct|right|answer)\b"
    r"|[\u2713\u2714\u2611\u2705]"
    r"|\\boxed\s*\{"
    r")[^\n]*$", re.IGNORECASE | re.MULTILINE)
_SUFFIX_RE = re.compile(
    rf"(?<![^\W_])(?:(?:{_LABEL}){_SUFFIX_SEP}|(?:answer\s+)?key[ \t*_]*[:=\uff1a\-\u2013\u2014])",
    re.IGNORECASE)
_SUFFIX_AFTER = ".?!;:,)]}([{|*_-\u2013\u2014>#`"
_KEYWORD = r"(?:this\s+is\s+)?(?:the\s+)?(?:correct|right|incorrect|wrong|answer|key)"
_MARK_RE = re.compile(
    r"(?:(?:(?<![^\W_])(?:" + _LABEL + r"|key)[ \t*_]*)?" + _ARROW + r"[ \t]*" + _LETTER +
    r"|(?:<-+|<=+|[\u2190\u21d0])|[\u2605\u2606\u2b50]"
    r"|[(\[][ \t]*" + _KEYWORD + r"(?:[ \t]+(?:answer|option|choice))?[ \t]*[)\]]"
    r"|[\u2713\u2714\u2611\u2705\u2717\u2718\u274c]"
    r"|(?:<-+|\u2190|<=+)[ \t]*" + _KEYWORD + r"\w*(?:[ \t]+answer)?"
    r"|(?<![*\w])\*+[ \t]*(?:correct|right)(?:[ \t]+answer)?[ \t]*\*+"
    r"|(?<=\s)[-\u2013\u2014][ \t]*(?:correct|right)(?:[ \t]+answer)?"
    r"|(?<!\S)[(\[]?[ \t*_]*(?:" + _LABEL + r"|key)[ \t*_]*(?:[:=\uff1a\-\u2013\u2014]|\sis\b)[ \t*_]*"
    r"(?:(?:option|choice)\s+)?" + _LETTER +
    r")[ \t.!*_)\]]*$", re.IGNORECASE)


def strip_answer_lines(text: str) -> str:
  """`text` without its answer lines (rule 2), blank-line runs collapsed."""
  text = _LINE_RE.sub("", text)
  return re.sub(r"\n{3,}", "\n\n", text).strip()


_BOXED_RE = re.compile(
    r"(?:(?<![^\W_])(?:" + _LABEL + r"|key)[^\w\\]{0,6})?\\boxed\s*\{", re.IGNORECASE)
_AFTER_Q_RE = re.compile(r"\?[ \t]*(?:" + _ARROW + r"|=)")
_PAREN_LETTER_RE = re.compile(r"[ \t]+[(\[][ \t]*[A-J][ \t]*[)\]][ \t.]*$")
_EMPHASIS_RE = re.compile(r"\*\*|__")


def strip_answer_suffix(line: str) -> str:
  """`line` cut before an answer label that starts a suffix, a `\\boxed{`, or an arrow / `=`
  right after a question mark (rule 3)."""
  m = _AFTER_Q_RE.search(line)
  if m:
    line = line[:m.start() + 1]
  m = _BOXED_RE.search(line) if "\\boxed" in line else None
  if m:
    line = line[:m.start()].rstrip(" \t([{|*_>#-\u2013\u2014")
  for m in _SUFFIX_RE.finditer(line):
    j = m.start()
    while j > 0 and line[j - 1] in " \t":  # no slicing per match: linear in the line
      j -= 1
    if j == 0 or line[j - 1] in _SUFFIX_AFTER:
      return line[:j].rstrip(" \t([{|*_>#-\u2013\u2014")
  return line


def strip_option_marks(option: str) -> str:
  """An option's text without emphasis (`**23**`: bold marks the key), a trailing correctness
  mark or answer statement, or a trailing bracketed letter (`27 (B)`, unless the option
  names another bracketed letter: `Both (A) and (B)`) (rule 3)."""
  def marks(option):
    for _ in range(3):  # "2 ✓ (correct)": marks may stack
      m = _MARK_RE.search(option, max(0, len(option) - _TAIL_CHARS))
      if not m:
        break
      option = option[:m.start()].rstrip(_CUT_EDGE)
    return option
  option = _EMPHASIS_RE.sub("", marks(option)).strip(" \t*_")
  m = _PAREN_LETTER_RE.search(option, max(0, len(option) - _TAIL_CHARS))
  if m and not re.search(r"[(\[][ \t]*[A-J][ \t]*[)\]]", option[:m.start()]):
    option = option[:m.start()].rstrip(_CUT_EDGE)
  option = marks(option)
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


_STATE_LABEL = (r"(?i:(?:(?:final|correct|right|best) )?"
                r"(?:answer(?: (?:key|choice|option|letter))?|ans\b\.?|result)|key|solution"
                r"|(?:correct|right) (?:option|choice|letter|response)|correct)")
_STATE_SEP = r" ?(?:" + _ARROW + r"|[:=\-\u2013\u2014]|(?i:is|was)\b)"


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


# ------------------------------------------------------------------ the gold in plain sight
# Beyond labelled statements (rules 1-4), a question may carry the gold in two more ways:
# 5. After the question is asked: text after the question's last `?` that contains a gold
#    form (`How many? 14`, `How many? (14 cards)`) states it; nothing after the question is a
#    quantity the question needs (`states_after_question`).
# 6. Copied from the document: a clause of the document that contains a gold form (the
#    document's statement of the result: `..., so Dev has 14 cards in all.`), or the whole
#    document, copied into the question (`copies_result`). Clauses are the document's
#    sentences cut at `,` `;` `:` and before `so` / `thus` / `hence` / `therefore` / `which`
#    (leading connectives dropped); one counts when it has >= `MIN_CLAUSE_WORDS` words and
#    its words (case, markup and punctuation ignored) occur contiguously in the question's
#    words. The clause is the *last* one of the document that contains the gold: results
#    follow the quantities they come from,
#    which a question may restate (`drives 5 km, then 7 km more, then 5 km back ... ends 7 km
#    from the start`, gold 7: only `ends 7 km from the start` is the statement). A copy of an
#    earlier restatement of the result alone is not caught by this rule.
MIN_CLAUSE_WORDS = 3
_WORD_RE = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+")
_CLAUSE_SPLIT_RE = re.compile(r"[.!?;:,\n]+(?=\s|$)|\s(?=(?:so|thus|hence|therefore|which)\b)",
                              re.IGNORECASE)
_NUM_SEP_RE = re.compile(r"(?<=\d),(?=\d{3}\b)")


def words(text: str) -> list[str]:
  """Lower-cased words and numbers of `text` (NFKC; markup, `$`, \\boxed / \\text dropped;
  `1,000` read as `1000`)."""
  return _WORD_RE.findall(_NUM_SEP_RE.sub("", _flat(text).lower()))


def _contains(hay: list[str], needle: list[str]) -> bool:
  if not needle or len(needle) > len(hay):
    return False
  h, n = " " + " ".join(hay) + " ", " " + " ".join(needle) + " "
  return n in h


def _gold_words(golds: Iterable[str]) -> list[list[str]]:
  return [w for w in (words(str(g)) for g in golds) if w]


def states_after_question(question: str, golds: Iterable[str]) -> bool:
  """Rule 5: whether the text after the last `?` of `question` contains a gold form."""
  i = question.rfind("?")
  if i < 0:
    return False
  tail = words(question[i + 1:])
  return any(_contains(tail, g) for g in _gold_words(golds))


_CONNECTIVES = frozenset(("so", "thus", "hence", "therefore", "which", "and", "then"))


def _clause_words(clause: str) -> list[str]:
  """A clause's words without its leading connectives (`so Dev has 14` -> `dev has 14`)."""
  w = words(clause)
  i = 0
  while i < len(w) and w[i] in _CONNECTIVES:
    i += 1
  return w[i:]


def copies_result(question: str, document: str, golds: Iterable[str]) -> bool:
  """Rule 6: whether `question` copies the last clause of `document` that contains a gold
  form (the document's statement of the result)."""
  gw = _gold_words(golds)
  if not gw:
    return False
  q = words(question)
  with_gold = [c for c in map(_clause_words, _CLAUSE_SPLIT_RE.split(document))
               if any(_contains(c, g) for g in gw)]
  # A gold mentioned in several clauses is first a given quantity (`drives 5 km, then 7 km
  # more, ...`), last the stated result (`ends 7 km from the start`): the last one counts.
  return bool(with_gold) and len(with_gold[-1]) >= MIN_CLAUSE_WORDS and _contains(
      q, with_gold[-1])


_ASKS_RE = re.compile(
    r"\?|\b(?:how|what|which|who|whom|whose|when|where|why|find|compute|calculate|determine|"
    r"evaluate|give|name|state|express|solve|simplify|prove|show|list|identify|estimate|"
    r"count|write|select|choose)\b", re.IGNORECASE)


def asks(question: str) -> bool:
  """Whether `question` still asks something: a `?` or an interrogative / imperative word.
  A question whose redaction removed the asking part (`...balls. Answer = number of ways`)
  is invalid (`emptied_by_redaction` in tasks)."""
  return bool(_ASKS_RE.search(question))
