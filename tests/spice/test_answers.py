"""Tests for spice_jax.spice.answers: the pure canonical forms (no process pool)."""

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
