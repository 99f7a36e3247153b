"""The ladder world (v3): ground truth by independent recomputation, value ranges, splits by
the depth-2 prefix disjoint at every depth >= 2, every fact taught to the Reasoner, held-out
sizes, depth 1 pooled apart from the unseen headline, depth_of, determinism, files."""

import collections
import json
import re

import pytest

from spice_jax.data import ladder, ladder_build
from spice_jax.spice import tasks as tasks_lib
from spice_jax.spice import verify

STEP = re.compile(r"^(-?\d+) ([+\-*]) (-?\d+) = (-?\d+)$")


def _check_steps(steps):
  """Independent reference: parse "x op y = z" lines, evaluate with plain integer arithmetic,
  check each line and that each line starts from the previous result. Returns the value."""
  prev = None
  for s in steps:
    x, op, y, z = STEP.match(s).groups()
    x, y, z = int(x), int(y), int(z)
    if op == "+":
      want = x + y
    elif op == "-":
      want = x - y
    else:
      want = x * y
    assert want == z, s
    assert prev is None or x == prev, (prev, s)
    prev = z
  return prev


def _numbers(text):
  return [int(x) for x in re.findall(r"\d+", text)]


def _recompute(q0, ops, operands):
  """Independent reference for a chain's values (no code of `data.ladder`)."""
  table = {"+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y}
  out, x = [], q0
  for op, y in zip(ops, operands):
    x = table[op](x, y)
    out.append(x)
  return out


def _chains(docs, depths):
  """{(q0, ops[:k], operands[:k])}: the problems of `docs` at `depths`."""
  return {(d.q0, d.ops[:k], d.operands[:k]) for d in docs for k in depths}


@pytest.mark.parametrize("split", ladder.SPLITS)
def test_every_result_matches_its_steps_and_the_document(split):
  for d in ladder.generate(split, 200, seed=3):
    results = d.results()
    assert [r.difficulty for r in results] == list(range(1, ladder.MAX_DEPTH + 1))
    assert _check_steps(results[0].steps[:1]) and int(results[0].steps[0].split()[0]) == d.q0
    values = [r.value for r in results]
    assert values == _recompute(d.q0, d.ops, d.operands) == list(d.values())
    assert len(set(values + [d.q0])) == len(values) + 1          # depth_of is unambiguous
    assert ladder.Q0_LO <= d.q0 <= ladder.Q0_HI
    assert all(ladder.OP_LO <= y <= ladder.OP_HI for y in d.operands)
    assert set(d.facts()) <= set(ladder.all_facts())             # every step a known fact
    for k, r in enumerate(results, start=1):
      assert _check_steps(r.steps) == r.value
      assert r.steps == results[-1].steps[:k]                     # a chain: prefixes
      assert ladder.VAL_LO <= r.value <= ladder.VAL_HI
      assert f"After step {k}: {r.value}." in d.text             # the document states it
      # the question restates the start and the k steps it needs, never the result
      assert r.question.startswith(d.premise(k)) and f"Step {k + 1}:" not in r.question
      tail = r.question.replace(d.premise(k), "").replace(f"after step {k}?", "")
      assert r.value not in _numbers(tail)


def test_facts_are_every_in_range_step():
  facts = ladder.all_facts()
  want = {(x, op, y) for x in range(1, 21) for op in "+-*" for y in range(2, 10)
          if 1 <= _recompute(x, (op,), (y,))[0] <= 20}
  assert len(facts) == len(set(facts)) == len(want) == 266 and set(facts) == want
  r = ladder.fact_result((5, "+", 7), "Ana", "pens")
  assert (r.question, r.value, r.steps) == (
      "Ana has 5 pens. Step 1: add 7. How many pens does Ana have after step 1?", 12,
      ("5 + 7 = 12",))


def test_splits_are_disjoint_at_every_depth_from_two_and_deterministic():
  prefixes = {s: set(ladder.all_prefixes(s)) for s in ladder.SPLITS}
  assert sum(map(len, prefixes.values())) == len(ladder.all_prefixes()) == 3024
  for a, b in (("warm", "spice"), ("warm", "eval"), ("spice", "eval")):
    assert not prefixes[a] & prefixes[b], (a, b)
  deep = range(2, ladder.MAX_DEPTH + 1)
  chains = {s: _chains(ladder.generate(s, 2000, seed=1), deep) for s in ("warm", "spice")}
  chains["eval"] = _chains([d for p in ladder.UNSEEN for d in ladder.heldout_documents(p, 0)],
                           deep)
  for a, b in (("warm", "spice"), ("warm", "eval"), ("spice", "eval")):
    assert not chains[a] & chains[b], (a, b)                    # no problem at depth >= 2
  # depth 1 is shared: facts, not split
  firsts = {s: _chains(ladder.generate(s, 400, seed=1), (1,)) for s in ("warm", "spice")}
  assert firsts["warm"] & firsts["spice"]
  assert ladder.generate("spice", 30, seed=1) == ladder.generate("spice", 30, seed=1)
  assert ladder.generate("spice", 30, seed=1) != ladder.generate("spice", 30, seed=2)
  assert ladder.heldout_documents("dev", 0) == ladder.heldout_documents("dev", 0)
  # held-out problems are fixed; the seed only renames and reorders
  probs = lambda seed: sorted((d.q0, d.ops, d.operands)
                              for d in ladder.heldout_documents("test", seed))
  assert probs(0) == probs(1)
  assert [d.depth for d in ladder.generate("warm", 5, seed=0, max_depth=3)] == [3] * 5
  for bad in (0, 1, 13):
    with pytest.raises(ValueError, match="max_depth"):
      ladder.generate("warm", 5, max_depth=bad)


def test_dev_and_test_sizes_and_disjointness():
  dev, test = (set(ladder.heldout_prefixes(p)) for p in ladder.UNSEEN)
  assert len(dev) == len(test) == ladder.HELDOUT_DOCS == 100 and not dev & test
  assert dev | test <= set(ladder.all_prefixes("eval"))
  docs = {p: ladder.heldout_documents(p, seed=0) for p in ladder.UNSEEN}
  deep = range(2, ladder.MAX_DEPTH + 1)
  assert not _chains(docs["dev"], deep) & _chains(docs["test"], deep)
  for part in ladder.UNSEEN:
    items = ladder.eval_items(docs[part], part)
    assert len(items) == 600
    per_depth = collections.Counter(i.benchmark for i in items)
    assert per_depth == {f"{part}_d{k}": 100 for k in range(1, ladder.MAX_DEPTH + 1)}
    for k in deep:                                               # distinct problems per depth
      assert len(_chains(docs[part], (k,))) == 100
    assert {ladder.heldout_part(d.prefix) for d in docs[part]} == {part}
    assert set(ladder.heldout_prefixes(part, 10)) <= set(ladder.heldout_prefixes(part))
  assert ladder.heldout_part(ladder.all_prefixes("warm")[0]) is None
  with pytest.raises(ValueError, match="held-out part 'eval'"):
    ladder.heldout_prefixes("eval")
  with pytest.raises(ValueError, match="documents asked"):
    ladder.heldout_prefixes("dev", 10_000)


def test_unseen_headline_pools_depths_two_to_six_and_facts_apart():
  from spice_jax.eval import heldout
  items = ladder.eval_items(ladder.heldout_documents("dev", 0), "dev")
  right = [it.benchmark == "dev_d1" for it in items]              # every fact, no composition
  acc = heldout._by_set(items, right, ladder.sets_of)
  assert acc["dev"] == 0.0 and acc["dev_facts"] == 1.0 and acc["dev_d1"] == 1.0
  assert all(acc[f"dev_d{k}"] == 0.0 for k in range(2, ladder.MAX_DEPTH + 1))
  assert acc["overall"] == pytest.approx(1 / 6)
  right = [it.benchmark == "dev_d2" for it in items]
  assert heldout._by_set(items, right, ladder.sets_of)["dev"] == pytest.approx(1 / 5)
  assert ladder.sets_of("test_d1") == ("test_facts",) and ladder.sets_of("test_d6") == ("test",)
  assert ladder.sets_of("train_renamed_d3") == ("train_renamed",)
  assert ladder.sets_of("gsm8k") == ("gsm8k",)
  # the default pooling (the two-result world) is unchanged: every depth in its set
  acc = heldout._by_set(items, [it.benchmark == "dev_d1" for it in items])
  assert acc["dev"] == pytest.approx(1 / 6) and "dev_facts" not in acc
  assert set(ladder.SETS) >= {"test", "dev", "train_renamed", "dev_facts", "test_facts"}


def test_depth_of_and_true_answer():
  d = ladder.LadderDoc("x", 5, ("+", "*", "-"), (7, 2, 3), "Ana", "pens")
  assert d.values() == (12, 24, 21)
  assert d.text == ("Ana has 5 pens. Step 1: add 7. Step 2: multiply by 2. Step 3: take away "
                    "3. After step 1: 12. After step 2: 24. After step 3: 21.")
  for doc in (d, d.text):
    assert [ladder.depth_of(doc, v) for v in (12, "24", " 21 ", 5, 7, "x", "2.5")] == \
        [1, 2, 3, None, None, None, None]
  # the validity rule: a stated result, never the start or an operand
  assert [ladder.is_stated_result(d.text, v) for v in ("12", "21", "5", "7", "3", "")] == \
      [True, True, False, False, False, False]
  for doc in ladder.generate("spice", 50, seed=4):
    for r in doc.results():
      assert ladder.depth_of(doc.text, str(r.value)) == r.difficulty
      assert ladder.true_answer(r.question) == r.value
      assert ladder.question_depth(r.question) == r.difficulty
      assert ladder.gold_is_true(r.question, str(r.value)) is True
      assert ladder.gold_is_true(r.question, str(r.value + 1)) is False
  # the value of a question as posed, whatever document it came from; malformed: None
  q = "Eli has 3 cards. Step 1: add 4. Step 2: take away 2. How many cards does Eli have " \
      "after step 2?"
  assert ladder.true_answer(q) == 5
  assert ladder.true_answer(q.replace("Step 2: take away 2", "Step 2: multiply by 3")) == 21
  assert ladder.true_answer(q.replace("after step 2", "after step 3")) is None
  assert ladder.true_answer(q.replace("Step 2:", "Step 3:")) is None
  assert ladder.true_answer(q.replace("does Eli", "does Ana")) is None
  assert ladder.true_answer(q.replace("many cards", "many pens")) is None
  assert ladder.true_answer("What is 2 + 2?") is None


def test_targets_parse_and_verify_with_the_product_code():
  d = ladder.generate("warm", 1, seed=0)[0]
  deep = d.results()[-1]
  task = tasks_lib.parse(ladder.challenger_target(deep), "compact", expect="free_form")
  assert task.valid and task.answer == str(deep.value) and task.question == deep.question
  v = verify.score_detailed([ladder.solution(deep)], [str(deep.value)], ["integer"])[0]
  assert v.correct


def _question(example) -> str:
  """The ladder question of a warm example (Reasoner: in the prompt; Challenger: its reply)."""
  if example["role"] == "challenger":
    return example["completion"].split("\n")[0].removeprefix("Question: ")
  return re.search(r"(\w+ has \d+ .*\?)", example["messages"][-1]["content"]).group(1)


def _problem(question):
  """(q0, ops, operands) a ladder question asks about (its steps as written)."""
  p = ladder._parse_question(question)
  return p[0], tuple(op for op, _ in p[1]), tuple(y for _, y in p[1])


def test_build_files_and_warm_examples(tmp_path):
  files = ladder_build.build(str(tmp_path), n_warm=40, n_spice=30, n_renamed=10, seed=0,
                             max_depth=4, reasoner_depths=(1, 2), n_heldout=20)
  ex = [json.loads(l) for l in open(files.warm_examples)]
  warm = ladder.generate("warm", 40, seed=0, max_depth=4)
  chal_docs = [d for d in warm if ladder.warm_role(d.prefix) == "challenger"]
  reas_docs = [d for d in warm if ladder.warm_role(d.prefix) == "reasoner"]
  assert 0 < len(chal_docs) < 40
  chal = [e for e in ex if e["role"] == "challenger"]
  reas = [e for e in ex if e["role"] == "reasoner"]
  n_facts = len(ladder.all_facts())
  assert len(chal) == 4 * len(chal_docs) and len(reas) == n_facts + len(reas_docs)
  depth = lambda e: ladder.question_depth(_question(e))
  assert collections.Counter(map(depth, chal)) == {k: len(chal_docs) for k in (1, 2, 3, 4)}
  assert collections.Counter(map(depth, reas)) == {1: n_facts, 2: len(reas_docs)}
  # every fact is taught to the Reasoner; its deeper problems are its own documents'
  taught = collections.Counter(_problem(_question(e)) for e in reas)
  assert {(q0, ops[0], ys[0]) for (q0, ops, ys) in taught if len(ops) == 1} == \
      set(ladder.all_facts())
  assert {p for p in taught if len(p[1]) == 2} == _chains(reas_docs, (2,))
  assert not _chains(chal_docs, (2,)) & _chains(reas_docs, (2,))
  # every Reasoner example's solution is the true value
  for e in reas:
    assert e["completion"].endswith(f"\\boxed{{{ladder.true_answer(_question(e))}}}.")
  spice = ladder_build.read_docs(files.spice_docs)
  assert spice == ladder.generate("spice", 30, seed=0, max_depth=4)
  rows = [json.loads(l) for l in open(files.spice_docs)]
  assert [r["text"] for r in rows] == [d.text for d in spice]
  assert [r["id"] for r in rows] == [d.doc_id for d in spice]
  for part, path in (("dev", files.dev_docs), ("test", files.test_docs)):
    docs = ladder_build.read_docs(path)
    assert docs == ladder.heldout_documents(part, 0, 4, n=20) and len(docs) == 20
    assert {i.benchmark for i in ladder_build.eval_items(docs, part)} == \
        {f"{part}_d{k}" for k in range(1, 5)}
  renamed = ladder_build.read_docs(files.train_renamed_docs)
  assert len(renamed) == 10 and not {d.text for d in renamed} & {d.text for d in spice}
  assert {(d.q0, d.ops, d.operands) for d in renamed} <= {(d.q0, d.ops, d.operands)
                                                           for d in spice}
  with pytest.raises(ValueError, match="reasoner_depths"):
    ladder_build.build(str(tmp_path), n_warm=4, n_spice=4, n_renamed=1, max_depth=3,
                       reasoner_depths=(4,))


def test_experiment_builds_the_ladder_world_by_kind(tmp_path):
  from experiments import world_ladder, world_small
  from spice_jax import experiment
  from spice_jax.spice import config as config_lib
  cfg = world_ladder.experiment_config()
  cfg.world.n_warm, cfg.world.n_spice, cfg.world.n_renamed = 10, 8, 4
  kind = experiment.world_kind(cfg)
  assert kind == (ladder_build, ladder.eval_items, ladder.depth_of, ladder.sets_of)
  files = experiment.build_world(cfg, str(tmp_path / "ladder"))
  docs = ladder_build.read_docs(files.spice_docs)
  assert len(docs) == 8 and all(d.depth == world_ladder.MAX_DEPTH for d in docs)
  assert len(ladder_build.read_docs(files.dev_docs)) == ladder.HELDOUT_DOCS
  assert {e["role"] for e in map(json.loads, open(files.warm_examples))} == \
      {"challenger", "reasoner"}
  small = world_small.experiment_config()          # the default kind is the two-result world
  assert experiment.world_kind(small).depth_of is None
  assert experiment.world_kind(small).sets_of is None
  cfg.world.kind = "maze"
  with pytest.raises(ValueError, match="config.world.kind"):
    experiment.world_kind(cfg)
  spice = world_ladder.get_config("spice")
  assert spice.model.arch == "world-ladder"
  assert config_lib.SpiceConfig.from_config(spice.spice).gold_must_be_stated == "ladder"
  assert world_small.get_config("spice").spice.get("gold_must_be_stated", "") == ""
  assert world_ladder.get_config("sft").model.preset == "world-ladder"
  assert world_ladder.get_config("demo").spice.train.iterations == 40


def test_reasoner_repeat_multiplies_only_the_reasoner_examples():
  warm = ladder.generate("warm", 40, seed=0, max_depth=4)
  one = ladder_build.warm_examples(warm, 0, (1, 2), reasoner_repeat=1)
  three = ladder_build.warm_examples(warm, 0, (1, 2), reasoner_repeat=3)
  count = lambda ex, role: collections.Counter(
      json.dumps(e.to_json(), sort_keys=True) for e in ex if e.role == role)
  assert count(three, "challenger") == count(one, "challenger")
  problems = lambda ex: collections.Counter(
      _problem(_question(e.to_json())) for e in ex if e.role == "reasoner")
  assert problems(three) == {p: 3 * n for p, n in problems(one).items()}
  # the repeats vary name and item: a fact is not tied to one phrasing
  texts = collections.Counter(_question(e.to_json()) for e in three if e.role == "reasoner")
  assert len(texts) > 2 * len(problems(one))
  # without depth 1, no fact examples; depth 3 comes from the Reasoner-role documents
  deep = ladder_build.warm_examples(warm, 0, (3,))
  assert {len(p[1]) for p in problems(deep)} == {3}
  with pytest.raises(ValueError, match="reasoner_repeat"):
    ladder_build.warm_examples(warm, 0, (1, 2), reasoner_repeat=0)
