"""The answer key never reaches the Reasoner (SPEC §2.4; issue 13 defect 1).

End to end through `tasks.parse`: a task hides its key or gold answer in many phrasings and
places; the Reasoner's question must then be exactly the clean question (stem + options),
or the task must be rejected with `answer_in_question`. The clean question is written out by
hand here, independently of the parser.
"""

import json

import pytest

from spice_jax.spice import redact as R
from spice_jax.spice import tasks as T

STEM = "Which of these numbers is prime?"
OPTS = ["21", "23", "25", "27"]
CLEAN_MCQ = STEM + "\n\nA) 21\nB) 23\nC) 25\nD) 27"

# Lines that state the key (B).
KEY_LINES = [
    "Correct answer is B", "Answer - B", "Key: B", "The correct option is B.",
    "Solution: 23 has no divisor but 1 and itself, so B", "Answer: B", "Correct: (B)",
    "**Answer:** B", "Final answer: B) 23", "Answer key: B", "The answer is B",
    "So the answer is (B).", "Therefore, the correct choice is B.", "B is correct",
    "Option B is the correct answer.", "Right answer: B", "Explanation: only 23 is prime, so B.",
    "\u2713 B", "Answer = B", "answer \u2014 B", "> Correct: B", "Key - B", "Key is B",
    "Rationale: 23 is prime.", "Correct option: **B**", "ANSWER: B", "Answer B",
    "Thus the right answer is option B", "The correct letter is B.",
]
# The key option (B) carrying a mark or a statement.
KEY_MARKS = [
    "23 (correct)", "23 \u2713", "23 \u2714", "23 [correct answer]", "23 <- correct",
    "23 - correct", "23 **correct**", "23 (right answer)", "23 (this is correct)",
    "23 (Correct: B)", "23 Answer: B", "23 \u2705", "23 \u2190 answer", "23 (Correct)",
    "23 (correct) \u2713", "23 (answer)", "23 [key]", "23 answer: $\\text{B}$",
    "23 (Answer: $\\textbf{(B)}$)", "23 -- key: **B**",
]


def _mcq(question, key="B"):
  return "Thinking...\n" + json.dumps({"multiple_choice_question": question,
                                       "multiple_choice_correct": key})


def _lines(opts=OPTS):
  return "\n".join(f"{k}) {o}" for k, o in zip("ABCD", opts))


def _clean_or_rejected(t, clean):
  assert (t.valid and t.question == clean) or t.reason == "answer_in_question", t
  if t.valid:
    assert t.answer == "B" and t.options == tuple(OPTS)


@pytest.mark.parametrize("leak", KEY_LINES)
def test_key_line_after_the_options(leak):
  t = T.parse(_mcq(f"{STEM}\n{_lines()}\n{leak}"), "mcq")
  assert t.valid and t.question == CLEAN_MCQ, t


@pytest.mark.parametrize("leak", KEY_LINES)
def test_key_line_between_stem_and_options(leak):
  t = T.parse(_mcq(f"{STEM}\n{leak}\n{_lines()}"), "mcq")
  assert t.valid and t.question == CLEAN_MCQ, t


@pytest.mark.parametrize("leak", KEY_LINES)
def test_key_line_in_compact_format(leak):
  text = f"Question: {STEM}\n{_lines()}\n{leak}\nAnswer: B"
  t = T.parse(text, "compact", expect="mcq")
  _clean_or_rejected(t, CLEAN_MCQ)


@pytest.mark.parametrize("mark", KEY_MARKS)
def test_marked_key_option(mark):
  t = T.parse(_mcq(f"{STEM}\n{_lines(['21', mark, '25', '27'])}"), "mcq")
  assert t.valid and t.question == CLEAN_MCQ, t


@pytest.mark.parametrize("mark", ["21 (wrong)", "21 \u2717", "21 (incorrect)", "21 \u274c"])
def test_marked_wrong_option(mark):  # elimination reveals the key as well
  t = T.parse(_mcq(f"{STEM}\n{_lines([mark, '23', '25', '27'])}"), "mcq")
  assert t.valid and t.question == CLEAN_MCQ, t


@pytest.mark.parametrize("tail", [
    " Answer - B", " Correct answer is B", " (Correct: B)", ". The correct option is B.",
    " Answer: B", " | Key: B", " \u2014 answer: (B)", " Key - B", " [answer = B]",
])
def test_inline_options_with_a_key_after_d(tail):
  t = T.parse(_mcq(f"{STEM} A) 21 B) 23 C) 25 D) 27{tail}"), "mcq")
  assert t.valid and t.question == CLEAN_MCQ, t


def test_an_option_naming_a_letter_is_an_option():
  opts = ["Only A is correct", "Only B is correct", "Both are correct", "Neither"]
  t = T.parse(_mcq(f"Statements A and B are about primes. Which holds?\n{_lines(opts)}"), "mcq")
  assert t.valid and t.options == tuple(opts), t


def test_option_d_does_not_absorb_later_lines():
  t = T.parse(_mcq(f"{STEM}\n{_lines()}\nShow your working.\nHint: think of divisors."), "mcq")
  assert t.valid and t.options[3] == "27" and t.question == CLEAN_MCQ


def test_answer_suffix_on_the_stem_line_is_cut():
  t = T.parse(_mcq(f"Which is prime? The answer is B.\n{_lines()}"), "mcq")
  assert t.valid and t.question == CLEAN_MCQ.replace(STEM, "Which is prime?"), t


@pytest.mark.parametrize("stem,key", [
    ("Which statement is correct:", "A"), ("Which number is correct here:", "D"),
    ("Which of these is the answer -", "B"), ("Choose the correct option.", "C"),
])
def test_a_stem_that_leads_into_the_options_is_kept(stem, key):
  t = T.parse(_mcq(f"{stem}\n{_lines()}", key), "mcq")
  assert t.valid and t.answer == key and t.question == CLEAN_MCQ.replace(STEM, stem), t


@pytest.mark.parametrize("stem", [
    "Which is prime (B is correct)?", "Which is prime, given that the correct option is B?",
    "Which is prime? We know the answer is 23.", "Which is prime if the key is (B)?",
])
def test_stem_that_still_states_the_key_is_rejected(stem):
  t = T.parse(_mcq(f"{stem}\n{_lines()}"), "mcq")
  assert (t.valid, t.reason) == (False, "answer_in_question"), t


# ------------------------------------------------------------------- free-form

Q = "What is 2 + 4?"
FREE_LEAKS_STRIPPED = [
    "What is 2 + 4? Answer: 6", "What is 2 + 4? (Answer: 6)", "What is 2 + 4?\nAnswer: 6",
    "What is 2 + 4? The answer is 6.", "What is 2 + 4?\nSolution: 2 + 4 = 6",
    "What is 2 + 4? **Answer:** 6", "What is 2 + 4? [answer = 6]",
    "What is 2 + 4? Final answer: $6$", "What is 2 + 4?\nCorrect answer: \\boxed{6}",
    "What is 2 + 4? | Key: 6", "What is 2 + 4?\nExplanation: adding gives 6.",
    "What is 2 + 4? \u2014 answer: 6", "What is 2 + 4?\n> Answer = 6",
    "What is 2 + 4? Correct answer is 6",
]
FREE_LEAKS_REJECTED = [
    "What is 2 + 4 answer: 6", "What is 2 + 4, so the answer is 6?",
    "If the answer is 6, what is 2 + 4?", "What is 2 + 4 (key 6)?",
]


@pytest.mark.parametrize("question", FREE_LEAKS_STRIPPED)
@pytest.mark.parametrize("fmt", ["free_form", "compact"])
def test_free_form_answer_statement_is_stripped(question, fmt):
  obj = {"question": question, "answer": "6", "answer_type": "Integer"}
  t = T.parse(json.dumps(obj), fmt)
  assert t.valid and t.question == Q and t.answer == "6", t


@pytest.mark.parametrize("question", FREE_LEAKS_REJECTED)
def test_free_form_answer_statement_left_in_the_question_is_rejected(question):
  t = T.parse(json.dumps({"question": question, "answer": 6, "answer_type": "Integer"}),
              "free_form")
  assert (t.valid, t.reason) == (False, "answer_in_question"), t


@pytest.mark.parametrize("question,answer,atype", [
    ("Which organelle makes ATP? Answer: Mitochondria", "Mitochondria", "String"),
    ("Simplify sqrt(8)/4. (The answer is \\frac{\\sqrt{2}}{2}.)", "\\frac{\\sqrt{2}}{2}",
     "Expression"),
    ("How many bytes in a KiB? Answer: 1,024", "1024", "Integer"),
])
def test_free_form_answer_kinds(question, answer, atype):
  t = T.parse(json.dumps({"question": question, "answer": answer, "answer_type": atype}),
              "free_form")
  assert t.valid and t.question == question.split(" Answer:")[0].split(" (The answer")[0], t


@pytest.mark.parametrize("question", [
    "Answer the following: what is 2 + 4?", "What is the correct answer to 2 + 4?",
    "Express your answer as an integer: what is 2 + 4?", "Which is correct: 2 + 4 = 6 or 7?",
    "Solution A has 2 mol of salt and solution B has 4 mol; how many mol in total?",
    "Key facts: 2 apples plus 4 apples. How many apples?",
])
def test_legitimate_questions_are_kept(question):
  t = T.parse(json.dumps({"question": question, "answer": "6", "answer_type": "Integer"}),
              "free_form")
  assert t.valid and t.question == question, t


def test_states_answer():
  assert R.states_answer("so the answer is $6$", ["6"])
  assert not R.states_answer("the answer is 60", ["6"])
  assert not R.states_answer("the answer is 6.5", ["6"])
  assert not R.states_answer("The solution is a salt.", [], key="A")   # article, not key
  assert R.states_answer("The correct option is (A).", [], key="A")
  assert R.states_answer("Option A is correct.", [], key="A")


# ------------------------------------------------------------ issue 23: the listed leaks

ISSUE_23_MCQ = {  # each hides key B of the clean question
    "bold key option": f"{STEM}\nA) 21\n**B) 23**\nC) 25\nD) 27",
    "bold key text": f"{STEM}\nA) 21\nB) **23**\nC) 25\nD) 27",
    "Answer choice between": f"{STEM}\nAnswer choice: B\n{_lines()}",
    "Ans between": f"{STEM}\nAns: B\n{_lines()}",
    "(B) after D": f"{STEM}\n{_lines()} (B)",
    "-> B after D": f"{STEM}\n{_lines()} -> B",
    "(B) on its own line": f"{STEM}\n{_lines()}\n(B)",
    "-> B on its own line": f"{STEM}\n{_lines()}\n-> B",
    "arrow after the stem": f"{STEM} \u2192 B\n{_lines()}",
}


@pytest.mark.parametrize("name", sorted(ISSUE_23_MCQ))
def test_issue_23_mcq_leaks(name):
  _clean_or_rejected(T.parse(_mcq(ISSUE_23_MCQ[name]), "mcq"), CLEAN_MCQ)


def test_an_option_naming_bracketed_letters_keeps_them():
  t = T.parse(_mcq(f"{STEM}\nA) 21\nB) 23\nC) 25\nD) Both (A) and (B)"), "mcq")
  assert t.valid and t.options[3] == "Both (A) and (B)", t


@pytest.mark.parametrize("question", [
    "How many ways are there? \\boxed{6}", "How many ways are there? Ans: 6",
    "How many ways are there?\nResult: 6", "How many ways are there? 6",
    "How many ways are there? (6 ways)", "How many ways are there? -> 6",
    "How many ways are there? Final Answer: **\\boxed{6}**",
])
def test_issue_23_free_form_leaks(question):
  t = T.parse(json.dumps({"question": question, "answer": 6, "answer_type": "Integer"}),
              "free_form")
  assert (t.valid and t.question == "How many ways are there?") or (
      t.reason == "answer_in_question"), t


def test_a_question_emptied_by_redaction_is_invalid():
  q = "There are 4 red and 2 blue balls. Answer = number of ways to pick 2 of them."
  t = T.parse(json.dumps({"question": q, "answer": 15, "answer_type": "Integer"}),
              "free_form")
  assert not t.valid and t.reason == "emptied_by_redaction", t


DOC = ("Dev has 6 boxes with 2 cards in each box and 2 more cards. The boxes hold 12 cards, "
       "so Dev has 14 cards in all.")


@pytest.mark.parametrize("question,answer,ok", [
    (DOC + " How many cards does Dev have in all?", 14, False),          # the whole document
    ("How many cards does Dev have in all, given that Dev has 14 cards in all?", 14, False),
    ("Dev has 6 boxes with 2 cards in each box and 2 more cards. How many cards does Dev "
     "have in all?", 14, True),                                          # premise only
    ("Dev has 6 boxes with 2 cards in each box. How many cards are in the boxes?", 12, True),
    ("Dev has 6 boxes with 2 cards in each box and 2 more cards. The boxes hold 12 cards. "
     "How many cards are in the boxes?", 12, False),                     # the easy result
])
def test_questions_that_copy_the_documents_result_are_invalid(question, answer, ok):
  t = T.parse(json.dumps({"question": question, "answer": answer, "answer_type": "Integer"}),
              "free_form")
  t = T.leaks_document(t, DOC)
  assert t.valid == ok and (ok or t.reason == "result_in_question"), t


def test_mcq_stem_copying_the_result_is_invalid():
  stem = DOC + " How many cards does Dev have in all?"
  t = T.parse(_mcq(f"{stem}\nA) 12\nB) 14\nC) 16\nD) 18"), "mcq")
  assert t.valid
  assert T.leaks_document(t, DOC).reason == "result_in_question"
  t = T.parse(_mcq(f"Dev has 6 boxes of 2 cards and 2 more cards. How many in all?\n"
                   "A) 12\nB) 14\nC) 16\nD) 18"), "mcq")
  assert T.leaks_document(t, DOC).valid
