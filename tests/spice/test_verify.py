"""Tests for spice_jax.spice.verify: scoring of realistic Reasoner outputs, and
the hostile cases (code in a box, 10^6 nested braces, 5 MB answers, sympy hangs, killed
workers)."""

import os
import signal
import threading
import time

import pytest

from spice_jax.spice import verify as V


@pytest.fixture(scope="module")
def pool():
  with V.VerifierPool(2, timeout=2.0) as p:
    yield p


@pytest.fixture(scope="module")
def hard_pool():
  """One worker, no in-worker soft alarm: every runaway must be ended by the parent's kill."""
  with V.VerifierPool(1, timeout=2.0, soft_timeout=0) as p:
    yield p


# ------------------------------------------------------- realistic Reasoner outputs

_MCQ = [
    ("Light travels 3e8 m/s for 499 s, so d = 1.497e11 m, i.e. about 1.5e8 km.\n"
     "The answer is \\boxed{B}.", "B", True),
    ("Comparing the options, only (B) matches.\n\\boxed{(B)}", "B", True),
    ("So the distance is 149.6 million km.\n\nFinal answer: \\boxed{B) 149,600,000 km}", "B",
     True),
    ("Therefore \\boxed{\\text{B}}", "B", True),
    ("Thus the correct option is $\\boxed{\\textbf{(C)}}$.", "C", True),
    ("The enthalpy change is negative, so the reaction is exothermic. \\boxed{A}", "C", False),
    ("I think it is \\boxed{b}.", "B", True),
    ("Answer: \\boxed{Option D}", "D", True),
    ("The best answer is B.", "B", False),                      # no box
    ("Both A and C satisfy it. \\boxed{A and C}", "A", False),  # two letters
    ("\\boxed{149,600,000 km}", "B", False),                    # option text, not a letter
    ("First I guessed \\boxed{A}, but rechecking the units gives \\boxed{D}.", "D", True),
    ("First I guessed \\boxed{D}, but rechecking the units gives \\boxed{A}.", "D", False),
    ("Among the ten options the ratio 7:3 is (H). \\boxed{H}", "H", True),
    ("\\boxed{J) none of the above}", "J", True),
    ("\\boxed{E}", "B", False),
    ("The mass is 12 kg \\boxed{12}", "A", False),
]

_INTEGER = [
    ("2 + 2 = 4, so \\boxed{4}", "4", True),
    ("\\boxed{42.0}", "42", True),
    ("The total is $\\boxed{1,024}$ bytes.", "1024", True),
    ("Solving gives \\boxed{x = 5}", "5", True),
    ("\\boxed{41}", "42", False),
    ("\\boxed{-7}", "-7", True),
    ("\\boxed{7}", "-7", False),
    ("\\boxed{2^{10}}", "1024", True),
    ("\\boxed{\\frac{84}{2}}", "42", True),
    ("\\boxed{15\\text{ cm}}", "15", True),
    ("\\boxed{\\$15}", "15", True),
    ("She has \\boxed{3.0 \\times 10^{8}} photons", "300000000", True),
    ("\\boxed{5, 7}", "5", False),
    ("\\boxed{}", "5", False),
    ("No final answer, ran out of tokens: 5 + 7 = ", "12", False),
    ("\\boxed{2^{100}}", "1267650600228229401496703205376", True),
    ("\\boxed{\\text{twelve}}", "12", False),
    ("\\boxed{45^\\circ}", "45", True),
    # whitespace between digits is not a separator unless it groups thousands (defect 4)
    ("\\boxed{2 3}", "23", False),
    ("\\boxed{2\\,3}", "23", False),
    ("\\boxed{12 3}", "123", False),
    ("\\boxed{ 23 }", "23", True),
    ("\\boxed{1,000}", "1000", True),
    ("\\boxed{1\\,000}", "1000", True),
    ("\\boxed{1 000}", "1000", True),
    ("\\boxed{1{,}000}", "1000", True),
]

_EXPRESSION = [
    ("\\boxed{0.5}", "\\frac{1}{2}", True),
    ("\\boxed{\\frac{1}{2}}", "0.5", True),
    ("Simplifying, \\boxed{\\sqrt{8}}", "2\\sqrt{2}", True),
    ("\\boxed{2\\sqrt{2}}", "\\sqrt{8}", True),
    ("\\boxed{\\dfrac{\\sqrt{3}}{2}}", "\\frac{\\sqrt3}{2}", True),
    ("\\boxed{(x+1)^2}", "x^2+2x+1", True),
    ("\\boxed{x^2 - 1}", "(x-1)(x+1)", True),
    ("\\boxed{\\pi/4}", "\\frac{\\pi}{4}", True),
    ("\\boxed{0.75}", "\\dfrac{3}{4}", True),
    ("\\boxed{0.333}", "\\frac{1}{3}", False),
    ("\\boxed{\\ln 8}", "3\\ln 2", True),
    ("\\boxed{y = 2x + 3}", "2x+3", True),
    ("\\boxed{-\\frac{1}{2}}", "-0.5", True),
    ("\\boxed{\\frac{1}{2}}", "-0.5", False),
    ("\\boxed{\\sqrt{2}}", "1.41421356", True),
    ("\\boxed{\\sqrt{2}}", "1.414", False),
    ("\\boxed{\\sin^2 x + \\cos^2 x}", "1", True),
    ("\\boxed{2\\pi r}", "2r\\pi", True),
    ("\\boxed{[0,1)}", "[0,1]", False),
    ("\\boxed{\\{2, 1\\}}", "\\{1,2\\}", True),
    ("\\boxed{x^3}", "x^2", False),
    ("\\boxed{\\frac{1}{0}}", "1", False),
    ("\\boxed{2 3}", "23", False),
    ("\\boxed{x + 1}", "x+1", True),
]

_STRING = [
    ("The organelle is the \\boxed{Mitochondria}.", "mitochondria", True),
    ("\\boxed{\\text{Nitrogen}}", "nitrogen", True),
    ("\\boxed{\\textbf{Charles Darwin}}", "Charles Darwin", True),
    ("\\boxed{Darwin}", "Charles Darwin", False),
    ("\\boxed{“Photosynthesis”}", "Photosynthesis", True),
    ("\\boxed{photo-synthesis}", "photosynthesis", False),
    ("\\boxed{the Krebs cycle}", "Krebs cycle", False),   # articles are significant
    ("\\boxed{  le   Chatelier's principle. }", "Le Chatelier's principle", True),
    ("\\boxed{Paris}", "London", False),
    ("The capital is Paris.", "Paris", False),           # no box
]

CASES = ([(r, g, "mcq", e) for r, g, e in _MCQ] + [(r, g, "integer", e) for r, g, e in _INTEGER]
         + [(r, g, "expression", e) for r, g, e in _EXPRESSION]
         + [(r, g, "string", e) for r, g, e in _STRING])


@pytest.fixture(scope="module")
def verdicts(pool):
  responses, golds, kinds, _ = zip(*CASES)
  return V.score_detailed(list(responses), list(golds), list(kinds), pool=pool)


def test_enough_realistic_cases():
  assert len(CASES) >= 60


@pytest.mark.parametrize("i", range(len(CASES)), ids=[f"{c[2]}-{j}" for j, c in enumerate(CASES)])
def test_score_realistic(verdicts, i):
  response, gold, kind, expected = CASES[i]
  v = verdicts[i]
  assert v.correct is expected, (response, gold, kind, v)
  assert (v.reason == "ok") is expected


def test_score_matches_score_detailed(pool):
  responses, golds, kinds, expected = zip(*CASES[:20])
  assert V.score(list(responses), list(golds), list(kinds), pool=pool) == list(expected)


def test_reasons(pool):
  out = V.score_detailed(
      ["no box", "\\boxed{}", "\\boxed{Both}", "\\boxed{B}", "\\boxed{3}", "\\boxed{x}",
       "\\boxed{1}"],
      ["B", "3", "B", "Z", "4", "\\frac{", "1" * 5000],
      ["mcq", "integer", "mcq", "mcq", "integer", "expression", "integer"], pool=pool)
  assert [v.reason for v in out] == ["no_box", "empty_answer", "no_letter", "bad_gold", "wrong",
                                     "gold_unparsed", "gold_too_long"]
  assert not any(v.correct for v in out)


def test_score_rejects_bad_arguments():
  with pytest.raises(ValueError, match="lengths differ"):
    V.score(["a"], [], [])
  with pytest.raises(ValueError, match="kind 'number'"):
    V.score(["\\boxed{1}"], ["1"], ["number"])


def test_mcq_and_string_never_need_a_pool(monkeypatch):
  monkeypatch.setattr(V, "default_pool", lambda: pytest.fail("pool created"))
  assert V.score(["\\boxed{B}", "\\boxed{Paris}"], ["B", "paris"], ["mcq", "string"]) == [
      True, True]


def test_identical_items_are_judged_once(pool):
  before = pool.stats["items"]
  out = V.score(["\\boxed{\\sqrt{8}}"] * 8 + ["\\boxed{3}"] * 8, ["2\\sqrt{2}"] * 16,
                ["expression"] * 16, pool=pool)
  assert out == [True] * 8 + [False] * 8
  assert pool.stats["items"] - before == 2


# ------------------------------------------------------------------------ adversarial

def test_code_in_a_box_is_never_executed(pool, tmp_path):
  sentinel = tmp_path / "pwned"
  payloads = [
      f"\\boxed{{__import__('os').system('touch {sentinel}')}}",
      f"\\boxed{{eval(\"open('{sentinel}', 'w')\")}}",
      f"\\boxed{{exec('import os; os.system(\"touch {sentinel}\")')}}",
      f"\\boxed{{(lambda: __import__('pathlib').Path('{sentinel}').touch())()}}",
  ]
  for kind, gold in [("integer", "0"), ("expression", "0"), ("string", "x"), ("mcq", "A")]:
    out = V.score_detailed(payloads, [gold] * len(payloads), [kind] * len(payloads), pool=pool)
    assert not any(v.correct for v in out), out
  # The code as the gold answer (Challenger output is untrusted too).
  out = V.score_detailed(["\\boxed{0}"], [payloads[0][7:-1]], ["expression"], pool=pool)
  assert not out[0].correct
  assert not sentinel.exists()


def test_million_nested_braces_bounded(pool):
  text = "\\boxed{" + "{" * 10**6 + "1" + "}" * 10**6 + "}"
  t = time.perf_counter()
  out = V.score_detailed([text, text], ["1", "1"], ["integer", "string"], pool=pool)
  assert [v.reason for v in out] == ["no_box", "no_box"]
  assert time.perf_counter() - t < 3.0


def test_deep_nesting_inside_the_tail_is_bounded(pool):
  deep = "\\boxed{" + "{" * 400 + "1" + "}" * 400 + "}"
  t = time.perf_counter()
  (v,) = V.score_detailed([deep], ["2"], ["integer"], pool=pool)
  assert v.correct is False and v.reason in ("wrong", "timeout", "pred_unparsed")
  assert time.perf_counter() - t < pool.timeout + 2.0


def test_five_megabyte_answers(pool):
  huge = "9" * 5_000_000
  t = time.perf_counter()
  out = V.score_detailed(
      ["\\boxed{" + huge + "}",                              # box starts 5 MB back
       "Let me think. " + "blah " * 1_000_000 + "\\boxed{42}",  # 5 MB of reasoning, short box
       "\\boxed{42}",
       "x " * 40_000 + "\\boxed{" + "7" * 20_000 + "}"],     # long box inside the tail
      ["42", "42", huge, "7"], ["integer"] * 4, pool=pool)
  assert [(v.correct, v.reason) for v in out] == [
      (False, "no_box"), (True, "ok"), (False, "gold_too_long"), (False, "answer_too_long")]
  assert time.perf_counter() - t < 3.0


def test_sympy_hang_soft_timeout(pool):
  pool.wait_ready()
  t = time.perf_counter()
  out = V.score_detailed(["\\boxed{9^{9^{9^{9}}}}", "\\boxed{(x+1)^{100000}-(x-1)^{100000}}",
                          "\\boxed{\\frac{1}{2}}"],
                         ["1", "2", "0.5"], ["expression"] * 3, pool=pool)
  assert [(v.correct, v.reason) for v in out] == [(False, "timeout"), (False, "timeout"),
                                                   (True, "ok")]
  assert time.perf_counter() - t < pool.timeout + 2.0


def test_per_call_timeout(pool):
  pool.wait_ready()
  t = time.perf_counter()
  (v,) = V.score_detailed(["\\boxed{9^{9^{9^{9}}}}"], ["1"], ["expression"], timeout=0.5,
                          pool=pool)
  assert (v.correct, v.reason) == (False, "timeout")
  assert 0.5 <= time.perf_counter() - t < 1.5


def test_sympy_hang_hard_kill_and_replacement(hard_pool):
  hard_pool.wait_ready()
  before_pids = hard_pool.worker_pids()
  restarts = hard_pool.stats["restarts"]
  t = time.perf_counter()
  (v,) = V.score_detailed(["\\boxed{9^{9^{9^{9}}}}"], ["1"], ["expression"], pool=hard_pool)
  elapsed = time.perf_counter() - t
  assert (v.correct, v.reason) == (False, "timeout")
  assert hard_pool.timeout <= elapsed < hard_pool.timeout + 1.5
  assert hard_pool.stats["restarts"] == restarts + 1
  assert hard_pool.worker_pids() != before_pids
  with pytest.raises(ProcessLookupError):
    os.kill(before_pids[0], 0)  # the stuck worker is gone, not orphaned
  # The replacement works.
  assert V.score(["\\boxed{\\sqrt{8}}"], ["2\\sqrt{2}"], ["expression"], pool=hard_pool) == [
      True]


def test_worker_killed_mid_item_is_replaced(hard_pool):
  hard_pool.wait_ready()
  (victim,) = hard_pool.worker_pids()
  result = {}

  def run():
    result["v"] = V.score_detailed(["\\boxed{9^{9^{9^{9}}}}"], ["1"], ["expression"],
                                   pool=hard_pool)

  th = threading.Thread(target=run)
  t = time.perf_counter()
  th.start()
  time.sleep(0.3)
  os.kill(victim, signal.SIGKILL)
  th.join(10)
  (v,) = result["v"]
  assert (v.correct, v.reason) == (False, "worker_died")
  assert time.perf_counter() - t < hard_pool.timeout  # reported on death, not at the timeout
  assert hard_pool.worker_pids() != [victim]
  assert V.score(["\\boxed{0.5}"], ["\\frac{1}{2}"], ["expression"], pool=hard_pool) == [True]
  assert V.score(["\\boxed{x^2}"], ["x*x"], ["expression"], pool=hard_pool) == [True]


def test_workers_run_under_a_memory_limit(pool):
  pool.wait_ready()
  for pid in pool.worker_pids():
    with open(f"/proc/{pid}/limits") as f:
      line = next(l for l in f if l.startswith("Max address space"))
    assert int(line.split()[3]) == pool.memory_mb * 2**20


def test_closed_pool_refuses_work():
  p = V.VerifierPool(1, timeout=2.0)
  pids = p.worker_pids()
  p.close()
  with pytest.raises(V.VerifierError, match="closed"):
    p.run([("verify", "1", "2")])
  for pid in pids:
    with pytest.raises(ProcessLookupError):
      os.kill(pid, 0)



def test_worker_that_cannot_start_raises():
  p = V.VerifierPool(1, timeout=1.0, python="/bin/false")
  with pytest.raises(V.VerifierError, match="start"):
    p.wait_ready()
  p.close()


def test_default_pool_is_lazy_and_reused():
  V.shutdown_default_pool()
  assert V._default_pool is None  # pylint: disable=protected-access
  assert V.score(["\\boxed{\\sqrt{8}}"], ["2\\sqrt{2}"], ["expression"]) == [True]
  first = V.default_pool()
  assert V.score(["\\boxed{x+x}"], ["2x"], ["expression"]) == [True]
  assert V.default_pool() is first
  V.shutdown_default_pool()
  assert V._default_pool is None  # pylint: disable=protected-access
