"""Tests for spice_jax.spice.tasks on hand-written, realistic Challenger outputs."""

import dataclasses
import json
import time

import pytest

from spice_jax.spice import tasks as T
from spice_jax.spice import verify as V

# --------------------------------------------------------------------------- MCQ JSON

MCQ_FULL = r'''Step 1: The document gives the speed of light and the 499 s travel time of sunlight.
Step 2: Rather than asking for the distance directly, require a unit conversion.
...
Step 7: d = 3.00e8 m/s * 499 s = 1.497e11 m = 1.50e8 km. Option B.

```json
{
  "identified_answer": "about 1.5 x 10^8 km",
  "answer_quote": ["Sunlight takes about 499 seconds to reach Earth."],
  "hardening_process": "Requires combining c with the travel time and converting units.",
  "exam_question": "Sunlight needs about 499 s to reach Earth. Taking c = 3.00 x 10^8 m/s, how far is Earth from the Sun?",
  "correct_answer": "1.50 x 10^8 km",
  "multiple_choice_question": "Question: Sunlight needs about 499 s to reach Earth. Taking c = 3.00 x 10^8 m/s, the Earth-Sun distance is closest to:\nA) 1.50 x 10^7 km\nB) 1.50 x 10^8 km\nC) 1.50 x 10^9 km\nD) 4.99 x 10^8 km\nCorrect: B",
  "multiple_choice_correct": "B",
  "self_test_solution": "3.00e8 * 499 = 1.497e11 m = 1.497e8 km, so B.",
  "knowledge_and_reasoning_steps": ["speed of light", "d = v t", "m to km"],
  "question_difficulty": "medium: one multiplication and a unit conversion"
}
```'''


def _mcq_json(question, key, **extra):
  import json
  obj = {"identified_answer": "x", "exam_question": "q", "multiple_choice_question": question,
         "multiple_choice_correct": key, **extra}
  return "Reasoning about the document...\n" + json.dumps(obj, indent=2, ensure_ascii=False)


def test_mcq_full_output():
  t = T.parse(MCQ_FULL, "mcq")
  assert t.valid and t.reason == "ok"
  assert (t.kind, t.fmt, t.answer) == ("mcq", "mcq", "B")
  assert t.question == ("Sunlight needs about 499 s to reach Earth. Taking c = 3.00 x 10^8 m/s, "
                        "the Earth-Sun distance is closest to:\n\n"
                        "A) 1.50 x 10^7 km\nB) 1.50 x 10^8 km\nC) 1.50 x 10^9 km\n"
                        "D) 4.99 x 10^8 km")
  assert "Correct" not in t.question
  assert t.options[1] == "1.50 x 10^8 km"
  assert t.fields["question_difficulty"].startswith("medium")
  assert not t.mentions_document


@pytest.mark.parametrize("question,key,reason,answer", [
    # inline options, key in parentheses
    ("Question: Which is prime? A) 21 B) 23 C) 25 D) 27", "(B)", "ok", "B"),
    # (A) style, one per line
    ("Which gas dominates air?\n(A) Oxygen\n(B) Nitrogen\n(C) Argon\n(D) CO2", "B", "ok", "B"),
    # A. style and a key with the option text
    ("Which gas dominates air?\nA. Oxygen\nB. Nitrogen\nC. Argon\nD. CO2", "B. Nitrogen", "ok",
     "B"),
    ("Q?\nA) 1\nB) 2\nC) 3\nD) 4", "c", "ok", "C"),
    ("Q?\nA) 1\nB) 2\nC) 3\nD) 4", "Answer: D", "ok", "D"),
    ("Q?\n**A)** 1\n**B)** 2\n**C)** 3\n**D)** 4", "A", "ok", "A"),
    ("Q?\nA) 1\nB) 2\nC) 3\nD) 4", "E", "bad_key", ""),
    ("Q?\nA) 1\nB) 2\nC) 3\nD) 4", "", "bad_key", ""),
    ("Q?\nA) 1\nB) 2\nC) 3\nD) 4", "B and C", "bad_key", ""),
    ("Q?\nA) 1\nB) 2\nC) 3", "A", "missing_options", ""),
    ("Q?\nA) 1\nB) 2\nC) \nD) 4", "A", "missing_options", ""),
    ("What is 2+2? The answer is four.", "A", "missing_options", ""),
    ("Q?\nA) 1\nB) 2\nC) 3\nD) 4\nE) 5", "A", "extra_options", ""),
    ("", "A", "empty_question", ""),
    ("Question:\nA) 1\nB) 2\nC) 3\nD) 4", "A", "empty_question", ""),
    ("Question: ...", "A", "empty_question", ""),
])
def test_mcq_validity(question, key, reason, answer):
  t = T.parse(_mcq_json(question, key), "mcq")
  assert (t.valid, t.reason, t.answer) == (reason == "ok", reason, answer), t
  assert t.kind == "mcq"


def test_mcq_answer_lines_are_stripped():
  q = ("Question: A 2 kg mass falls 5 m (g = 10 m/s^2). Its kinetic energy at the bottom is:\n"
       "A) 10 J\nB) 50 J\nC) 100 J (Correct: C)\nD) 200 J\nCorrect answer: (C)\n"
       "**Answer:** C")
  t = T.parse(_mcq_json(q, "C"), "mcq")
  assert t.valid and t.answer == "C"
  assert t.options == ("10 J", "50 J", "100 J", "200 J")
  for leak in ("Correct", "Answer", "(C)"):
    assert leak not in t.question


def test_mcq_options_as_separate_field():
  t = T.parse(_mcq_json("Which planet has the shortest year?", "A",
                        options=["A) Mercury", "B) Venus", "C) Earth", "D) Mars"]), "mcq")
  assert t.valid and t.options == ("Mercury", "Venus", "Earth", "Mars")
  t = T.parse(_mcq_json("Which planet has the shortest year?", "A",
                        options={"A": "Mercury", "B": "Venus", "C": "Earth", "D": "Mars"}), "mcq")
  assert t.valid and t.question.endswith("D) Mars")


def test_mcq_mentions_document_is_flagged_not_rejected():
  t = T.parse(_mcq_json("According to the passage, what is X?\nA) 1\nB) 2\nC) 3\nD) 4", "A"),
              "mcq")
  assert t.valid and t.mentions_document


def test_mcq_unescaped_latex_and_template_echo():
  # The model first echoes the schema (valid JSON with the wanted keys), then writes its real
  # object with raw LaTeX backslashes (\frac is a JSON form feed, \sqrt an invalid escape).
  text = (
      'I must answer with {"identified_answer": "...", "multiple_choice_question": "...", '
      '"multiple_choice_correct": "A"}\nNow the real one:\n'
      r'{"identified_answer": "x", "multiple_choice_question": "Question: Evaluate '
      r'\frac{\sqrt{8}}{2} \times \sqrt{2}.\nA) 1\nB) 2\nC) 4\nD) \sqrt{2}", '
      r'"multiple_choice_correct": "B"}')
  t = T.parse(text, "mcq")
  assert t.valid and t.answer == "B", t
  assert t.question.startswith(r"Evaluate \frac{\sqrt{8}}{2} \times \sqrt{2}.")
  assert t.options[3] == r"\sqrt{2}"


def test_mcq_smart_quotes_trailing_comma_and_prose_after():
  text = ('Here is my question.\n{“multiple_choice_question”: “Question: Which is largest?\\n'
          'A) 2^10\\nB) 10^3\\nC) 3^6\\nD) 4^5”, “multiple_choice_correct”: “A”,}\n'
          'I hope this is hard enough! Note that {} is an empty set.')
  t = T.parse(text, "mcq")
  assert t.valid and t.answer == "A" and t.options == ("2^10", "10^3", "3^6", "4^5")


@pytest.mark.parametrize("text", [
    "I could not find anything hard in this document.",
    '{"multiple_choice_question": "Question: Which is prime?\\nA) 21\\nB) 23\\nC)',  # truncated
    "{'multiple_choice_question': 'Q?', 'multiple_choice_correct': 'A'}",  # Python dict
    "",
])
def test_mcq_no_json(text):
  t = T.parse(text, "mcq")
  assert (t.valid, t.reason) == (False, "no_json")


# --------------------------------------------------------------------- free-form JSON

def _ff(question, answer, answer_type, **extra):
  import json
  obj = {"identified_information": "...", "question": question, "answer": answer,
         "answer_type": answer_type, "difficulty_level": "hard", **extra}
  return "Let me work through the steps.\n```json\n" + json.dumps(obj, indent=2) + "\n```\n"


@pytest.mark.parametrize("answer,atype,valid,reason,gold,kind", [
    (42, "Integer", True, "ok", "42", "integer"),
    ("1,024", "Integer", True, "ok", "1024", "integer"),
    ("-7", "integer", True, "ok", "-7", "integer"),
    ("+5", "INTEGER", True, "ok", "5", "integer"),
    ("007", "Integer", True, "ok", "7", "integer"),
    (3.0, "Integer", True, "ok", "3", "integer"),
    ("$12$", "Integer", True, "ok", "12", "integer"),
    ("12.5", "Integer", False, "answer_type_mismatch", "12.5", "integer"),
    ("42 km", "Integer", False, "answer_type_mismatch", "42 km", "integer"),
    ("2 3", "Integer", False, "answer_type_mismatch", "2 3", "integer"),   # not 23
    ("1 024", "Integer", True, "ok", "1024", "integer"),                  # thousands groups
    ("\\frac{9}{2}", "Expression", True, "ok", "\\frac{9}{2}", "expression"),
    ("$x^2+1$", "Expression", True, "ok", "x^2+1", "expression"),
    ("2\\sqrt{2}", "expression", True, "ok", "2\\sqrt{2}", "expression"),
    ("It doubles every single year because growth is exponential", "Expression", False,
     "answer_type_mismatch", None, "expression"),
    ("\\frac{1}{2", "Expression", False, "answer_type_mismatch", None, "expression"),
    ("Mitochondria", "String", True, "ok", "Mitochondria", "string"),
    ("Le Chatelier's principle", "String", True, "ok", "Le Chatelier's principle", "string"),
    ("\\text{Krebs cycle}", "String", True, "ok", "\\text{Krebs cycle}", "string"),
    ("The powerhouse of the cell", "String", False, "too_many_words", None, "string"),
    ("", "Integer", False, "empty_answer", "", ""),
    (None, "String", False, "empty_answer", "", ""),
    ([1, 2], "Integer", False, "answer_not_scalar", "", ""),
    (True, "String", False, "answer_not_scalar", "", ""),
    ({"value": 3}, "Integer", False, "answer_not_scalar", "", ""),
    ("42", "Number", False, "bad_answer_type", "42", ""),
    ("42", "", False, "bad_answer_type", "42", ""),
])
def test_free_form_answers(answer, atype, valid, reason, gold, kind):
  t = T.parse(_ff("A cube has volume 64 cm^3. What is the length of its space diagonal?",
                  answer, atype), "free_form")
  assert (t.valid, t.reason, t.kind) == (valid, reason, kind), t
  if gold is not None:
    assert t.answer == gold


def test_free_form_question_checks():
  assert T.parse(_ff("", "4", "Integer"), "free_form").reason == "empty_question"
  assert T.parse(_ff("   ", "4", "Integer"), "free_form").reason == "empty_question"
  t = T.parse(_ff("How many protons does carbon-14 have?\nAnswer: 6", 6, "Integer"),
              "free_form")
  assert t.valid and t.question == "How many protons does carbon-14 have?"
  t = T.parse(_ff("In the text above, which element is named?", "Carbon", "String"),
              "free_form")
  assert t.valid and t.mentions_document


def test_free_form_unescaped_latex_and_key_case():
  text = (r'Final JSON: {"Question": "Compute \sqrt{2}\cdot\sqrt{8} + \frac{1}{2} \times 2.", '
          r'"Answer": "\frac{9}{2} \neq 5", "Answer Type": "Expression",}')
  t = T.parse(text, "free_form")
  assert t.valid, t
  assert t.question == r"Compute \sqrt{2}\cdot\sqrt{8} + \frac{1}{2} \times 2."
  assert t.answer == r"\frac{9}{2} \neq 5"


def test_free_form_last_well_formed_object_wins():
  draft = _ff("Draft question?", 3, "Integer")
  final = _ff("Final question?", 5, "Integer")
  t = T.parse(draft + "\nLet me make it harder.\n" + final + "\nDone.", "free_form")
  assert (t.question, t.answer) == ("Final question?", "5")
  # A truncated final object is not well-formed: the draft stands (SPEC §2.4 decision).
  t = T.parse(draft + '\n{"question": "Final question?", "answer": 5, "answer_t', "free_form")
  assert (t.valid, t.question, t.answer) == (True, "Draft question?", "3")


def test_free_form_without_fields_reports_missing_question():
  t = T.parse('Here you go: {"foo": 1}', "free_form")
  assert (t.valid, t.reason) == (False, "empty_question")


# ------------------------------------------------------------------------- compact

@pytest.mark.parametrize("text,expect,reason,question,answer,kind", [
    ("Question: A train travels 60 km/h for 2.5 hours. How far does it go in km?\n"
     "Answer: 150\nType: Integer", None, "ok",
     "A train travels 60 km/h for 2.5 hours. How far does it go in km?", "150", "integer"),
    ("Question: How many sides does a dodecagon have?\nAnswer: 12", None, "ok",
     "How many sides does a dodecagon have?", "12", "integer"),
    ("Question: Which organelle makes ATP?\nAnswer: Mitochondria", None, "ok",
     "Which organelle makes ATP?", "Mitochondria", "string"),
    ("Question: Simplify sqrt(8)/4.\nAnswer: \\frac{\\sqrt{2}}{2}", None, "ok",
     "Simplify sqrt(8)/4.", "\\frac{\\sqrt{2}}{2}", "expression"),
    ("**Question:** What is 7 times 8?\n**Answer:** 56\n**Type:** Integer", None, "ok",
     "What is 7 times 8?", "56", "integer"),
    ("Question 1: What is 2+3?\nAnswer: 5\n\nQuestion 2: What is 6*7?\nAnswer: 42", None, "ok",
     "What is 6*7?", "42", "integer"),
    ("Question: A rectangle has sides 3 and 4.\nWhat is its diagonal?\nAnswer: 5\n"
     "Explanation: 3-4-5 triangle.", None, "ok",
     "A rectangle has sides 3 and 4.\nWhat is its diagonal?", "5", "integer"),
    ("Question: Name the process plants use to make glucose.\nAnswer: the light dependent "
     "reactions of photosynthesis\nType: String", None, "too_many_words", None, None, "string"),
    ("Question: What is 1/2 + 1/4?\nAnswer: three quarters\nType: Integer", None,
     "answer_type_mismatch", None, None, "integer"),
    ("Question: \nAnswer: 12", None, "empty_question", None, None, ""),
    ("Question: What is the boiling point of water at sea level in Celsius?", None, "no_task",
     None, None, ""),
    ("I cannot write a question about this.", None, "no_task", None, None, ""),
    ("Question: Which gas is most abundant in air?\nA) Oxygen\nB) Nitrogen\nC) Argon\n"
     "D) Carbon dioxide\nAnswer: B", None, "ok",
     "Which gas is most abundant in air?\n\nA) Oxygen\nB) Nitrogen\nC) Argon\nD) Carbon dioxide",
     "B", "mcq"),
    ("Question: Which gas is most abundant in air?\nA) Oxygen\nB) Nitrogen\nC) Argon\n"
     "D) Carbon dioxide\nCorrect: B\nAnswer: B) Nitrogen", "mcq", "ok",
     "Which gas is most abundant in air?\n\nA) Oxygen\nB) Nitrogen\nC) Argon\nD) Carbon dioxide",
     "B", "mcq"),
    ("Question: Which gas is most abundant in air?\nA) Oxygen\nB) Nitrogen\nC) Argon\n"
     "Answer: B", "mcq", "missing_options", None, None, "mcq"),
    ("Question: Which gas is most abundant in air?\nA) Oxygen\nB) Nitrogen\nC) Argon\n"
     "D) Neon\nAnswer: Nitrogen", "mcq", "bad_key", None, None, "mcq"),
])
def test_compact(text, expect, reason, question, answer, kind):
  t = T.parse(text, "compact", expect=expect)
  assert (t.valid, t.reason, t.kind, t.fmt) == (reason == "ok", reason, kind, "compact"), t
  if question is not None:
    assert t.question == question
  if answer is not None:
    assert t.answer == answer


def test_compact_accepts_json():
  t = T.parse(_ff("What is 3^4?", 81, "Integer"), "compact")
  assert (t.valid, t.answer, t.kind, t.fmt) == (True, "81", "integer", "compact")


# ---------------------------------------------------------------- format selection

@pytest.mark.parametrize("text,expected", [
    ('{"suitable_for_mcq": true, "suitable_for_free_form": false, "best_answer_type": null, '
     '"reason": "descriptive text"}', "mcq"),
    ('The document has numbers.\n```json\n{"suitable_for_mcq": false, "suitable_for_free_form": '
     'true, "best_answer_type": "Integer", "reason": "a count"}\n```', "free_form"),
    ('{"suitable_for_mcq": "no", "suitable_for_free_form": "Yes", "best_answer_type": '
     '"String", "reason": "a name"}', "free_form"),
    ('{"suitable_for_mcq": true, "suitable_for_free_form": true, "best_answer_type": '
     '"Expression", "reason": "both"}', None),
    ('{"suitable_for_mcq": false, "suitable_for_free_form": false, "best_answer_type": null, '
     '"reason": "boilerplate"}', None),
    ('{"suitable_for_mcq": true}', None),
    ('{"suitable_for_mcq": maybe, "suitable_for_free_form": false}', None),
    ("MCQ would be best here.", None),
])
def test_format_selection(text, expected):
  assert T.parse_format_selection(text) == expected


def test_format_selection_fields():
  f = T.format_selection_fields('x {"Suitable_For_MCQ": false, "suitable_for_free_form": true, '
                                '"best_answer_type": "Integer", "reason": "r"}')
  assert f["suitable_for_mcq"] is False and f["best_answer_type"] == "Integer"


# ------------------------------------------------------------------- batch + pool

@pytest.fixture(scope="module")
def pool():
  with V.VerifierPool(1, timeout=2.0) as p:
    yield p


def test_parse_batch_checks_expressions_with_the_verifier(pool, tmp_path):
  sentinel = tmp_path / "pwned"
  texts = [
      _ff("Simplify.", "\\frac{9}{2}", "Expression"),
      _ff("Simplify.", f"__import__('os').system('touch {sentinel}')", "Expression"),
      _ff("Simplify.", "a +* / b", "Expression"),
      _ff("Count.", 7, "Integer"),
      "no json at all",
  ]
  out = T.parse_batch(texts, "free_form", pool=pool)
  assert [(t.valid, t.reason) for t in out] == [
      (True, "ok"), (False, "answer_type_mismatch"), (False, "answer_type_mismatch"),
      (True, "ok"), (False, "no_json")]
  assert not sentinel.exists()
  # The syntactic test alone lets a short code string through as a formula; the verifier
  # check (math-verify cannot read it) is what rejects it.
  code = _ff("Simplify.", "__import__('os').getcwd()", "Expression")
  assert T.parse_batch([code], "free_form", check_expressions=False)[0].valid
  assert T.parse_batch([code], "free_form", pool=pool)[0].reason == "answer_type_mismatch"


def test_parse_batch_mixed_formats(pool):
  out = T.parse_batch([MCQ_FULL, "Question: What is 2+2?\nAnswer: 4"], ["mcq", "compact"],
                      pool=pool)
  assert [(t.kind, t.answer) for t in out] == [("mcq", "B"), ("integer", "4")]


# --------------------------------------------------------------------- adversarial

def test_parse_is_bounded_on_hostile_text():
  hostile = [
      '{"a": ' * 200_000,                              # deep unclosed nesting
      "[" * 1_000_000,
      '{"' * 300_000,                                  # many object starts
      "x" * 5_000_000 + MCQ_FULL,                      # 5 MB of prose before the answer
      "{" * 10**6 + "}" * 10**6,
      "Question: " * 100_000 + "\nAnswer: 1",
      "Question: x\n" * 30_000 + "Answer: 1",        # many question lines
      _mcq_json("A) B) C) D) " * 20_000, "A"),          # many option markers
      _mcq_json("Q?\n" + "A) 1\nB) 2\nC) 3\n" * 20_000 + "D) 4", "A"),
  ]
  t0 = time.perf_counter()
  results = [T.parse(h, f) for h in hostile for f in ("mcq", "free_form", "compact")]
  assert time.perf_counter() - t0 < 20.0
  assert all(isinstance(r, T.Task) for r in results)
  assert T.parse(hostile[3], "mcq").valid  # the real object at the end is still found
  t0 = time.perf_counter()
  stem, opts = T.split_options("A) B) C) D) " * 50_000)  # 200k markers, not truncated
  assert list(opts) == list("ABCD") and time.perf_counter() - t0 < 5.0


def test_task_is_frozen_and_fmt_is_checked():
  t = T.parse(MCQ_FULL, "mcq")
  with pytest.raises(dataclasses.FrozenInstanceError):
    t.valid = False
  with pytest.raises(ValueError, match="fmt"):
    T.parse(MCQ_FULL, "essay")
  assert T.parse(None, "mcq").reason == "no_json"


def test_task_parsing_does_not_import_the_verifier_pool():
  import subprocess
  import sys
  code = ("import json, sys; import spice_jax.spice.tasks; "
          "print(json.dumps(sorted(m for m in sys.modules if m.startswith('spice_jax.spice.'))))")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
  assert json.loads(out.stdout) == ["spice_jax.spice.answers", "spice_jax.spice.model_json",
                                    "spice_jax.spice.redact", "spice_jax.spice.tasks"]


@pytest.mark.parametrize("answer,kind,document,grounded", [
    ("14", "Integer", "Ben has 5 coins and has 14 coins at the end.", True),
    ("15", "Integer", "Ben has 5 coins and has 14 coins at the end.", False),
    ("1000", "Integer", "The hall seats 1,000 people.", True),
    ("4", "Integer", "It costs 14 dollars.", False),           # digits inside another number
    ("-3", "Integer", "The low was -3 degrees.", True),
    ("Paris", "String", "The capital of France is Paris.", True),
    ("Lyon", "String", "The capital of France is Paris.", False),
])
def test_grounded_requires_the_gold_in_the_document(answer, kind, document, grounded):
  t = T.parse(f"Question: What is it?\nAnswer: {answer}\nType: {kind}", "compact",
              expect="free_form")
  assert t.valid
  g = T.grounded(t, document)
  assert g.valid is grounded
  assert g.reason == ("ok" if grounded else "answer_not_in_document")


def test_grounded_leaves_mcq_expression_and_invalid_tasks_alone():
  expr = T.parse("Question: Simplify 2x+x.\nAnswer: 3x\nType: Expression", "compact",
                 expect="free_form")
  assert expr.valid and T.grounded(expr, "no formula here") is expr
  bad = T.parse("Question: \nAnswer: 3\nType: Integer", "compact", expect="free_form")
  assert not bad.valid and T.grounded(bad, "3") is bad
