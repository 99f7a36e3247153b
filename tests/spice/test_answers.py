"""Tests for spice_jax.spice.answers: extraction, normalisation and canonical forms (pure,
no process pool)."""

import time

import pytest

from spice_jax.spice import answers as A


@pytest.mark.parametrize("a,b,same", [
    ("2 3", "23", False), ("2\\,3", "23", False), ("12 3", "123", False),
    ("1 2 3", "123", False), ("\\pi r^2", "\\pir^2", False),
    (" 23 ", "23", True), ("1,000", "1000", True), ("1 000", "1000", True),
    ("1\\,000", "1000", True), ("1{,}000", "1000", True), ("12 345 678", "12345678", True),
    ("1 000.5", "1000.5", True), ("x + 1", "x+1", True), ("2 x", "2x", True),
    ("$\\left(1\\right)$", "(1)", True), ("\\dfrac{3}{4}", "0.75", True),
])
def test_canonical_math_forms(a, b, same):
  for kind in ("integer", "expression"):
    assert (A.canonical_answer(a, kind) == A.canonical_answer(b, kind)) is same, (a, b, kind)


@pytest.mark.parametrize("value,digits", [
    ("1,024", "1024"), ("1 024", "1024"), ("1\\,024", "1024"), (" 23 ", "23"), ("12.0", "12"),
    ("$-7$", "-7"), ("\\boxed{42}", "42"), (12.0, "12"), (7, "7"),
    ("2 3", None), ("12 3", None), ("1 0 2 4", None), (True, None), ("twelve", None),
])
def test_integer_answer(value, digits):
  assert A.integer_answer(value) == digits


def test_majority_vote_keeps_spaced_digits_apart():
  ans, agrees = A.majority_vote(["\\boxed{2 3}", "\\boxed{23}", "\\boxed{ 23 }"], "integer")
  assert ans == "23" and agrees == [False, True, True]


def test_integer_answer_and_looks_like_expression():
  assert A.integer_answer("−12") == "-12"
  assert A.integer_answer("-0") == "0"
  assert A.integer_answer("1{,}000") == "1000"
  assert A.integer_answer("\\boxed{64}") == "64"
  assert A.integer_answer(2.5) is None and A.integer_answer(False) is None
  assert A.looks_like_expression("x^2 + \\frac{1}{x}")
  assert A.looks_like_expression("\\pi")
  assert not A.looks_like_expression("x)(")
  assert not A.looks_like_expression("Paris")


# ---------------------------------------------------------------------- extract_boxed

@pytest.mark.parametrize("text,expected", [
    ("The answer is \\boxed{42}.", "42"),
    ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
    ("first \\boxed{3} then on reflection \\boxed{5}", "5"),
    ("\\boxed{\\left\\{1, 2\\right\\}}", "\\left\\{1, 2\\right\\}"),
    ("\\boxed{a_{i}^{2}}", "a_{i}^{2}"),
    ("\\boxed { 7 }", "7"),
    ("\\fbox{C}", "C"),
    ("so $\\boxed{x^{2}+1}$.", "x^{2}+1"),
    ("\\boxed{\\boxed{1}}", "1"),
    ("\\boxed{12} and a truncated \\boxed{1", "12"),
    ("\\boxed{\\{}", "\\{"),
    ("no box here, the answer is 12", None),
    ("\\boxed{unclosed", None),
    ("\\boxed", None),
    ("", None),
])
def test_extract_boxed(text, expected):
  assert A.extract_boxed(text) == expected


def test_extract_boxed_million_nested_braces_is_bounded():
  text = "\\boxed{" + "{" * 10**6 + "1" + "}" * 10**6 + "}"
  t = time.perf_counter()
  assert A.extract_boxed(text) is None  # the box starts outside the searched tail
  # Inside the tail, deep nesting is matched in one linear pass.
  deep = "\\boxed{" + "{" * 40_000 + "1" + "}" * 40_000 + "}"
  assert A.extract_boxed(deep) == "{" * 40_000 + "1" + "}" * 40_000
  # Many unclosed boxes: still one pass, not one per box.
  assert A.extract_boxed("\\boxed{" * 12_000) is None
  assert time.perf_counter() - t < 2.0


# ---------------------------------------------------------------------- extract_letter

@pytest.mark.parametrize("text,expected", [
    ("B", "B"), ("(B)", "B"), ("B)", "B"), ("B.", "B"), ("[C]", "C"), ("B:", "B"),
    ("B) 149,600,000 km", "B"), ("(B) 149,600,000 km", "B"), ("D. Nitrogen", "D"),
    ("\\text{B}", "B"), ("\\textbf{(C)}", "C"), ("\\mathrm{A}", "A"), ("**B**", "B"),
    ("Option B", "B"), ("option (d)", "D"), ("Answer: A", "A"), ("The answer is C", "C"),
    ("b", "B"), ("(c)", "C"), ("B - 4 km", "B"), ("C is correct", "C"),
    ("A and C", None), ("B, D", None), ("Both", None), ("A cat", None), ("149 km", None),
    ("", None), ("E", None), ("AB", None), ("b is correct", None),
])
def test_extract_letter(text, expected):
  assert A.extract_letter(text) == expected


def test_extract_letter_ten_options():
  assert A.extract_letter("(J)", letters=A.MCQ_LETTERS) == "J"
  assert A.extract_letter("G) 12 N", letters=A.MCQ_LETTERS) == "G"
  assert A.extract_letter("J", letters="ABCD") is None


@pytest.mark.parametrize("text,expected", [
    ("\\text{Mitochondria}", "mitochondria"), ("  Charles   Darwin. ", "charles darwin"),
    ("“Photosynthesis”", "photosynthesis"), ("\\textbf{\\text{Le Chatelier}}", "le chatelier"),
    ("$\\text{NaCl}$", "nacl"), ("the Krebs cycle", "the krebs cycle"),
    ("Ｐａｒｉｓ", "paris"), ("New\\ York", "new york"),
])
def test_normalize_string(text, expected):
  assert A.normalize_string(text) == expected



# ---------------------------------------------------------------------- majority vote

def test_majority_answer_math():
  responses = ["\\boxed{0.5}", "so \\boxed{\\frac{1}{2}}", "\\boxed{1/2}", "\\boxed{3}",
               "\\boxed{3}", "no answer", "\\boxed{ \\dfrac{2}{4} }"]
  assert A.majority_answer(responses, "expression") == "0.5"
  answer, agree = A.majority_vote(responses, "expression")
  assert agree == [True, True, True, False, False, False, True]


def test_majority_answer_mcq_string_ties_and_empty():
  assert A.majority_answer(["\\boxed{B}", "\\boxed{(C)}", "\\boxed{C) 4 km}", "\\boxed{B}",
                            "\\boxed{\\text{C}}"], "mcq") == "C"
  assert A.majority_answer(["\\boxed{Paris}", "\\boxed{\\text{paris}}", "\\boxed{Lyon}"],
                           "string") == "Paris"
  assert A.majority_answer(["\\boxed{7}", "\\boxed{8}"], "integer") == "7"  # earliest wins
  assert A.majority_answer(["\\boxed{1,000}", "\\boxed{1000}", "\\boxed{999}"],
                           "integer") == "1,000"
  assert A.majority_answer(["none", "\\boxed{}"], "integer") is None
  assert A.majority_vote([], "mcq") == (None, [])


def test_canonical_answer():
  assert A.canonical_answer("\\frac{6}{8}", "expression") == "3/4"
  assert A.canonical_answer("0.750", "expression") == "3/4"
  assert A.canonical_answer("$-\\frac{1}{2}$", "expression") == "-1/2"
  assert A.canonical_answer("\\left( x+1 \\right)^2", "expression") == "(x+1)^2"
  assert A.canonical_answer("1,234", "integer") == "1234"
  assert A.canonical_answer("\\frac{1}{0}", "expression") == "\\frac{1}{0}"
  with pytest.raises(ValueError):
    A.canonical_answer("1", "number")
