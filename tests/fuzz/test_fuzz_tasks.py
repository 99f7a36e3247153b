"""Fuzzing spice_jax.spice.tasks: parse / last_json_object / parse_format_selection on random
and adversarial text (token soups with long runs, malformed and deeply nested JSON, control
characters, lone surrogates, ~1 MB inputs).

Properties: no exception (model text never raises), invariants of every valid Task, the same
verdict twice, a CPU-time bound per call, a tracemalloc peak bound, no code execution, and
round trips (a well-formed task hidden in prose is found exactly).
"""

import json
import re
import sys
import tracemalloc

import pytest
from hypothesis import assume, given, settings, HealthCheck, strategies as st

from spice_jax.spice import answers as A
from spice_jax.spice import redact as R
from spice_jax.spice import tasks as T
from spice_jax.spice import verify as V


def _settings(n):
  return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.filter_too_much])


REASONS = {"ok", "no_json", "no_task", "empty_question", "missing_options", "extra_options",
           "bad_key", "empty_answer", "answer_not_scalar", "bad_answer_type",
           "answer_type_mismatch", "too_many_words", "answer_in_question",
           "emptied_by_redaction"}
PARSES = [("free_form", None), ("mcq", None), ("compact", None), ("compact", "mcq"),
          ("compact", "free_form")]

# ------------------------------------------------------------------------ strategies

# Every code point, including control characters and lone surrogates.
any_char = st.characters(exclude_categories=())
any_text = st.text(any_char, max_size=400)

FRAGMENTS = [
    "{", "}", "[", "]", '"', "\\", ",", ":", " ", "  ", "\n", "\t", "\r", "\x00", "\x0c",
    "\x08", "Question", "question 1", "Question:", "Problem:", "Answer:", "Final answer:",
    "Type:", "Correct", "correct answer", "Correct: B", "(Correct: C)", "A)", "(B)", "C.",
    "D:", "E)", "J)", "a)", "$", "$$", "\\(", "\\)", "\\[", "\\]", "\\frac", "\\boxed{",
    "```json", "```", "\u201c", "\u201d", "null", "true", "false", "...", "<answer>", "n/a",
    '{"question": "', '", "answer": "', '", "answer_type": "', '"}', "Integer", "Expression",
    "String", '{"multiple_choice_question": "', '", "multiple_choice_correct": "',
    '{"suitable_for_mcq": ', ', "suitable_for_free_form": ', "1,024", "-0", "12.0", "1e999",
    "\ud800", "\udfff", "the document", "**", "#", ">", "_", "é", "∑", "\u2028", "\ufeff",
    "{}", "[]", '{"a":', "\\u00", "\\ud800", "Both", "A and C", "x", "7",
    "answer: ", " answer", "Key - ", "(correct)", "\u2713", " is correct", "The answer is ",
    "? Answer: 6", "Solution:", "(Correct: B)", "<- correct", "**correct**", "\u2717",
]
# A fragment repeated 1..3000 times (long runs are what makes regexes backtrack).
run = st.builds(lambda f, n: f * n, st.sampled_from(FRAGMENTS),
                st.one_of(st.integers(1, 3), st.integers(1, 60), st.integers(100, 3000)))
soup = st.lists(st.one_of(run, st.text(any_char, max_size=20)), max_size=12).map("".join)

TASK_KEYS = ["question", "answer", "answer_type", "exam_question", "final_answer",
             "multiple_choice_question", "multiple_choice_correct", "options", "choices",
             "correct_option", "suitable_for_mcq", "suitable_for_free_form", "Question",
             "Answer Type", "answer-type"]
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30),
                        st.floats(allow_nan=True, allow_infinity=True), any_text,
                        st.sampled_from(["Integer", "Expression", "String", "MCQ", "A", "B)",
                                         "(C)", "x^2+1", "\\frac{1}{2}", "1,024", ""]))
json_value = st.recursive(json_scalar, lambda c: st.one_of(
    st.lists(c, max_size=5), st.dictionaries(st.one_of(st.sampled_from(TASK_KEYS), any_text),
                                             c, max_size=5)), max_leaves=20)
json_obj = st.dictionaries(st.one_of(st.sampled_from(TASK_KEYS), any_text), json_value,
                           max_size=8)


@st.composite
def json_texts(draw):
  """A JSON object (often a task) in prose, with the quirks models write: smart quotes,
  unescaped LaTeX backslashes, trailing commas, truncation, several objects."""
  objs = draw(st.lists(json_obj, min_size=1, max_size=3))
  parts = []
  for o in objs:
    s = json.dumps(o, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 2])))
    quirk = draw(st.sampled_from(["none", "smart", "backslash", "comma", "truncate", "fence"]))
    if quirk == "smart":
      s = s.replace('"', "\u201c", 1).replace('"', "\u201d", 1)
    elif quirk == "backslash":
      s = s.replace("\\\\", "\\")
    elif quirk == "comma":
      s = s[:-1] + ",}" if s.endswith("}") else s
    elif quirk == "truncate":
      s = s[:draw(st.integers(0, len(s)))]
    elif quirk == "fence":
      s = "```json\n" + s + "\n```"
    parts += [draw(st.text(any_char, max_size=40)), s]
  return "".join(parts) + draw(st.text(any_char, max_size=40))


@st.composite
def deep_texts(draw):
  """Deeply nested JSON-ish text, closed or not, around a task."""
  depth = draw(st.one_of(st.integers(1, 40), st.integers(500, 1200), st.integers(2000, 12000)))
  opener = draw(st.sampled_from(['{"a":', "[", '{"question":', '{"answer": [', "{", '{"',
                                 '{"answer":{"x":']))
  closer = {"[": "]", '{"answer": [': "]}"}.get(opener, "}")
  core = '{"question": "q?", "answer": 7, "answer_type": "Integer"}'
  tail = closer * draw(st.sampled_from([0, depth // 2, depth]))
  return draw(st.sampled_from(["", "prose "])) + opener * depth + core + tail


def _check_task(t, fmt):
  assert isinstance(t, T.Task)
  assert t.fmt == fmt
  assert t.reason in REASONS
  assert t.valid == (t.reason == "ok")
  assert isinstance(t.question, str) and isinstance(t.answer, str)
  for s in (t.question, t.answer, t.answer_type, *t.options):
    s.encode("utf-8")  # no lone surrogates: prompts, tokenizer and the audit trail need UTF-8
  if not t.valid:
    return
  assert t.question.strip() and t.answer.strip()
  assert t.kind in A.KINDS
  # The Reasoner's question never carries an answer line nor states the answer (SPEC §2.4).
  assert R.strip_answer_lines(t.question) == t.question, t.question
  if t.kind == "mcq":
    assert not R.states_answer(t.question, [t.options["ABCD".index(t.answer)]], t.answer)
  else:
    assert not R.states_answer(t.question, [t.answer])
  if t.kind == "mcq":
    assert t.answer in "ABCD" and len(t.answer) == 1
    assert len(t.options) == 4 and all(o.strip() for o in t.options)
    for k, o in zip("ABCD", t.options):
      assert f"\n{k}) {o}" in t.question
  elif t.kind == "integer":
    assert re.fullmatch(r"-?(?:0|[1-9]\d*)", t.answer) and t.answer != "-0"
  elif t.kind == "expression":
    assert A.looks_like_expression(t.answer)
  else:
    assert 1 <= len(A.normalize_string(t.answer).split()) <= T.MAX_STRING_WORDS


def _all_parsers(timed, text, parses=PARSES):
  for fmt, expect in parses:
    name = f"tasks.parse[{fmt}{'/' + expect if expect else ''}]"
    t1 = timed(name, T.parse, text, fmt, expect=expect)
    _check_task(t1, fmt)
    t2 = T.parse(text, fmt, expect=expect)
    assert t1 == t2 and t1.fields == t2.fields  # deterministic, including the decoded fields
  sel = timed("tasks.parse_format_selection", T.parse_format_selection, text)
  assert sel in ("mcq", "free_form", None)
  assert T.parse_format_selection(text) == sel
  obj = timed("tasks.last_json_object", T.last_json_object, text)
  assert obj is None or isinstance(obj, dict)
  assert T.last_json_object(text) == obj


# ------------------------------------------------------------------------ properties

@_settings(150)
@given(text=any_text)
def test_random_text(timed, text):
  timed.case("tasks/random_text")
  _all_parsers(timed, text)


@_settings(80)
@given(text=soup)
def test_adversarial_soup(timed, text):
  timed.case("tasks/adversarial_soup")
  _all_parsers(timed, text)


@_settings(100)
@given(text=json_texts())
def test_malformed_json(timed, text):
  timed.case("tasks/malformed_json")
  _all_parsers(timed, text)


@_settings(12)
@given(text=deep_texts())
def test_deep_nesting(timed, text):
  timed.case("tasks/deep_nesting")
  _all_parsers(timed, text, parses=[("free_form", None), ("compact", None)])


def _deep_call(depth, fn, *args):
  return fn(*args) if depth == 0 else _deep_call(depth - 1, fn, *args)


@pytest.mark.parametrize("depth", [30, 600, 900, 990, 1100])
def test_deep_json_same_verdict_at_any_stack_depth(depth):
  """Regression: JSON nested ~700-990 deep used to decode, then overflow the stack in the
  LaTeX fix-up (RecursionError out of `parse`); whether it decoded at all depended on the
  caller's stack depth. Objects deeper than MAX_JSON_DEPTH are now skipped."""
  text = '{"question": "q?", "answer": ' + "[" * depth + "1" + "]" * depth + \
         ', "answer_type": "Integer"}'
  shallow = T.parse(text, "free_form")
  deep = _deep_call(sys.getrecursionlimit() // 3, T.parse, text, "free_form")
  assert shallow == deep
  if depth < T.MAX_JSON_DEPTH:
    assert shallow.reason == "answer_not_scalar"   # the list was read
  else:
    assert shallow.reason == "no_json"             # too deep: not a task


SAFE = st.text(st.sampled_from("abcdefghij klmnopqrstuvwxyz0123456789,;?+-="), min_size=1,
               max_size=60).map(lambda s: " ".join(s.split())).filter(
                   lambda s: any(c.isalpha() for c in s))
OPTION = SAFE.map(lambda s: s.strip(" ;,")).filter(
    lambda s: any(c.isalpha() for c in s) and not T._PLACEHOLDER_RE.match(s))
PROSE = st.text(st.characters(exclude_characters="{}\"\u201c\u201d\\", exclude_categories=("Cs",)),
                max_size=200)


def _plain_question(q, answers=()):
  return (not T._PLACEHOLDER_RE.match(q) and not T._QUESTION_PREFIX_RE.match(q)
          and R.redact(q) == q and not R.states_answer(q, answers))


@_settings(150)
@given(q=SAFE, n=st.integers(-10**12, 10**12), pre=PROSE, post=PROSE,
       indent=st.sampled_from([None, 1, 4]))
def test_round_trip_free_form(timed, q, n, pre, post, indent):
  timed.case("tasks/round_trip_free_form")
  assume(_plain_question(q, [str(n), f"{n:,}"]))
  obj = {"question": q, "answer": n if n % 2 else f"{n:,}", "answer_type": "Integer"}
  text = pre + "\n```json\n" + json.dumps(obj, indent=indent) + "\n```\n" + post
  t = timed("tasks.parse[free_form]", T.parse, text, "free_form")
  assert (t.valid, t.kind, t.answer, t.question) == (True, "integer", str(n), q)
  c = T.parse(f"{pre}\nQuestion: {q}\nAnswer: {n}\n", "compact", expect="free_form")
  if not T._LINE_KEY_RE.search(pre + "\n"):  # the prose may itself hold Q/A lines
    assert (c.valid, c.kind, c.answer, c.question) == (True, "integer", str(n), q)


@_settings(150)
@given(stem=SAFE, opts=st.lists(OPTION, min_size=4, max_size=4), key=st.sampled_from("ABCD"),
       pre=PROSE, layout=st.sampled_from(["lines", "inline", "list", "dict"]))
def test_round_trip_mcq(timed, stem, opts, key, pre, layout):
  timed.case("tasks/round_trip_mcq")
  assume(_plain_question(stem, [opts["ABCD".index(key)]]))
  assume(all(R.strip_option_marks(o) == o for o in opts))
  obj = {"multiple_choice_correct": key}
  if layout == "lines":
    obj["multiple_choice_question"] = stem + "\n" + "\n".join(
        f"{k}) {o}" for k, o in zip("ABCD", opts)) + f"\nCorrect: {key}"
  elif layout == "inline":
    obj["multiple_choice_question"] = stem + " " + " ".join(f"{k}) {o}" for k, o in zip("ABCD", opts))
  else:
    obj["multiple_choice_question"] = stem
    obj["options"] = opts if layout == "list" else dict(zip("ABCD", opts))
  t = timed("tasks.parse[mcq]", T.parse, pre + json.dumps(obj), "mcq")
  assert (t.valid, t.answer, t.options) == (True, key, tuple(opts))
  assert t.question.startswith(stem) and "Correct" not in t.question


@_settings(150)
@given(objs=st.lists(st.dictionaries(
    st.text(st.sampled_from("abcdefgh_"), min_size=1, max_size=8),
    st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), SAFE),
                 lambda c: st.one_of(st.lists(c, max_size=3),
                                     st.dictionaries(SAFE, c, max_size=3)), max_leaves=8),
    min_size=1, max_size=5), min_size=1, max_size=3), sep=PROSE)
def test_last_json_object_finds_the_last_object(timed, objs, sep):
  timed.case("tasks/last_json_object_round_trip")
  text = sep.join(json.dumps(o) for o in objs) + sep
  got = timed("tasks.last_json_object", T.last_json_object, text)
  assert got == objs[-1]  # keys are already normalised (lower case, no spaces or dashes)


@_settings(100)
@given(mcq=st.one_of(st.booleans(), st.sampled_from(["yes", "no", "true", "False", 1, 0, None])),
       ff=st.one_of(st.booleans(), st.sampled_from(["yes", "no", "TRUE", "n", 2, None, []])),
       pre=PROSE)
def test_format_selection_round_trip(timed, mcq, ff, pre):
  timed.case("tasks/format_selection_round_trip")
  text = pre + json.dumps({"suitable_for_mcq": mcq, "suitable_for_free_form": ff,
                           "best_answer_type": None, "reason": "r"})
  b = lambda v: T._bool(v)
  want = None if b(mcq) is None or b(ff) is None or b(mcq) == b(ff) else (
      "mcq" if b(mcq) else "free_form")
  assert timed("tasks.parse_format_selection", T.parse_format_selection, text) == want


# -------------------------------------------------------- huge inputs: time and memory

MB = 1_000_000


def _huge_inputs(n):
  return {
      "open_braces": "{" * n,
      "open_json_keys": '{"' * (n // 2),
      "nested_objects": '{"a":' * (n // 10) + "1" + "}" * (n // 10),
      "nested_lists": '{"answer":' + "[" * (n // 4) + "]" * (n // 4) + "}",
      "many_tasks": '{"question":"q","answer":"1","answer_type":"Integer"}' * (n // 56),
      "backslashes": '{"question": "' + "\\" * n + '"}',
      "question_spaces": json.dumps({"question": "Question" + " " * n + "x", "answer": 1,
                                     "answer_type": "Integer"}),
      "option_spaces": json.dumps({"multiple_choice_question": "Q?", "multiple_choice_correct":
                                   "A", "options": ["a" + " " * n + "b", "c", "d", "e"]}),
      "answer_dollars": json.dumps({"question": "Q?", "answer": "$" * n + "x",
                                    "answer_type": "Expression"}),
      "compact_spaces": "Question" + " " * n + "x\nAnswer: 3",
      "option_markers": "A) B) C) D) " * (n // 12),
      "option_lines": "\nA) x\nB) y" * (n // 10),
      "qa_lines": "Question: x\nAnswer: y\n" * (n // 22),
      "control_chars": "".join(chr(i % 32) for i in range(n)),
      "surrogates": '\ud800{"a": "\udfff"}' * (n // 12),
      "smart_quotes": '{\u201cquestion\u201d: \u201c' * (n // 15),
      "trailing_commas": '{"a": [1' + "," * n + "]}",
      "answer_lines": "Correct" + " " * n + "x\n" + "Correct answer: B\n" * 1000,
      # the answer-key rule (spice.redact): labels, statements and marks by the thousand
      "label_line": json.dumps({"question": "x answer: " * (n // 10) + "?", "answer": 6,
                                "answer_type": "Integer"}),
      "label_spaces": json.dumps({"question": "Q? answer" + " " * n + ": 6", "answer": 6,
                                  "answer_type": "Integer"}),
      "statements": json.dumps({"question": "the answer is 7 " * (n // 16), "answer": 7,
                                "answer_type": "Integer"}),
      "option_labels": json.dumps({"multiple_choice_question": "Q?\nA) " + "x answer " * (n // 9)
                                   + "\nB) y\nC) z\nD) w", "multiple_choice_correct": "A"}),
      "option_marks": json.dumps({"multiple_choice_question": "Q?\nA) a\nB) b\nC) c\nD) "
                                  + "(correct) \u2713 " * (n // 12), "multiple_choice_correct": "A"}),
      "mark_spaces": "Question: Q?\nA) a" + " " * n + "(correct)\nB) b\nC) c\nD) d\nAnswer: A",
  }


HUGE = _huge_inputs(MB)


@pytest.mark.parametrize("name", sorted(HUGE))
def test_huge_inputs_bounded_time(timed, name):
  timed.case("tasks/huge_inputs")
  _all_parsers(timed, HUGE[name])


MEM = _huge_inputs(150_000)


@pytest.mark.parametrize("name", sorted(MEM))
def test_huge_inputs_bounded_memory(name):
  text = MEM[name]
  for fn, args in [(T.parse, ("free_form",)), (T.parse, ("mcq",)), (T.parse, ("compact",)),
                   (T.last_json_object, ())]:
    tracemalloc.start()
    try:
      fn(text, *args)
      peak = tracemalloc.get_traced_memory()[1]
    finally:
      tracemalloc.stop()
    # Work is on the last MAX_TEXT_CHARS (64k) characters: the peak does not grow with input.
    assert peak < 32 * 2**20, f"{fn.__name__}{args} on {name}: peak {peak / 2**20:.1f} MiB"


# --------------------------------------------------------------- no code execution

def test_no_code_execution(tmp_path, timed):
  sentinel = tmp_path / "SENTINEL"
  payloads = [f"__import__('os').system('touch {sentinel}')",
              f"exec(\"open('{sentinel}', 'w')\")",
              f"eval(compile(\"open('{sentinel}','w')\", 'x', 'exec'))",
              f"{{{{ cycler.__init__.__globals__.os.system('touch {sentinel}') }}}}"]
  texts = []
  for p in payloads:
    texts += [json.dumps({"question": p, "answer": p, "answer_type": t})
              for t in ("Integer", "Expression", "String")]
    texts += [json.dumps({"multiple_choice_question": p + "\nA) a\nB) b\nC) c\nD) d",
                          "multiple_choice_correct": p}),
              f"Question: {p}\nAnswer: {p}\nType: Expression", "\\boxed{" + p + "}"]
  for text in texts:
    for fmt, expect in PARSES:
      timed("tasks.parse", T.parse, text, fmt, expect=expect)
  # parse_batch sends Expression golds to math-verify in the worker pool
  with V.VerifierPool(1, timeout=5.0) as pool:
    tasks = T.parse_batch(texts, "free_form", pool=pool)
  assert len(tasks) == len(texts)
  assert not sentinel.exists()


# A grammar of answer leaks: label x separator x key form x placement (SPEC §2.4).
LABELS = ["answer", "Answer", "correct answer", "The correct option", "Key", "Solution",
          "Final answer", "Right answer", "correct", "The answer", "ANSWER KEY", "Correct choice"]
SEPS = [":", " -", " =", " is", " \u2014", ":**", " is option", ": option"]
KEY_FORMS = ["{k}", "({k})", "{k})", "**{k}**", "{k}.", "[{k}]", "$\\text{{{k}}}$"]
PLACES = ["after", "before", "after_d", "key_option"]


@_settings(300)
@given(stem=SAFE, opts=st.lists(OPTION.filter(lambda o: o[-1].isalnum()), min_size=4,
                                max_size=4, unique=True),
       key=st.sampled_from("ABCD"), label=st.sampled_from(LABELS), sep=st.sampled_from(SEPS),
       form=st.sampled_from(KEY_FORMS), place=st.sampled_from(PLACES),
       paren=st.booleans(), fmt=st.sampled_from(["mcq", "compact"]))
def test_key_leaks_never_reach_the_reasoner(timed, stem, opts, key, label, sep, form, place,
                                            paren, fmt):
  """Whatever the phrasing, the question is exactly stem + options, or the task is rejected
  with answer_in_question; never a valid task whose question names the key. (Options end in
  a letter or digit: a separator right before a cut statement is dropped with it.)"""
  timed.case("tasks/key_leaks")
  stem = stem.rstrip(" ;,") + "?"
  assume(_plain_question(stem, [opts["ABCD".index(key)]]))
  assume(all(R.strip_option_marks(o) == o for o in opts))
  leak = f"{label}{sep} {form.format(k=key)}"
  if paren:
    leak = f"({leak})"
  lines = [f"{k}) {o}" for k, o in zip("ABCD", opts)]
  if place == "after":
    body = "\n".join([stem, *lines, leak])
  elif place == "before":
    body = "\n".join([stem, leak, *lines])
  else:
    i = 3 if place == "after_d" else "ABCD".index(key)
    lines[i] += " " + leak
    body = "\n".join([stem, *lines])
  if fmt == "mcq":
    text = json.dumps({"multiple_choice_question": body, "multiple_choice_correct": key})
    t = timed("tasks.parse[mcq]", T.parse, text, "mcq")
  else:
    t = timed("tasks.parse[compact/mcq]", T.parse, f"Question: {body}\nAnswer: {key}",
              "compact", expect="mcq")
  clean = stem + "\n\n" + "\n".join(f"{k}) {o}" for k, o in zip("ABCD", opts))
  if t.valid:
    assert t.question == clean and t.answer == key, (body, t)
  elif fmt == "mcq":
    assert t.reason == "answer_in_question", (body, t)
  # (compact: an "Answer:" leak line is the format's own answer field, so the task may also
  # come out malformed, e.g. missing_options; it never reaches the Reasoner either way)


REDACT_HUGE = {
    "label_line": "x answer: " * (MB // 10) + "?",
    "label_spaces": "Q? answer" + " " * MB + ": 6",
    "statements": "the answer is 7 " * (MB // 16),
    "lines": "Correct answer: B\nx\n" * (MB // 20),
    "marks": "(correct) \u2713 " * (MB // 12),
    "mark_spaces": "a" + " " * MB + "(correct)",
    "stars": "*" * MB + "correct",
    "dashes": "- " * (MB // 2) + "correct",
    "brackets": "(" * MB,
}


@pytest.mark.parametrize("name", sorted(REDACT_HUGE))
def test_redact_bounded_time(timed, name):
  """The answer-key rule is linear on ~1 MB inputs (the parsers only pass 64k chars)."""
  timed.case("tasks/redact_huge")
  text = REDACT_HUGE[name]
  timed("redact.redact", R.redact, text)
  timed("redact.strip_option_marks", R.strip_option_marks, text)
  timed("redact.states_answer", R.states_answer, text, ["7", "x"], "B")


@_settings(200)
@given(q=SAFE, n=st.integers(-10**6, 10**6), label=st.sampled_from(LABELS),
       sep=st.sampled_from([":", " -", " =", " is", " \u2014", ":**"]),
       form=st.sampled_from(["{n}", "${n}$", "\\boxed{{{n}}}", "**{n}**", "{n}."]),
       place=st.sampled_from(["suffix", "line", "paren"]), fmt=st.sampled_from(["free_form",
                                                                              "compact"]))
def test_gold_leaks_never_reach_the_reasoner(timed, q, n, label, sep, form, place, fmt):
  """Free-form: the question is exactly the clean question, or answer_in_question."""
  timed.case("tasks/gold_leaks")
  q = q.rstrip(" ;,") + "?"
  assume(_plain_question(q, [str(n)]))
  leak = f"{label}{sep} {form.format(n=n)}"
  body = {"suffix": f"{q} {leak}", "line": f"{q}\n{leak}", "paren": f"{q} ({leak})"}[place]
  text = json.dumps({"question": body, "answer": n, "answer_type": "Integer"})
  t = timed(f"tasks.parse[{fmt}]", T.parse, text, fmt)
  if t.valid:
    assert t.question == q and t.answer == str(n), (body, t)
  else:
    assert t.reason == "answer_in_question", (body, t)
