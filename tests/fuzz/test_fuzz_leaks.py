"""No answer reaches the Reasoner (SPEC §10; issue 23 item 3), checked on the real contract:
the Reasoner prompt that `spice.prompts` builds from the parsed task.

Generated phrasings (hypothesis) of an answer statement — the issue's list and phrasings it
does not name: labels (`Ans`, `Result`, `Final answer`, `Solution:`, `Key:`, `Answer
choice`, ...), separators (`:`, fullwidth `：`, `=`, `->`, `→`, `⇒`, `is`), key forms (`B`,
`(B)`, `**B**`, `\\boxed{B}`, ...), markdown wrappers, case, and placements (a line between
stem and options, a line after the options, a suffix on option D's line or on the key
option's line, after the stem's `?`), plus key marks (a bolded key option, a trailing `(B)` or
`-> B`). Property: the task is invalid (never shown), or its Reasoner prompt is exactly the
prompt of the clean question written out here by hand. Legitimate questions that mention the
numbers they need stay valid and unchanged. Questions that copy a world document's result
statement are invalid (`result_in_question`); those that restate only its premise are valid.
"""

import json

from hypothesis import assume, given, settings, HealthCheck, strategies as st

from spice_jax.data import world
from spice_jax.spice import prompts as P
from spice_jax.spice import redact as R
from spice_jax.spice import tasks as T


def _settings(n):
  return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def prompt(question: str, kind: str) -> str:
  """The Reasoner prompt as the self-play loop builds it (plain layout: no tokenizer)."""
  return P.render_text(P.reasoner_messages(question, kind), "plain")


WORDS = ["apples", "train", "speed", "many", "total", "boxes", "river", "price", "angle",
         "sum", "cost", "value", "number", "of", "the", "a", "in", "each", "and", "more"]
STEM_START = ["How many", "What is", "Which", "Find", "Compute", "How far"]
stems = st.builds(lambda s, ws, n: f"{s} {' '.join(ws)} {n}?".replace("  ", " "),
                  st.sampled_from(STEM_START), st.lists(st.sampled_from(WORDS), max_size=6),
                  st.integers(0, 999))
option_texts = st.lists(st.integers(0, 10**4).map(str) | st.lists(
    st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join), min_size=4, max_size=4,
    unique=True)

LABELS = ["Answer", "answer", "ANSWER", "Ans", "ans.", "Result", "Final Answer", "final answer",
          "Solution", "Key", "Answer key", "Answer choice", "Correct answer", "Correct option",
          "Correct response", "Right answer", "Best answer", "The answer", "Answer letter"]
SEPS = [":", " :", "\uff1a", " =", " ->", " \u2192", " =>", " \u21d2", " -", " \u2014",
        " is", ":**"]
KEY_FORMS = ["{k}", "({k})", "{k})", "**{k}**", "[{k}]", "`{k}`", "\\boxed{{{k}}}",
             "$\\text{{{k}}}$", "{k}."]
WRAPS = ["{}", "**{}**", "> {}", "- {}", "### {}", "_{}_", "({})"]
CASES = [str, str.upper, str.lower]
MCQ_PLACES = ["between", "after", "d_line", "key_line", "stem_line"]


def _mcq_text(body: str, key: str, fmt: str) -> str:
  if fmt == "mcq":
    return json.dumps({"multiple_choice_question": body, "multiple_choice_correct": key})
  return f"Question: {body}\nAnswer: {key}"


def _parse(text: str, fmt: str) -> T.Task:
  return T.parse(text, fmt, expect="mcq" if fmt == "compact" else None)


@_settings(400)
@given(stem=stems, opts=option_texts, key=st.sampled_from("ABCD"),
       label=st.sampled_from(LABELS), sep=st.sampled_from(SEPS),
       form=st.sampled_from(KEY_FORMS), wrap=st.sampled_from(WRAPS),
       case=st.sampled_from(CASES), place=st.sampled_from(MCQ_PLACES),
       fmt=st.sampled_from(["mcq", "compact"]))
def test_mcq_key_statements_never_reach_the_reasoner(stem, opts, key, label, sep, form, wrap,
                                                     case, place, fmt):
  statement = wrap.format(case(f"{label}{sep} ") + form.format(k=key))
  lines = [f"{k}) {o}" for k, o in zip("ABCD", opts)]
  if place == "between":
    body = "\n".join([stem, statement, *lines])
  elif place == "after":
    body = "\n".join([stem, *lines, statement])
  elif place == "stem_line":
    body = "\n".join([f"{stem} {statement}", *lines])
  else:
    i = 3 if place == "d_line" else "ABCD".index(key)
    lines[i] += " " + statement
    body = "\n".join([stem, *lines])
  t = _parse(_mcq_text(body, key, fmt), fmt)
  clean = stem + "\n\n" + "\n".join(f"{k}) {o}" for k, o in zip("ABCD", opts))
  if t.valid:
    assert prompt(t.question, "mcq") == prompt(clean, "mcq"), (body, t.question)
    assert t.answer == key


MARKS = ["**{k}) {o}**", "{k}) **{o}**", "__{k}) {o}__", "{k}) *{o}*", "{k}) {o} (correct)",
         "{k}) {o} \u2713", "{k}) {o} \u2605", "{k}) {o} <-", "{k}) {o} \u2190"]
TAILS = ["({k})", "-> {k}", "\u2192 {k}", "=> {k}", "\u21d2 {k}", "[{k}]", "\u2192 ({k})",
         "--> **{k}**"]


@_settings(300)
@given(stem=stems, opts=option_texts, key=st.sampled_from("ABCD"),
       mark=st.sampled_from(MARKS), tail=st.sampled_from(TAILS),
       where=st.sampled_from(["mark", "d_line", "own_line"]),
       fmt=st.sampled_from(["mcq", "compact"]))
def test_mcq_key_marks_never_reach_the_reasoner(stem, opts, key, mark, tail, where, fmt):
  """A bolded / marked key option, or a bare `(B)` / `-> B` after the last option."""
  lines = [f"{k}) {o}" for k, o in zip("ABCD", opts)]
  i = "ABCD".index(key)
  if where == "mark":
    lines[i] = mark.format(k=key, o=opts[i])
  elif where == "d_line":
    lines[3] += " " + tail.format(k=key)
  else:
    lines.append(tail.format(k=key))
  body = "\n".join([stem, *lines])
  t = _parse(_mcq_text(body, key, fmt), fmt)
  clean = stem + "\n\n" + "\n".join(f"{k}) {o}" for k, o in zip("ABCD", opts))
  if t.valid:
    assert prompt(t.question, "mcq") == prompt(clean, "mcq"), (body, t.question)


GOLD_FORMS = ["{n}", "${n}$", "\\boxed{{{n}}}", "**{n}**", "{n}.", "`{n}`", "{n} units"]
FF_PLACES = ["suffix", "line", "paren", "bare_after", "boxed", "arrow_after"]


@_settings(400)
@given(stem=stems, n=st.integers(-10**6, 10**6), label=st.sampled_from(LABELS),
       sep=st.sampled_from(SEPS), form=st.sampled_from(GOLD_FORMS),
       wrap=st.sampled_from(WRAPS), case=st.sampled_from(CASES),
       place=st.sampled_from(FF_PLACES), fmt=st.sampled_from(["free_form", "compact"]))
def test_free_form_gold_never_reaches_the_reasoner(stem, n, label, sep, form, wrap, case, place,
                                                   fmt):
  assume(str(abs(n)) not in R.words(stem))
  value = form.format(n=n)
  statement = wrap.format(case(f"{label}{sep} ") + value)
  body = {"suffix": f"{stem} {statement}", "line": f"{stem}\n{statement}",
          "paren": f"{stem} ({statement})", "bare_after": f"{stem} {value}",
          "boxed": f"{stem} \\boxed{{{n}}}", "arrow_after": f"{stem} \u2192 {n}"}[place]
  if fmt == "free_form":
    text = json.dumps({"question": body, "answer": n, "answer_type": "Integer"})
  else:
    text = f"Question: {body}\nAnswer: {n}\nType: Integer"
  t = T.parse(text, fmt)
  if t.valid:
    assert prompt(t.question, "integer") == prompt(stem, "integer"), (body, t.question)
    assert t.answer == str(n)


@_settings(300)
@given(stem=stems, n=st.integers(0, 10**6), fmt=st.sampled_from(["free_form", "compact"]))
def test_legitimate_questions_with_their_numbers_stay_valid(stem, n, fmt):
  """A question that states the quantities it needs (none equal to the gold, nothing after
  its `?`) is valid and reaches the Reasoner unchanged."""
  assume(str(n) not in R.words(stem))
  if fmt == "free_form":
    text = json.dumps({"question": stem, "answer": n, "answer_type": "Integer"})
  else:
    text = f"Question: {stem}\nAnswer: {n}\nType: Integer"
  t = T.parse(text, fmt)
  assert t.valid and t.question == stem, t


@_settings(200)
@given(premise=st.lists(st.sampled_from(WORDS), min_size=2, max_size=8).map(" ".join),
       label=st.sampled_from(LABELS), sep=st.sampled_from([" =", ":", " is", " ->"]),
       rest=st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(" ".join),
       n=st.integers(0, 999))
def test_a_question_emptied_by_redaction_is_invalid(premise, label, sep, rest, n):
  """`There are 4 balls. Answer = number of ways...`: what redaction leaves must still ask
  something, or the task is invalid; never a valid task without a question."""
  body = f"There are {premise}. {label}{sep} {rest}."
  t = T.parse(json.dumps({"question": body, "answer": n, "answer_type": "Integer"}),
              "free_form")
  if t.valid:
    assert R.asks(t.question), t
  if t.question != body:  # something was cut: the premise alone asks nothing
    assert not t.valid and t.reason == "emptied_by_redaction", t


WORLD = world.generate("spice", 300, seed=7)


@_settings(200)
@given(i=st.integers(0, len(WORLD) - 1), hard=st.booleans(),
       how=st.sampled_from(["document", "statement", "premise"]))
def test_copying_the_documents_result_is_invalid(i, hard, how):
  """World documents state their results (`..., so Dev has 14 cards in all.`): a question that
  copies that statement or the whole document is `result_in_question`; a question that
  restates the premise and asks is valid (the generator's own questions)."""
  doc = WORLD[i]
  res = doc.results()[int(hard)]
  ask = res.question[len(doc.premise):].strip()
  q = {"document": f"{doc.text} {ask}", "statement": f"{ask} Note: {doc.text[len(doc.premise):]}",
       "premise": res.question}[how]
  t = T.parse(json.dumps({"question": q, "answer": res.value, "answer_type": "Integer"}),
              "free_form")
  t = T.leaks_document(t, doc.text)
  if how == "premise":
    assert t.valid, (q, t)
  else:
    assert not t.valid and t.reason in ("result_in_question", "answer_in_question"), (q, t)
    assert prompt(q, "integer")  # (the prompt it would have had, for the record)
