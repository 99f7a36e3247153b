"""The ladder world: ground truth by independent recomputation, splits disjoint at every
depth, held-out sizes per depth, depth_of, determinism, files."""

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


@pytest.mark.parametrize("split", ladder.SPLITS)
def test_every_result_matches_its_steps_and_the_document(split):
  for d in ladder.generate(split, 200, seed=3):
    results = d.results()
    assert [r.difficulty for r in results] == list(range(1, ladder.MAX_DEPTH + 1))
    assert _check_steps(results[0].steps[:1]) and int(results[0].steps[0].split()[0]) == d.q0
    values = [r.value for r in results]
    assert len(set(values)) == len(values)                       # depth_of is unambiguous
    for k, r in enumerate(results, start=1):
      assert _check_steps(r.steps) == r.value
      assert r.steps == results[-1].steps[:k]                     # a chain: prefixes
      assert ladder.VAL_LO <= r.value <= ladder.VAL_HI
      assert f"After step {k}: {r.value}." in d.text             # the document states it
      # the question restates the start and the k steps it needs, never the result
      assert r.question.startswith(d.premise(k)) and f"Step {k + 1}:" not in r.question
      tail = r.question.replace(d.premise(k), "").replace(f"after step {k}?", "")
      assert r.value not in _numbers(tail)


def test_splits_are_disjoint_at_every_depth_and_deterministic():
  roots = {s: set(ladder.all_roots(s)) for s in ladder.SPLITS}
  assert not roots["warm"] & roots["spice"] and not roots["warm"] & roots["eval"]
  assert not roots["spice"] & roots["eval"]
  chains = {s: {(d.q0, d.ops[:k], d.operands[:k]) for d in ladder.generate(s, 400, seed=1)
                for k in range(1, d.depth + 1)} for s in ("warm", "spice")}
  chains["eval"] = {(d.q0, d.ops[:k], d.operands[:k])
                    for p in ladder.UNSEEN for d in ladder.heldout_documents(p, seed=0)
                    for k in range(1, d.depth + 1)}
  for a, b in (("warm", "spice"), ("warm", "eval"), ("spice", "eval")):
    assert not chains[a] & chains[b], (a, b)                    # no problem at any depth
  assert ladder.generate("spice", 30, seed=1) == ladder.generate("spice", 30, seed=1)
  assert ladder.generate("spice", 30, seed=1) != ladder.generate("spice", 30, seed=2)
  assert ladder.heldout_documents("dev", 0) == ladder.heldout_documents("dev", 0)
  # held-out problems are fixed; the seed only renames and reorders
  probs = lambda seed: sorted((d.q0, d.ops, d.operands)
                              for d in ladder.heldout_documents("test", seed))
  assert probs(0) == probs(1)
  assert [d.depth for d in ladder.generate("warm", 5, seed=0, max_depth=3)] == [3] * 5
  with pytest.raises(ValueError, match="max_depth"):
    ladder.generate("warm", 5, max_depth=0)


def test_dev_and_test_sizes_per_depth():
  dev, test = (set(ladder.heldout_roots(p)) for p in ladder.UNSEEN)
  assert dev | test == set(ladder.all_roots("eval")) and not dev & test
  assert abs(len(dev) - len(test)) <= 1
  for part in ladder.UNSEEN:
    docs = ladder.heldout_documents(part, seed=0)
    items = ladder.eval_items(docs, part)
    assert len(items) >= 200                                     # one task <= 0.5 points
    per_depth = collections.Counter(i.benchmark for i in items)
    assert set(per_depth) == {f"{part}_d{k}" for k in range(1, ladder.MAX_DEPTH + 1)}
    assert min(per_depth.values()) >= 80                         # one task <= 1.25 points
    for k in range(1, ladder.MAX_DEPTH + 1):                     # distinct problems per depth
      assert len({(d.q0, d.ops[:k], d.operands[:k]) for d in docs}) == len(docs)
    assert all(ladder.heldout_part(d.root) == part for d in docs[:20])
  assert ladder.heldout_part(ladder.all_roots("warm")[0]) is None
  with pytest.raises(ValueError, match="held-out part 'eval'"):
    ladder.heldout_roots("eval")


def test_depth_of_and_true_answer():
  d = ladder.LadderDoc("x", 5, ("+", "*", "-"), (7, 2, 3), "Ana", "pens")
  assert d.values() == (12, 24, 21)
  assert d.text == ("Ana has 5 pens. Step 1: add 7. Step 2: multiply by 2. Step 3: take away "
                    "3. After step 1: 12. After step 2: 24. After step 3: 21.")
  for doc in (d, d.text):
    assert [ladder.depth_of(doc, v) for v in (12, "24", " 21 ", 5, 7, "x", "2.5")] == \
        [1, 2, 3, None, None, None, None]
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


def test_build_files_and_warm_examples(tmp_path):
  files = ladder_build.build(str(tmp_path), n_warm=40, n_spice=30, n_renamed=10, seed=0,
                             max_depth=4, reasoner_depths=(1, 2))
  ex = [json.loads(l) for l in open(files.warm_examples)]
  warm = ladder.generate("warm", 40, seed=0, max_depth=4)
  n_chal = sum(ladder.warm_role(d.root) == "challenger" for d in warm)
  assert 0 < n_chal < 40
  chal = [e for e in ex if e["role"] == "challenger"]
  reas = [e for e in ex if e["role"] == "reasoner"]
  assert len(chal) == 4 * n_chal and len(reas) == 2 * (40 - n_chal)
  depth = lambda q: ladder.question_depth(q)
  assert collections.Counter(depth(e["completion"].split("\n")[0].removeprefix("Question: "))
                             for e in chal) == {k: n_chal for k in (1, 2, 3, 4)}
  reas_q = [re.search(r"(\w+ has \d+ .*\?)", e["messages"][-1]["content"]).group(1)
            for e in reas]
  assert {depth(q) for q in reas_q} == {1, 2}
  chal_roots = {d.root for d in warm if ladder.warm_role(d.root) == "challenger"}
  assert all(ladder.warm_role(d.root) == "reasoner" for d in warm
             if d.root not in chal_roots)
  spice = ladder_build.read_docs(files.spice_docs)
  assert spice == ladder.generate("spice", 30, seed=0, max_depth=4)
  rows = [json.loads(l) for l in open(files.spice_docs)]
  assert [r["text"] for r in rows] == [d.text for d in spice]
  assert [r["id"] for r in rows] == [d.doc_id for d in spice]
  for part, path in (("dev", files.dev_docs), ("test", files.test_docs)):
    docs = ladder_build.read_docs(path)
    assert docs == ladder.heldout_documents(part, 0, 4)
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
  cfg = world_ladder.experiment_config()
  cfg.world.n_warm, cfg.world.n_spice, cfg.world.n_renamed = 10, 8, 4
  builder, items, depth_of = experiment.world_kind(cfg)
  assert builder is ladder_build and items is ladder.eval_items and depth_of is ladder.depth_of
  files = experiment.build_world(cfg, str(tmp_path / "ladder"))
  docs = ladder_build.read_docs(files.spice_docs)
  assert len(docs) == 8 and all(d.depth == world_ladder.MAX_DEPTH for d in docs)
  assert {e["role"] for e in map(json.loads, open(files.warm_examples))} == \
      {"challenger", "reasoner"}
  small = world_small.experiment_config()          # the default kind is the two-result world
  assert experiment.world_kind(small)[2] is None
  cfg.world.kind = "maze"
  with pytest.raises(ValueError, match="config.world.kind"):
    experiment.world_kind(cfg)
  assert world_ladder.get_config("spice").model.arch == "world-ladder"
  assert world_ladder.get_config("sft").model.preset == "world-ladder"
  assert world_ladder.get_config("demo").spice.train.iterations == 40


def test_reasoner_repeat_multiplies_only_the_reasoner_examples():
  warm = ladder.generate("warm", 40, seed=0, max_depth=4)
  one = ladder_build.warm_examples(warm, 0, (1, 2), reasoner_repeat=1)
  three = ladder_build.warm_examples(warm, 0, (1, 2), reasoner_repeat=3)
  count = lambda ex, role: collections.Counter(
      json.dumps(e.to_json(), sort_keys=True) for e in ex if e.role == role)
  assert count(three, "challenger") == count(one, "challenger")
  assert count(three, "reasoner") == {k: 3 * v for k, v in count(one, "reasoner").items()}
  with pytest.raises(ValueError, match="reasoner_repeat"):
    ladder_build.warm_examples(warm, 0, (1, 2), reasoner_repeat=0)
