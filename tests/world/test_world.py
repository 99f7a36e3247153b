"""The world generator: ground truth by an independent evaluation, disjoint splits, files."""

import json
import re

import pytest

from spice_jax.data import world, world_build
from spice_jax.spice import tasks as tasks_lib
from spice_jax.spice import verify


def _numbers(text):
  return [int(x) for x in re.findall(r"\d+", text)]


# Independent reference: the value each family's questions ask for, written directly.
REFERENCE = {
    "boxes": (lambda a, b, c: a * b, lambda a, b, c: a * b + c),
    "garden": (lambda a, b, c: a * b, lambda a, b, c: 2 * a + 2 * b),
    "savings": (lambda a, b, c: b * c, lambda a, b, c: a + b * c),
    "trip": (lambda a, b, c: a + b, lambda a, b, c: a + b - c),
    "shares": (lambda a, b, c: b * c, lambda a, b, c: a - b * c),
}


@pytest.mark.parametrize("split", world.SPLITS)
def test_results_match_reference_and_steps_check_out(split):
  for d in world.generate(split, 300, seed=3):
    easy, hard = d.results()
    ref_e, ref_h = REFERENCE[d.family]
    assert easy.value == ref_e(d.a, d.b, d.c)
    assert hard.value == ref_h(d.a, d.b, d.c)
    assert (easy.difficulty, hard.difficulty) == (1, 2)
    for r in (easy, hard):
      for step in r.steps:  # every "x op y = z" step is arithmetic that holds
        x, op, y, _, z = step.split()
        assert {"+": int(x) + int(y), "-": int(x) - int(y), "*": int(x) * int(y)}[op] == int(z)
      assert r.value >= 0
      # the question restates the quantities but never states the result
      assert d.premise in r.question
      assert str(r.value) not in re.findall(r"\d+", r.question.replace(d.premise, ""))
    # the document states both results
    assert easy.value in _numbers(d.text) and hard.value in _numbers(d.text)


def test_splits_are_disjoint_and_deterministic():
  keys = {s: {(t[0], t[1], t[2], t[3]) for t in world.all_tuples(s)} for s in world.SPLITS}
  assert not keys["warm"] & keys["spice"]
  assert not keys["warm"] & keys["eval"]
  assert not keys["spice"] & keys["eval"]
  questions = {s: {r.question.split(". ", 1)[0] + str(d.family) + str((d.a, d.b, d.c))
                   for d in world.generate(s, 200) for r in d.results()} for s in world.SPLITS}
  assert not questions["warm"] & questions["eval"]
  assert world.generate("eval", 20, seed=1) == world.generate("eval", 20, seed=1)
  assert world.generate("eval", 20, seed=1) != world.generate("eval", 20, seed=2)


def test_targets_parse_and_verify_with_the_product_code():
  d = world.generate("warm", 1, seed=0)[0]
  easy, hard = d.results()
  task = tasks_lib.parse(world.challenger_target(hard), "compact", expect="free_form")
  assert task.valid and task.answer == str(hard.value) and task.kind == "integer"
  assert task.question == hard.question
  v = verify.score_detailed([world.solution(easy)], [str(easy.value)], ["integer"])[0]
  assert v.correct


def test_build_writes_disjoint_files(tmp_path):
  files = world_build.build(str(tmp_path), n_warm=50, n_spice=30, n_renamed=20, seed=0)
  ex = [json.loads(l) for l in open(files.warm_examples)]
  assert {e["role"] for e in ex} == {"challenger", "reasoner"}
  warm = world.generate("warm", 50, seed=0)
  n_chal = sum(world.warm_role(d.family, d.a, d.b, d.c) == "challenger" for d in warm)
  assert 0 < n_chal < 50
  assert sum(e["role"] == "challenger" for e in ex) == 2 * n_chal   # both results asked
  # no result is taught to both roles: a Challenger example's question never appears as a
  # Reasoner example's question
  chal_q = {e["completion"].split("\n")[0].removeprefix("Question: ") for e in ex
            if e["role"] == "challenger"}
  reas_q = {e["messages"][-1]["content"] for e in ex if e["role"] == "reasoner"}
  assert chal_q and not {q for q in chal_q if any(q in r for r in reas_q)}
  key = lambda d: (d.family, d.a, d.b, d.c)
  spice = world_build.read_docs(files.spice_docs)
  spice_text = {d.text for d in spice}
  # dev and test: every held-out tuple once, none in any file a role trains on
  unseen = {}
  for part, path in (("dev", files.dev_docs), ("test", files.test_docs)):
    docs = world_build.read_docs(path)
    unseen[part] = {key(d) for d in docs}
    assert len(docs) == len(unseen[part]) == len(world.heldout_tuples(part))
    assert all(world.split_of(*key(d)) == "eval" for d in docs)
    items = world.eval_items(docs, part)
    assert {i.benchmark for i in items} == {f"{part}_d1", f"{part}_d2"}
    for it, d in zip(items[::2], docs):
      assert it.gold == str(d.results()[0].value)
  assert not unseen["dev"] & unseen["test"]
  trained = {key(d) for d in spice} | {key(d) for d in warm}
  assert not (unseen["dev"] | unseen["test"]) & trained
  # train_renamed: the corpus's quantity tuples, in documents the corpus does not hold
  renamed = world_build.read_docs(files.train_renamed_docs)
  assert len(renamed) == 20 and {key(d) for d in renamed} <= {key(d) for d in spice}
  assert not {d.text for d in renamed} & spice_text
  assert ({i.benchmark for i in world.eval_items(renamed, "train_renamed")}
          == {"train_renamed_d1", "train_renamed_d2"})


def test_dev_and_test_halve_the_unseen_problems_and_are_large_enough():
  dev, test = (set(world.heldout_tuples(p)) for p in world.UNSEEN)
  assert dev | test == set(world.all_tuples("eval")) and not dev & test
  assert abs(len(dev) - len(test)) <= 1
  for part, tuples in (("dev", dev), ("test", test)):
    assert 2 * len(tuples) >= 200      # one task is at most 0.5 points
    assert all(world.heldout_part(*t) == part for t in sorted(tuples)[:20])
  assert world.heldout_part(*world.all_tuples("warm")[0]) is None
  # every family appears in both halves, and both hold easy and hard tasks
  assert {t[0] for t in dev} == {t[0] for t in test} == {f.name for f in world.FAMILIES}
  docs = world.heldout_documents("test", seed=0)
  assert docs == world.heldout_documents("test", seed=0)
  assert [d.doc_id for d in docs] != [d.doc_id for d in world.heldout_documents("dev", 0)]
  with pytest.raises(ValueError, match="held-out part 'eval'"):
    world.heldout_tuples("eval")
  with pytest.raises(ValueError, match="held_out 'new'"):
    world.eval_items(docs, "new")


def test_true_answer_grades_a_question_by_its_own_quantities():
  for d in world.generate("eval", 60, seed=5):
    for r in d.results():
      assert world.true_answer(r.question) == r.value          # every generated question
      assert world.gold_is_true(r.question, str(r.value)) is True
      assert world.gold_is_true(r.question, str(r.value + 1)) is False
  # a Challenger may change a quantity or a name: the value is that of the question as posed
  q = "Eli has 5 coins and gets 4 coins each day for 3 days. How many coins does Ana have at the end?"
  assert world.true_answer(q) == REFERENCE["savings"][1](5, 4, 3)
  q = "A garden is 6 m long and 3 m wide. What is the perimeter of the garden in m?"
  assert world.true_answer(q) == REFERENCE["garden"][1](6, 3, 0)
  # an item must stay the same item; garbled or foreign questions are not graded
  assert world.true_answer("Ana has 3 boxes with 4 pens in each box and 2 more cards. "
                           "How many pens are in the boxes?") is None
  assert world.true_answer("How far does the bus drive?") is None
  assert world.gold_is_true("What is 2 + 2?", "4") is None
