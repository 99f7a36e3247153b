"""The co-evolution probe with fake hooks, its outputs, and the default hooks."""
import collections
import json
import os
import types

import pytest

from spice_jax.eval import coevolution as C


def _fakes(fixed_probe_log=None):
  """params = the step; a task records its Challenger step as its difficulty; the pass
  rate of Reasoner@r on a task of Challenger@c is 0.55 + 0.0015 (r - c) (paper Fig. 3
  shape: 55 % -> 85 % and 55 % -> 25 % over 200 steps)."""
  loads = collections.Counter()

  def load_params(step):
    loads[step] += 1
    return step

  def generate_tasks(params, docs):
    # Every third document gets an invalid task (ignored by the probe).
    return [types.SimpleNamespace(valid=(i % 3 != 2), question=f"q{i}", answer="1",
                                  kind="integer", difficulty=params)
            for i, _ in enumerate(docs)]

  def solve(params, tasks):
    assert all(t.valid for t in tasks)
    return [0.55 + 0.0015 * (params - t.difficulty) for t in tasks]

  return loads, load_params, generate_tasks, solve


def test_probe_values_and_directions():
  loads, lp, gen, solve = _fakes()
  docs = [{"text": f"d{i}"} for i in range(6)]
  rows = C.probe([300, 200, 400], docs, load_params=lp, generate_tasks=gen, solve=solve,
                 fixed_step=200)
  assert [r.step for r in rows] == [200, 300, 400]
  assert [r.reasoner_vs_fixed_challenger for r in rows] == pytest.approx([0.55, 0.70, 0.85])
  assert [r.fixed_reasoner_vs_challenger for r in rows] == pytest.approx([0.55, 0.40, 0.25])
  assert [r.tasks for r in rows] == [4, 4, 4]
  assert [r.valid_rate for r in rows] == pytest.approx([4 / 6] * 3)
  assert loads == {200: 1, 300: 1, 400: 1}  # each checkpoint loaded once


def test_probe_skips_steps_before_the_fixed_one_and_defaults_to_first():
  loads, lp, gen, solve = _fakes()
  docs = [{"text": "d"}] * 3
  rows = C.probe([100, 200, 300], docs, load_params=lp, generate_tasks=gen, solve=solve,
                 fixed_step=200)
  assert [r.step for r in rows] == [200, 300] and 100 not in loads
  rows = C.probe([300, 100], docs, load_params=lp, generate_tasks=gen, solve=solve)
  assert [r.step for r in rows] == [100, 300]
  assert rows[1].reasoner_vs_fixed_challenger == pytest.approx(0.55 + 0.0015 * 200)


def test_probe_with_no_valid_tasks_gives_none():
  _, lp, _, solve = _fakes()

  def gen(params, docs):
    return [types.SimpleNamespace(valid=False, question="", answer="", kind="")] * len(docs)
  rows = C.probe([1, 2], [{"text": "d"}], load_params=lp, generate_tasks=gen, solve=solve)
  assert all(r.reasoner_vs_fixed_challenger is None for r in rows)
  assert all(r.fixed_reasoner_vs_challenger is None and r.tasks == 0 for r in rows)
  with pytest.raises(ValueError, match="document pool is empty"):
    C.probe([1], [], load_params=lp, generate_tasks=gen, solve=solve)


def test_write_table_csv_json_plot(tmp_path):
  _, lp, gen, solve = _fakes()
  rows = C.probe([200, 300, 400], [{"text": "d"}] * 3, load_params=lp, generate_tasks=gen,
                 solve=solve)
  paths = C.write(rows, str(tmp_path), fixed_step=200, meta={"k": 1})
  md = open(paths["md"]).read().splitlines()
  assert "Reasoner@step vs Challenger@200" in md[0]
  assert md[2] == "| 200 | 55.0 | 55.0 | 2 | 66.7 |"
  assert md[4] == "| 400 | 85.0 | 25.0 | 2 | 66.7 |"
  data = json.load(open(paths["json"]))
  assert data["fixed_step"] == 200 and len(data["rows"]) == 3 and data["meta"] == {"k": 1}
  assert open(paths["csv"]).readline().strip() == (
      "step,reasoner_vs_fixed_challenger,fixed_reasoner_vs_challenger,tasks,valid_rate")
  with open(paths["png"], "rb") as f:
    assert f.read(4) == b"\x89PNG"


def test_make_solve_pass_rates(byte_tok, scripted):
  # Task "always" is always right, "half" right on even rows, "never" never.
  gen = scripted(byte_tok, {"always": "\\boxed{5}",
                            "half": lambda sr: "\\boxed{5}" if sr[1] % 2 == 0 else "\\boxed{6}",
                            "never": "\\boxed{0}"})

  class Sampler:
    cfg = types.SimpleNamespace(max_seq_len=10_000)

    def __call__(self, params, prompts, *, stop_ids=(), **kw):
      assert params == "P" and stop_ids == (9,)
      return gen(prompts, **kw)

  solve = C.make_solve(Sampler(), byte_tok, template="plain", stop_ids=[9], num_answers=4,
                       temperature=1.0, max_new_tokens=16, batch_size=4)
  tasks = [types.SimpleNamespace(question=q, answer="5", kind="integer")
           for q in ("always 2+3", "half 2+3", "never 2+3")]
  rates = solve("P", tasks)
  assert rates == pytest.approx([1.0, 0.5, 0.0])
  assert {c["temperature"] for c in gen.calls} == {1.0}
  assert sum(c["n"] for c in gen.calls) == 12
  assert solve("P", []) == []


def test_selfplay_generate_tasks_picks_first_valid_per_document():
  T = types.SimpleNamespace

  class FakeSelfPlay:
    def __init__(self):
      self.seeds = []

    def challenge(self, params, docs, *, seed, counters):
      self.seeds.append(seed)
      bad = T(valid=False, question="", answer="", kind="")
      good = T(valid=True, question="Q", answer="A", kind="mcq")
      return [T(attempts=a) for a in ([T(task=bad), T(task=good)], [T(task=bad)], [])]

  sp = FakeSelfPlay()
  gen = C.selfplay_generate_tasks(sp, seed=3)
  tasks = gen("params", [{"text": "a"}, {"text": "b"}, {"text": "c"}])
  assert [t.valid for t in tasks] == [True, False, False]
  assert tasks[0].question == "Q"
  gen("params2", [{"text": "a"}] * 3)
  assert sp.seeds[0] == sp.seeds[1]  # the same random choices for every step


def test_read_documents_and_steps(tmp_path):
  p = tmp_path / "docs.jsonl"
  p.write_text("\n".join(json.dumps({"text": f"doc {i}"}) for i in range(5)) + "\n")
  assert [d["text"] for d in C.read_documents(str(p), 3)] == ["doc 0", "doc 1", "doc 2"]
  t = tmp_path / "docs.txt"
  t.write_text("first para\n\nsecond para\n")
  assert [d["text"] for d in C.read_documents(str(t), 10)] == ["first para", "second para"]
  bad = tmp_path / "bad.jsonl"
  bad.write_text(json.dumps({"body": "x"}) + "\n")
  with pytest.raises(ValueError, match="line 1: expected an object with a string field 'text'"):
    C.read_documents(str(bad), 1)
  (tmp_path / "run" / "checkpoints" / "10").mkdir(parents=True)
  (tmp_path / "run" / "checkpoints" / "2").mkdir()
  (tmp_path / "run" / "checkpoints" / "tmp").mkdir()
  assert C.checkpoint_steps(str(tmp_path / "run")) == [2, 10]


def test_run_coevolution_plumbing(tmp_path, monkeypatch):
  """evaluate.run_coevolution: steps from the run dir, the document file, fixed step, outputs."""
  from spice_jax import evaluate
  for s in (5, 10, 15):
    (tmp_path / "run" / "checkpoints" / str(s)).mkdir(parents=True)
  docs = tmp_path / "docs.jsonl"
  docs.write_text("\n".join(json.dumps({"text": f"d{i}"}) for i in range(9)) + "\n")
  _, lp, gen, solve = _fakes()
  seen = {}

  def fake_hooks(workdir, **kw):
    seen.update(kw, workdir=workdir)
    return lp, gen, solve, lambda n: pytest.fail("documents come from the file")
  monkeypatch.setattr(C, "hooks_from_workdir", fake_hooks)
  paths = evaluate.run_coevolution(str(tmp_path / "run"), str(tmp_path / "out"),
                                   documents=str(docs), num_docs=6, fixed_step=10,
                                   num_answers=3, verifier_workers=1)
  data = json.load(open(paths["json"]))
  assert data["fixed_step"] == 10 and [r["step"] for r in data["rows"]] == [10, 15]
  assert data["rows"][1]["reasoner_vs_fixed_challenger"] == pytest.approx(0.55 + 0.0015 * 5)
  assert data["meta"]["documents"] == 6
  assert seen["first_step"] == 10 and seen["num_answers"] == 3


@pytest.mark.slow
def test_probe_with_the_default_hooks_on_real_checkpoints(tiny_run):
  """The default wiring: a tiny run's checkpoint, its SelfPlay config, the real sampler.
  (Random weights write no valid task, so the pass rates are None; `solve` is checked on
  hand-made tasks.)"""
  from spice_jax.spice import verify
  workdir, mesh = tiny_run
  docs = [{"text": "The Nile is about 6650 km long and flows north."},
          {"text": "Water boils at 100 degrees Celsius at sea level."}]
  with verify.VerifierPool(1) as pool:
    load_params, gen, solve, _ = C.hooks_from_workdir(
        workdir, mesh=mesh, num_answers=2, max_new_tokens=8, pool=pool, first_step=1)
    rows = C.probe([1], docs, load_params=load_params, generate_tasks=gen, solve=solve)
    assert [r.step for r in rows] == [1]
    assert 0.0 <= rows[0].valid_rate <= 1.0
    for v in (rows[0].reasoner_vs_fixed_challenger, rows[0].fixed_reasoner_vs_challenger):
      assert v is None or 0.0 <= v <= 1.0
    # solve runs the real sampler (K = 2 answers) on hand-made tasks.
    tasks = [types.SimpleNamespace(question="What is 2 + 2?", answer="4", kind="integer"),
             types.SimpleNamespace(question="Pick one.\n\nA) x\nB) y\nC) z\nD) w",
                                   answer="B", kind="mcq")]
    rates = solve(load_params(1), tasks)
    assert len(rates) == 2 and all(r in (0.0, 0.5, 1.0) for r in rates)
  assert os.path.getsize(C.write(rows, os.path.join(workdir, "probe"))["png"]) > 0
