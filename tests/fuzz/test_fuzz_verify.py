"""Fuzzing spice_jax.spice.verify: extract_boxed / extract_letter / normalize_string /
canonical_answer / majority_vote in process, and score_detailed through a VerifierPool
(math-verify in worker processes) on random and adversarial answers.

Properties: no exception beyond the documented ValueError for bad arguments, documented
verdict reasons only, the same verdict twice (timeouts excepted: a resource limit, always
"wrong"), a CPU-time bound per in-process call and a wall-time bound per pool call, a
tracemalloc peak bound, no code execution, and round trips (an answer boxed in a response
is extracted and judged correct against itself).
"""

import re
import tracemalloc

import pytest
from hypothesis import assume, given, settings, HealthCheck, strategies as st

from spice_jax.spice import verify as V
from spice_jax.spice import answers as A


def _settings(n):
  return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.filter_too_much])


POOL_TIMEOUT = 1.0     # per math-verify item
REASONS = {"ok", "wrong", "no_box", "empty_answer", "answer_too_long", "gold_too_long",
           "bad_gold", "no_letter", "gold_unparsed", "pred_unparsed", "timeout", "worker_died"}


@pytest.fixture(scope="module")
def pool(timed):
  with V.VerifierPool(2, timeout=POOL_TIMEOUT) as p:
    p.wait_ready()
    yield p
    for k, v in p.stats.items():  # items judged by math-verify, timeouts, deaths, restarts
      timed.note(f"verifier pool {k}", v)


# ------------------------------------------------------------------------ strategies

any_char = st.characters(exclude_categories=())
any_text = st.text(any_char, max_size=300)
FRAGMENTS = [
    "\\boxed{", "\\boxed", "\\fbox{", "{", "}", "\\{", "\\}", "\\", " ", "\n", "\x00", "$",
    "\\text{", "\\textbf{", "\\mathrm{", "(", ")", "[", "]", "A", "B)", "(C)", "d", "E.",
    "Answer:", "Option", "the answer is", "and", ",", "**", "\\frac{", "}{", "^", "_", "1",
    "0", "9", "-", "+", "/", ".", "1,000", "\\sqrt{", "\\pi", "\\infty", "x", "=", "\\left(",
    "\\right)", "\\dfrac", "\\,", "\\quad", "~", "é", "ß", "İ", "\ufb01", "\u200b", "\ud800",
    "\\begin{pmatrix}", "&", "\\\\", "\\end{pmatrix}", "%", "\\%", "e", "i", "10^{", "!",
]
run = st.builds(lambda f, n: f * n, st.sampled_from(FRAGMENTS),
                st.one_of(st.integers(1, 3), st.integers(1, 40), st.integers(100, 2000)))
soup = st.lists(st.one_of(run, st.text(any_char, max_size=10)), max_size=10).map("".join)
text = st.one_of(any_text, soup)

# Math answers that reach math-verify: small, plausible, and a few nasty shapes.
num = st.one_of(st.integers(-10**6, 10**6).map(str),
                st.fractions(max_denominator=50).map(lambda f: f"\\frac{{{f.numerator}}}{{{f.denominator}}}"),
                st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: f"{x:.3f}"))
atom = st.one_of(num, st.sampled_from(["x", "y", "\\pi", "e", "\\sqrt{2}", "\\infty", "i"]))
expr = st.recursive(atom, lambda c: st.one_of(
    st.tuples(c, st.sampled_from(["+", "-", "\\cdot ", "/", "^"]), c).map(
        lambda t: "{" + t[0] + "}" + t[1] + "{" + t[2] + "}"),
    c.map(lambda a: f"\\sqrt{{{a}}}"), c.map(lambda a: f"\\left({a}\\right)"),
    st.tuples(c, c).map(lambda t: f"\\frac{{{t[0]}}}{{{t[1]}}}")), max_leaves=6)
math_answer = st.one_of(expr, soup.map(lambda s: s[:200]))


@st.composite
def responses(draw, answer):
  """A Reasoner-style response boxing `answer` somewhere, or a random text."""
  a = draw(answer)
  shape = draw(st.sampled_from(["box", "box_in_prose", "two_boxes", "fbox", "dollar", "raw"]))
  pre = draw(st.text(any_char, max_size=60))
  if shape == "box":
    return f"\\boxed{{{a}}}"
  if shape == "box_in_prose":
    return f"{pre} so the answer is $\\boxed{{{a}}}$."
  if shape == "two_boxes":
    return f"\\boxed{{{draw(num)}}} {pre} \\boxed{{{a}}}"
  if shape == "fbox":
    return f"\\fbox{{{a}}}"
  if shape == "dollar":
    return f"$\\boxed {{ {a} }}$"
  return draw(text)


def _check_verdicts(vs, n):
  assert len(vs) == n
  for v in vs:
    assert isinstance(v, V.Verdict) and isinstance(v.correct, bool)
    assert v.reason in REASONS or v.reason.startswith("error:"), v.reason
    assert v.correct == (v.reason == "ok")
    assert v.answer is None or isinstance(v.answer, str)


def _same_verdicts(a, b):
  for x, y in zip(a, b):
    if "timeout" in (x.reason, y.reason) or "worker_died" in (x.reason, y.reason):
      assert not x.correct or x.reason == "ok"  # a resource limit is never "correct"
      continue
    assert x == y


# ------------------------------------------------------------------ in-process functions

@_settings(300)
@given(t=text)
def test_extraction_functions(timed, t):
  timed.case("verify/extraction")
  box = timed("verify.extract_boxed", V.extract_boxed, t)
  assert box is None or (isinstance(box, str) and box in t)
  assert V.extract_boxed(t) == box
  for letters in ("ABCD", V.MCQ_LETTERS):
    letter = timed("verify.extract_letter", V.extract_letter, t, letters)
    assert letter is None or (len(letter) == 1 and letter in letters)
    assert V.extract_letter(t, letters) == letter
  norm = timed("verify.normalize_string", V.normalize_string, t)
  assert norm == norm.strip(A._EDGE_PUNCT) and "  " not in norm
  assert V.normalize_string(t) == norm
  for kind in V.KINDS:
    c = timed("verify.canonical_answer", V.canonical_answer, t, kind)
    assert c is None or isinstance(c, str)
    assert V.canonical_answer(t, kind) == c
  if box is not None:
    for kind in V.KINDS:
      V.canonical_answer(box, kind)


@_settings(100)
@given(rs=st.lists(st.one_of(text, responses(math_answer)), max_size=8),
       kind=st.sampled_from(V.KINDS))
def test_majority_vote(timed, rs, kind):
  timed.case("verify/majority_vote")
  ans, agrees = timed("verify.majority_vote", V.majority_vote, rs, kind)
  assert len(agrees) == len(rs)
  assert (ans is None) == (not any(agrees))
  assert V.majority_vote(rs, kind) == (ans, agrees)


BALANCED = st.recursive(
    st.text(st.characters(exclude_characters="{}\\", exclude_categories=("Cs",)), max_size=12),
    lambda c: st.lists(st.one_of(c, c.map(lambda s: "{" + s + "}")), max_size=4).map("".join),
    max_leaves=10)
NO_BOX = st.text(st.characters(exclude_characters="{}\\", exclude_categories=()), max_size=80)


@_settings(200)
@given(content=BALANCED, pre=NO_BOX, post=NO_BOX, kw=st.sampled_from(["boxed", "fbox"]),
       sp=st.sampled_from(["", " ", "\n  "]))
def test_extract_boxed_round_trip(timed, content, pre, post, kw, sp):
  timed.case("verify/extract_boxed_round_trip")
  t = f"{pre}\\{kw}{sp}{{{content}}}{post}"
  assert timed("verify.extract_boxed", V.extract_boxed, t) == content.strip()
  # a later unclosed box does not hide it; a later closed box replaces it
  assert V.extract_boxed(t + "\\boxed{" + post) == content.strip()
  assert V.extract_boxed(t + "\\boxed{z}") == "z"


@_settings(200)
@given(letter=st.sampled_from("ABCDEFGHIJ"), rest=st.text(
    st.sampled_from("abcxyz 0123456789"), max_size=20).map(str.strip),
       deco=st.sampled_from(["{L}", "({L})", "[{L}]", "{L})", "{L}.", "{L}:", "\\text{{{L}}}",
                             "\\textbf{{({L})}}", "**{L}**", "Option {L}", "Answer: {L}",
                             "The answer is {L}", "{l}", "({l})", "{L}) {rest}",
                             "({L}) {rest}", "$\\mathrm{{{L}}}$"]))
def test_extract_letter_round_trip(timed, letter, rest, deco):
  timed.case("verify/extract_letter_round_trip")
  assume(rest or "{rest}" not in deco)
  t = deco.format(L=letter, l=letter.lower(), rest=rest)
  assert timed("verify.extract_letter", V.extract_letter, t, V.MCQ_LETTERS) == letter
  want = letter if letter in "ABCD" else None
  assert V.extract_letter(t) == want


@_settings(150)
@given(n=st.integers(-10**15, 10**15), a=st.integers(-999, 999), b=st.integers(1, 999),
       words=st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz "), max_size=30))
def test_canonical_forms_agree(timed, n, a, b, words):
  timed.case("verify/canonical_forms")
  c = V.canonical_answer(str(n), "integer")
  for form in (f"{n:,}", f"${n}$", f"{n}.", f" {n} ", f"\\,{n}"):
    assert timed("verify.canonical_answer", V.canonical_answer, form, "integer") == c, form
  f = V.canonical_answer(f"\\frac{{{a}}}{{{b}}}", "expression")
  assert f == V.canonical_answer(f"{a}/{b}", "expression")
  assert f == V.canonical_answer(f"\\dfrac{{{a}}}{{{b}}}", "expression")
  assert f == str(__import__("fractions").Fraction(a, b))
  w = V.normalize_string(words)
  for form in (words.upper(), f"  {words}. ", f"\\text{{{words}}}", f'"{words}"', f"${words}$"):
    assert V.normalize_string(form) == w, form


# ----------------------------------------------------------------- through the pool

@_settings(60)
@given(items=st.lists(st.tuples(st.one_of(responses(math_answer), text), math_answer,
                                st.sampled_from(V.KINDS)), min_size=1, max_size=3))
def test_score_random(timed, pool, items):
  timed.case("verify/score_random")
  rs, gs, ks = map(list, zip(*items))
  bound = len(items) * (POOL_TIMEOUT + 10.0)  # a killed worker is replaced (~1-2 s start-up)
  a = timed("verify.score_detailed[pool]", V.score_detailed, rs, gs, ks, pool=pool,
            bound=bound, wall=True)
  _check_verdicts(a, len(items))
  b = V.score_detailed(rs, gs, ks, pool=pool)
  _same_verdicts(a, b)
  assert V.score(rs, gs, ks, pool=pool) == [v.correct for v in b] or any(
      v.reason in ("timeout", "worker_died") for v in a + b)


@_settings(60)
@given(gold=st.one_of(expr, st.integers(-10**9, 10**9).map(str)),
       shape=st.sampled_from(["box", "box_in_prose", "two_boxes", "fbox", "dollar"]),
       pre=st.text(any_char, max_size=40))
def test_score_answer_against_itself(timed, pool, gold, shape, pre):
  """A gold answer boxed in any response shape is judged correct (self-equivalence)."""
  timed.case("verify/score_self")
  resp = {"box": f"\\boxed{{{gold}}}", "box_in_prose": f"{pre} so $\\boxed{{{gold}}}$.",
          "two_boxes": f"\\boxed{{0}} {pre} \\boxed{{{gold}}}", "fbox": f"\\fbox{{{gold}}}",
          "dollar": f"$\\boxed {{ {gold} }}$"}[shape]
  assume(V.extract_boxed(resp) == gold.strip())  # `pre` may open a box of its own
  kind = "integer" if re.fullmatch(r"-?\d+", gold) else "expression"
  (v,) = timed("verify.score_detailed[pool]", V.score_detailed, [resp], [gold], [kind],
               pool=pool, bound=POOL_TIMEOUT + 10.0, wall=True)
  # Same text, so the canonical fast path decides: never a timeout, always correct.
  assert (v.correct, v.reason, v.answer) == (True, "ok", gold.strip())


NONZERO = st.one_of(st.integers(1, 10**4).map(str), st.sampled_from(["x", "\\pi", "\\sqrt{2}"]))


@_settings(40)
@given(a=NONZERO, b=NONZERO, c=NONZERO)
def test_pool_judges_equivalent_forms_correct(timed, pool, a, b, c):
  """Forms that are equal but not canonically identical go to math-verify and come back
  correct; a different value comes back wrong."""
  timed.case("verify/pool_equivalence")
  gold = f"{a}+{b}\\cdot {c}"
  rs = [f"\\boxed{{{b}\\cdot {c}+{a}}}", f"\\boxed{{{c}\\times {b} + {a}}}",
        f"\\boxed{{{a}+{b}\\cdot {c}+1}}"]
  vs = timed("verify.score_detailed[pool]", V.score_detailed, rs, [gold] * 3,
             ["expression"] * 3, pool=pool, bound=3 * (POOL_TIMEOUT + 10.0), wall=True)
  assert [v.reason for v in vs] == ["ok", "ok", "wrong"], (gold, vs)


NASTY = [
    ("9^{9^{9^{9}}}", "1"), ("10^{10^{10^{10}}}", "10^{10^{10^{10}}} + 1"), ("100000!", "1"),
    ("\\frac{1}{" * 150 + "2" + "}" * 150, "1"), ("\\sqrt{" * 200 + "2" + "}" * 200, "2"),
    ("x" * 999, "y"), ("(" * 500 + "1" + ")" * 500, "1"), ("1" * 999, "2"),
    ("\\begin{pmatrix}" + "1&" * 300 + "1\\end{pmatrix}", "1"),
    ("\\int_0^{\\infty} e^{-x^{9999}} dx", "1"), ("\\sum_{n=1}^{10^{12}} n", "5"),
    ("\u202e\u0000\ud800", "1"), ("2^{2^{2^{2^{2^{2}}}}}", "3"),
]


def test_nasty_math_items_are_bounded(timed, pool):
  rs = [f"\\boxed{{{p}}}" for p, _ in NASTY] + [f"\\boxed{{{g}}}" for _, g in NASTY]
  gs = [g for _, g in NASTY] + [p for p, _ in NASTY]
  ks = ["expression"] * len(rs)
  vs = timed("verify.score_detailed[pool, nasty batch]", V.score_detailed, rs, gs, ks,
             pool=pool, bound=len(rs) * (POOL_TIMEOUT + 10.0) / 2, wall=True)
  _check_verdicts(vs, len(rs))
  assert not any(v.correct for v in vs)
  for r, g, k in list(zip(rs, gs, ks))[:len(NASTY)]:  # one at a time: worst item latency
    timed("verify.score_detailed[pool, one nasty item]", V.score_detailed, [r], [g], [k],
          pool=pool, bound=POOL_TIMEOUT + 10.0, wall=True)


# -------------------------------------------------------- huge inputs: time and memory

MB = 1_000_000


def _huge(n):
  return {
      "open_boxes": "\\boxed{" * (n // 7),
      "closed_boxes": "\\boxed{1}" * (n // 9),
      "nested_braces": "\\boxed{" + "{" * (n // 2) + "1" + "}" * (n // 2) + "}",
      "tail_box_nested": "x" * (n - 80_002) + "\\boxed{" + "{" * 40_000 + "}" * 40_000 + "}",
      "text_nest": "\\text{" * (n // 12) + "}" * (n // 12),
      "option_words": "A) B) C) D) " * (n // 12),
      "spaces_letter": "Answer" + " " * n + "B",
      "control_chars": "".join(chr(i % 32) for i in range(n)),
      "surrogates": "\ud800\\boxed{\udfff}" * (n // 10),
      "digits": "\\boxed{" + "1" * n + "}",
      "commas": "1" + ",000" * (n // 4),
      "backslashes": "\\" * n,
      "ligatures": "\ufb01\u00df\u0130" * (n // 3),
      "dollars": "$" * n + "x",
  }


HUGE = _huge(MB)


@pytest.mark.parametrize("name", sorted(HUGE))
def test_huge_inputs_bounded_time(timed, pool, name):
  timed.case("verify/huge_inputs")
  t = HUGE[name]
  timed("verify.extract_boxed", V.extract_boxed, t)
  timed("verify.extract_letter", V.extract_letter, t, V.MCQ_LETTERS)
  timed("verify.normalize_string", V.normalize_string, t)
  for kind in V.KINDS:
    timed("verify.canonical_answer", V.canonical_answer, t, kind)
  timed("verify.majority_vote", V.majority_vote, [t[:MB // 8]] * 8, "expression")
  vs = timed("verify.score_detailed[pool]", V.score_detailed, [t] * 4, [t, "1", "A", "x"],
             list(V.KINDS), pool=pool, bound=2 * (POOL_TIMEOUT + 10.0), wall=True)
  _check_verdicts(vs, 4)


MEM = _huge(200_000)


@pytest.mark.parametrize("name", sorted(MEM))
def test_huge_inputs_bounded_memory(name):
  t = MEM[name]
  calls = [(V.extract_boxed, (t,)), (V.extract_letter, (t,)), (V.normalize_string, (t,))]
  calls += [(V.canonical_answer, (t, k)) for k in V.KINDS]
  for fn, args in calls:
    tracemalloc.start()
    try:
      fn(*args)
      peak = tracemalloc.get_traced_memory()[1]
    finally:
      tracemalloc.stop()
    # Linear in the input: at most ~40 bytes per input character (lists of pieces).
    assert peak < 40 * len(t) + 2**20, (f"{fn.__name__} on {name}: peak {peak / 2**20:.1f} MiB "
                                        f"for {len(t)} chars")


# --------------------------------------------------------------- no code execution

def test_no_code_execution(timed, pool, tmp_path):
  sentinel = tmp_path / "SENTINEL"
  payloads = [f"__import__('os').system('touch {sentinel}')",
              f"exec(\"open('{sentinel}', 'w')\")",
              f"eval(\"__import__('os').system('touch {sentinel}')\")",
              f"(lambda: __import__('os').system('touch {sentinel}'))()",
              f"getattr(__import__('os'), 'system')('touch {sentinel}')",
              f"\\immediate\\write18{{touch {sentinel}}}",
              f"{{{{ cycler.__init__.__globals__.os.system('touch {sentinel}') }}}}"]
  rs, gs, ks = [], [], []
  for p in payloads:
    for kind in V.KINDS:  # golds never canonically equal to the box: math-verify judges
      rs += [f"\\boxed{{{p}}}", f"\\boxed{{{p} + 1}}", f"\\boxed{{1}}"]
      gs += [p + "+0", p, p]
      ks += [kind] * 3
    V.canonical_answer(p, "expression")
    V.majority_vote([f"\\boxed{{{p}}}"] * 3, "expression")
  vs = timed("verify.score_detailed[pool]", V.score_detailed, rs, gs, ks, pool=pool,
             bound=len(rs) * (POOL_TIMEOUT + 10.0), wall=True)
  _check_verdicts(vs, len(rs))
  assert V.parseable(payloads, pool=pool)
  assert not sentinel.exists()
