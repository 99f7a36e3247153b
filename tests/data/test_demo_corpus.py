"""The bundled demo corpus: size, shape, determinism, and every arithmetic claim checked."""
import gzip
import importlib.util
import json
import os
import re
from fractions import Fraction

import pytest

from spice_jax import data


@pytest.fixture(scope="module")
def gen():
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools",
                      "demo_corpus.py")
  spec = importlib.util.spec_from_file_location("demo_corpus_generate", path)
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  return mod


@pytest.fixture(scope="module")
def shipped():
  docs = []
  for name in sorted(os.listdir(data.demo_corpus_dir())):
    if name.endswith(".jsonl.gz"):
      with gzip.open(os.path.join(data.demo_corpus_dir(), name), "rt", encoding="utf-8") as f:
        docs += [json.loads(l) for l in f]
  return docs


def test_size_and_shape(shipped):
  assert 150 <= len(shipped) <= 300
  assert len({d["id"] for d in shipped}) == len(shipped)
  assert len({d["text"] for d in shipped}) == len(shipped)
  topics = {d["topic"] for d in shipped}
  assert topics == {"arithmetic", "algebra", "geometry", "units", "physics", "chemistry"}
  for d in shipped:
    words = len(d["text"].split())
    assert 100 <= words <= 500, (d["id"], words)
    assert d["text"].startswith(d["title"] + "\n\n")
    assert len(re.findall(r"\d+", d["text"])) >= 15, d["id"]  # dense with numbers


def test_shipped_files_match_generator(gen, shipped, tmp_path):
  assert os.path.samefile(gen.OUT_DIR, data.demo_corpus_dir())  # the tool writes the package data
  key = lambda d: d["id"]
  assert sorted(gen.documents(), key=key) == sorted(shipped, key=key)
  gen.write(str(tmp_path))  # byte-identical output (fixed seed, gzip mtime 0)
  for name in os.listdir(tmp_path):
    with open(tmp_path / name, "rb") as a, open(os.path.join(data.demo_corpus_dir(), name), "rb") as b:
      assert a.read() == b.read(), name


def test_demo_source_spec():
  spec = data.demo_corpus_source(weight=2.0)
  assert spec.name == "demo" and spec.weight == 2.0 and spec.id_field == "id"
  assert spec.paths[0].startswith(data.demo_corpus_dir())


# An independent checker: every "expr = value" claim whose two sides are plain arithmetic
# (numbers, + − × ÷ / ^, parentheses) is evaluated exactly and compared with the stated
# value, to the precision it is written with.
_RUN = re.compile(r"[0-9 .+\-−×÷/^()=]+")
# `a/b` written without spaces is one fraction literal (binds tighter than ×, ÷).
_TOK = re.compile(r"\s*(\d+/\d+(?![\d.])|\d+(?:\.\d+)?|[+\-−×÷/^()])")


class ParseError(ValueError):
  pass


def evaluate(expr: str) -> Fraction:
  """Exact value of + − × / ^ ( ) expressions over decimal numbers; ParseError otherwise."""
  expr = expr.strip().rstrip(".").strip()
  toks, pos = [], 0
  while pos < len(expr):
    m = _TOK.match(expr, pos)
    if not m:
      raise ParseError(expr)
    toks.append(m.group(1).replace("−", "-"))
    pos = m.end()
    while pos < len(expr) and expr[pos] == " ":
      pos += 1
  i = 0

  def peek():
    return toks[i] if i < len(toks) else None

  def take():
    nonlocal i
    i += 1
    return toks[i - 1]

  def atom():
    t = peek()
    if t == "-":
      take()
      return -power()
    if t == "(":
      take()
      v = add()
      if take() != ")":
        raise ParseError(expr)
      return v
    if t is None or not t[0].isdigit():
      raise ParseError(expr)
    t = take()
    if "/" in t and t.split("/")[1] == "0":
      raise ParseError(expr)
    return Fraction(t)

  def power():
    v = atom()
    if peek() == "^":
      take()
      e = atom() if peek() != "-" else (take(), -atom())[1]
      if e.denominator != 1 or abs(e) > 60:
        raise ParseError(expr)
      v = v ** int(e)
    return v

  def mul():
    v = power()
    while peek() in ("×", "÷", "/"):
      op = take()
      w = power()
      if op != "×" and w == 0:
        raise ParseError(expr)
      v = v * w if op == "×" else v / w
    return v

  def add():
    v = mul()
    while peek() in ("+", "-"):
      op = take()
      w = mul()
      v = v + w if op == "+" else v - w
    return v

  if not toks:
    raise ParseError(expr)
  v = add()
  if i != len(toks):
    raise ParseError(expr)
  return v


def claims(text: str):
  """(lhs, rhs) string pairs of `expr = value` claims whose both sides are pure arithmetic."""
  for m in _RUN.finditer(text):
    parts = m.group(0).split("=")
    for a, b in zip(parts, parts[1:]):
      if a.strip() and b.strip() and re.search(r"[+\-−×÷/^]", a.strip()[1:] or "x"):
        yield a, b


def check(text: str):
  """(n_checked, errors)."""
  n, errs = 0, []
  for a, b in claims(text):
    try:
      lhs, rhs = evaluate(a), evaluate(b)
    except (ParseError, ZeroDivisionError, OverflowError):
      continue
    rb = b.strip().rstrip(".").strip()
    dec = len(rb.split(".")[1]) if re.fullmatch(r"-?−?\d+\.\d+", rb) else 0
    tol = Fraction(1, 2 * 10 ** dec) if dec else Fraction(0)
    n += 1
    if abs(lhs - rhs) > tol + Fraction(1, 10 ** 9):
      errs.append(f"{a.strip()} = {b.strip()} (is {float(lhs)})")
  return n, errs


def test_checker_catches_errors():
  n, errs = check("So 3 × 4 = 13, 2 ÷ 4 = 0.5, 1/2 ÷ 3/4 = 2/3 and 1.5 × 3 = 4.6.")
  assert n == 4 and len(errs) == 2


def test_every_arithmetic_claim_is_right(shipped):
  total, errors = 0, []
  for d in shipped:
    n, errs = check(d["text"])
    total += n
    errors += [f"{d['id']}: {e}" for e in errs]
  assert total >= 400  # the check is not vacuous
  assert not errors, errors[:10]


def test_spot_facts(shipped):
  """A few facts checked by hand against standard references."""
  text = "\n".join(d["text"] for d in shipped)
  assert "2.54 cm" in text and "1609.344 m" in text  # inch and mile definitions
  assert "6.02214076 × 10^23" in text  # Avogadro constant (exact since 2019)
  assert "299792458 m/s" in text
  assert "K = C + 273.15" in text
  conversions = list(re.finditer(r"(-?\d+) °C is \(9/5\) × -?\d+ \+ 32 = (-?[\d.]+) °F", text))
  assert len(conversions) >= 3
  for m in conversions:
    assert Fraction(9, 5) * int(m.group(1)) + 32 == Fraction(m.group(2))
