"""One self-play iteration with a scripted sampler: rewards, groups, kept ratio, ablations."""
import math

import ml_collections
import numpy as np
import pytest

from spice_jax.errors import ConfigError
from spice_jax.sampling import SampleOutput
from spice_jax.spice import prompts, selfplay, verify
from spice_jax.spice.selfplay import keep_preserving_ratio


class ScriptedSampler:
  """Stands in for `sampling.Sampler`: answers each prompt with a scripted text."""

  def __init__(self, tok, script):
    self.tok, self.script, self.calls, self.row_seeds = tok, script, [], []

  def __call__(self, params, prompts_, *, max_new_tokens, temperature, top_p, stop_ids,
               row_seeds, on_finish=None, follow_ups=None):
    assert len(row_seeds) == len(prompts_)
    assert follow_ups is False  # the trainer's on_finish only observes rows
    self.row_seeds += list(row_seeds)
    texts = [self.script(self.tok.decode(p, skip_special=False), params) for p in prompts_]
    self.calls.append((params, [self.tok.decode(p, skip_special=False) for p in prompts_]))
    N = len(prompts_)
    ids = [self.tok.encode(t)[:max_new_tokens] for t in texts]
    toks = np.zeros((N, max_new_tokens), np.int32)
    for i, x in enumerate(ids):
      toks[i, :len(x)] = x
    lens = np.array([len(x) for x in ids], np.int32)
    lp = np.full((N, max_new_tokens), -0.5, np.float32)
    for r in range(N):
      if on_finish is not None:
        on_finish(r, toks[r, :lens[r]], lp[r, :lens[r]], "stop")
    return SampleOutput(toks, lp, lp, lens, ["stop"] * N)


def _cfg(**kw):
  c = ml_collections.ConfigDict(dict(
      num_docs=2, group_size=4, num_answers=4, formats=("free_form",),
      format_selection="fixed", challenger_style="compact", template_dir="",
      chat_layout="chat", round_size=4, max_challenger_attempts=8,
      challenger_temperature=1.0, reasoner_temperature=1.0, top_p=1.0,
      challenger_max_tokens=64, reasoner_max_tokens=64, format_selection_max_tokens=32,
      challenger_reward="variance", reward_params={"variance": {"sigma2": 0.01}},
      invalid_reward=-0.1, pseudo_labels="gold"))
  c.update(kw)
  return c


DOCS = [{"text": "A train travels 120 km in 2 hours. Its average speed is 60 km/h.",
         "doc_id": "d0", "source": "demo", "offset": 0},
        {"text": "Water boils at 100 degrees Celsius at sea level.", "doc_id": "d1",
         "source": "demo", "offset": 0}]


def make_script(n_correct=2, K=4):
  """Doc d0 -> a valid integer task (answer 60), alternately invalid; d1 -> always invalid.
  The Reasoner answers the first n_correct of every K prompts correctly."""
  state = {"chal": 0, "reas": 0}

  def script(prompt, params):
    if "[BEGINNING OF THE DOCUMENT]" in prompt or "Question: <the question>" in prompt:
      state["chal"] += 1
      if "120 km" in prompt or "[BEGINNING" not in prompt:
        if state["chal"] % 2:
          return "Question: What is the average speed in km/h of a train going 120 km in 2 h?\nAnswer: 60\nType: Integer"
        return "I cannot write a question."
      return "no idea"
    state["reas"] += 1
    good = ((state["reas"] - 1) % K) < n_correct
    return "The speed is \\boxed{60}." if good else "It is \\boxed{45}."
  return script


def _play(tok, pool, cfg, script, *, grounded=True, chal_params=None, docs=DOCS):
  sam = ScriptedSampler(tok, script)
  policy = selfplay.Actor(sam, tok, "chat", (2,))
  chal = policy if chal_params is None else selfplay.Actor(sam, tok, "chat", (2,),
                                                           params=chal_params)
  sp = selfplay.SelfPlay(cfg, policy=policy, challenger=chal, pool=pool, grounded=grounded,
                         sampler_batch=64)
  return sp.iteration("POLICY", docs if grounded else [None] * len(docs), seed=0, step=1), sam


def test_keep_preserving_ratio():
  assert keep_preserving_ratio(3, 5, 8) == (3, 5)
  assert keep_preserving_ratio(1, 15, 8) == (1, 7)
  assert keep_preserving_ratio(10, 6, 8) == (5, 3)
  assert keep_preserving_ratio(0, 8, 8) == (0, 8)
  assert keep_preserving_ratio(2, 0, 8) == (2, 0)
  assert keep_preserving_ratio(7, 1, 4) == (4, 0)   # 3.5 rounds half up
  assert keep_preserving_ratio(1, 1, 8) == (1, 1)


def test_iteration_rewards_groups_and_advantages(tok, pool):
  res, _ = _play(tok, pool, _cfg(), make_script(n_correct=2))
  chal = [t for t in res.trajectories if t.role == "challenger"]
  reas = [t for t in res.trajectories if t.role == "reasoner"]
  assert len(chal) == 8 and len(reas) == 4          # G per doc; K for d0's selected task
  d0 = [t for t in chal if t.group_id == 0]
  d1 = [t for t in chal if t.group_id == 1]
  # d0: 4 attempts, 2 valid -> keep 2 valid : 2 invalid. Pass rate 2/4 -> r_C = 1.
  assert np.allclose(sorted(t.reward for t in d0), [-0.1, -0.1, 1.0, 1.0], atol=1e-6)
  mean = np.mean([t.reward for t in d0])
  for t in d0:
    assert math.isclose(t.advantage, t.reward - mean, abs_tol=1e-6)
  # d1: no valid task within the cap: G invalid, all rho, zero advantage, no Reasoner group.
  assert np.allclose([t.reward for t in d1], -0.1) and len(d1) == 4
  assert all(abs(t.advantage) < 1e-7 for t in d1)
  assert {t.group_id for t in reas} == {2}
  assert sorted(t.reward for t in reas) == [0, 0, 1, 1]
  for t in reas:
    assert math.isclose(t.advantage, t.reward - 0.5, abs_tol=1e-6)
  m = res.metrics
  assert m["challenger/attempts_per_doc_max"] == 8      # d1 used the whole cap
  assert m["challenger/docs_without_valid"] == 1
  assert m["reasoner/accuracy"] == 0.5
  assert m["challenger/pass_rate_hist"] == [0, 0, 2, 0, 0]
  audit = res.audit
  assert len(audit) == 8 and {a["doc_id"] for a in audit} == {"d0", "d1"}
  valid = [a for a in audit if a["valid"]]
  assert all(a["gold"] == "60" and len(a["reasoner"]) == 4 for a in valid)


# K = 4 here: p = k/4, the SPEC §4 formula gives 0.0439, 0.8226, 1.0, 0.8226, 0.0439.
@pytest.mark.parametrize("k,expect", [(0, 0.0439), (1, 0.8226), (3, 0.8226), (4, 0.0439)])
def test_challenger_reward_follows_pass_rate(tok, pool, k, expect):
  res, _ = _play(tok, pool, _cfg(), make_script(n_correct=k))
  d0 = [t.reward for t in res.trajectories if t.role == "challenger" and t.group_id == 0]
  assert max(d0) == pytest.approx(expect, abs=1e-4)


def test_no_corpus_prompts_hold_no_document(tok, pool):
  res, sam = _play(tok, pool, _cfg(), make_script(), grounded=False)
  chal_prompts = [p for _, ps in sam.calls for p in ps if "Question: <the question>" in p]
  assert chal_prompts
  for p in chal_prompts:
    assert "[BEGINNING OF THE DOCUMENT]" not in p and "120 km" not in p and "boils" not in p
  assert all(a["template"].endswith("_nodoc") for a in res.audit)


def test_fixed_challenger_uses_frozen_params_and_trains_no_challenger(tok, pool):
  res, sam = _play(tok, pool, _cfg(challenger="initial", train_challenger=False),
                   make_script(), chal_params="FROZEN")
  assert not [t for t in res.trajectories if t.role == "challenger"]
  assert [t for t in res.trajectories if t.role == "reasoner"]
  for params, ps in sam.calls:
    is_chal = any("Question: <the question>" in p for p in ps)
    assert params == ("FROZEN" if is_chal else "POLICY")


def test_majority_pseudo_labels(tok, pool):
  # 3 of 4 answers say 60 (gold agrees), but labels come from the majority, not the gold.
  cfg = _cfg(pseudo_labels="majority", challenger_reward="rzero", invalid_reward=-1.0)
  res, _ = _play(tok, pool, cfg, make_script(n_correct=1))  # majority answer = 45
  reas = [t for t in res.trajectories if t.role == "reasoner"]
  assert sorted(t.reward for t in reas) == [0, 1, 1, 1]
  d0 = [t.reward for t in res.trajectories if t.role == "challenger" and t.group_id == 0]
  assert max(d0) == pytest.approx(1 - 2 * abs(0.75 - 0.5))
  assert min(d0) == -1.0


def test_hanging_verification_is_marked_wrong_and_iteration_completes(tok):
  """A Reasoner answer that makes sympy hang: the worker is killed at the timeout, the item
  is wrong with reason 'timeout', the pool replaces the worker and the iteration finishes."""
  import time
  K = 4

  def script(prompt, params):
    if "Question: <the question>" in prompt:
      return ("Question: What is the average speed in km/h of a train going 120 km in 2 h?\n"
              "Answer: 60\nType: Integer")
    return "\\boxed{9^{9^{9^{9^{9}}}}}"
  with verify.VerifierPool(1, timeout=2.0) as pool:
    t = time.time()
    res, _ = _play(tok, pool, _cfg(num_docs=1), script, docs=DOCS[:1])
    assert time.time() - t < 60
    answers = [r for a in res.audit if a["valid"] for r in a["reasoner"]]
    assert answers and all(not r["correct"] for r in answers)
    assert {r["reason"] for r in answers} <= {"timeout", "wrong", "pred_unparsed"}
    assert "timeout" in {r["reason"] for r in answers}
    # The pool still works after the kills.
    assert verify.score(["\\boxed{\\frac{1}{2}}"], ["0.5"], ["expression"], pool=pool) == [True]


def test_attempts_used_per_document_are_audited(tok, pool):
  """SPEC §2.5: every audit record says how many attempts its document used."""
  res, _ = _play(tok, pool, _cfg(), make_script())
  used = {a["doc_id"]: a["attempts_used"] for a in res.audit}
  assert used == {"d0": 4, "d1": 8}      # d0 found a valid task in round 1; d1 hit the cap


def test_format_selection_answer_type_reaches_the_free_form_prompt(tok, pool, tmp_path):
  """SPEC §2.2–2.3: best_answer_type is passed to the free-form prompt (a user template may
  use {{answer_type}}) and the format-selection output is in the audit trail."""
  (tmp_path / "challenger_compact_free_form.v1.txt").write_text(
      "Write a question with answer type {{answer_type}}.\n"
      "[BEGINNING OF THE DOCUMENT]\n{{document}}\n[END OF THE DOCUMENT]\n"
      "Question: <the question>")
  selection = ('{"suitable_for_mcq": false, "suitable_for_free_form": true, '
               '"best_answer_type": "integer", "reason": "numbers"}')
  inner = make_script()

  def script(prompt, params):
    if "Decide what kind of exam question" in prompt:
      return selection
    return inner(prompt, params)
  cfg = _cfg(formats=("mcq", "free_form"), format_selection="model", template_dir=str(tmp_path),
             format_selection_max_tokens=64)
  res, sam = _play(tok, pool, cfg, script)
  chal = [p for _, ps in sam.calls for p in ps if "Question: <the question>" in p]
  assert chal and all("with answer type Integer." in p for p in chal), chal[0]
  assert all(a["answer_type_hint"] == "Integer" for a in res.audit)
  assert all(a["format_selection"] == selection for a in res.audit)
  assert all(a["fmt"] == "free_form" for a in res.audit)


def test_results_do_not_depend_on_how_documents_are_split(tok, pool):
  """Host-local self-play: two 'processes' each playing half of the batch (doc_offset) draw
  the same row seeds and make the same choices, rewards and advantages as one process."""
  docs = [DOCS[0], DOCS[1], DOCS[0], DOCS[1]]
  cfg = _cfg(num_docs=4, group_size=2, round_size=3, max_challenger_attempts=6)

  def play(part, offset):
    sam = ScriptedSampler(tok, make_script(n_correct=2))
    actor = selfplay.Actor(sam, tok, "chat", (2,))
    sp = selfplay.SelfPlay(cfg, policy=actor, challenger=actor, pool=pool, sampler_batch=64)
    return sp.iteration("P", part, seed=7, step=1, doc_offset=offset), sam

  whole, sam_w = play(docs, 0)
  halves = [play(docs[:2], 0), play(docs[2:], 2)]
  assert sorted(sam_w.row_seeds) == sorted(s for _, sam in halves for s in sam.row_seeds)
  assert len(set(sam_w.row_seeds)) == len(sam_w.row_seeds)        # no two rows share a seed
  def key(r):
    return r["doc_index"], r["challenger_output"], r["challenger_reward"]
  split_audit = [r for res, _ in halves for r in res.audit]
  assert [key(r) for r in whole.audit] == [key(r) for r in split_audit]
  for a, b in zip(whole.audit, split_audit):
    assert a["challenger_advantage"] == pytest.approx(b["challenger_advantage"], abs=1e-7)


def test_each_half_verifies_half_of_the_answers(tok, pool):
  """Host work splits with the documents: each half of the batch parses and verifies only
  its own documents' outputs and answers."""
  docs = [DOCS[0]] * 4
  cfg = _cfg(num_docs=4, group_size=2, round_size=2, max_challenger_attempts=2)

  def play(part, offset):
    sam = ScriptedSampler(tok, make_script(n_correct=2))
    actor = selfplay.Actor(sam, tok, "chat", (2,))
    sp = selfplay.SelfPlay(cfg, policy=actor, challenger=actor, pool=pool, sampler_batch=64)
    return sp.iteration("P", part, seed=3, step=1, doc_offset=offset).metrics

  whole = play(docs, 0)
  halves = [play(docs[:2], 0), play(docs[2:], 2)]
  assert whole["host/answers_verified"] > 0
  for key in ("host/answers_verified", "host/outputs_parsed"):
    assert [h[key] for h in halves] == [whole[key] / 2] * 2


def test_answer_in_document_invalidates_made_up_golds(tok, pool):
  """The opt-in grounding check: d0's gold 60 is in its document, so its tasks stay valid;
  a gold the document does not state makes the task invalid with its reason code."""
  res, _ = _play(tok, pool, _cfg(answer_in_document=True), make_script())
  assert [a["reason"] for a in res.audit if a["doc_id"] == "d0" and a["valid"]]
  made_up = lambda p, params: ("Question: How fast is a train going 120 km in 2 h?\n"
                               "Answer: 61\nType: Integer" if "[BEGINNING" in p else
                               "\\boxed{61}")
  res, _ = _play(tok, pool, _cfg(answer_in_document=True), made_up)
  assert not any(a["valid"] for a in res.audit)
  assert {a["reason"] for a in res.audit} == {"answer_not_in_document"}
  res, _ = _play(tok, pool, _cfg(), made_up)         # off (the paper): the task is valid
  assert all(a["valid"] for a in res.audit)


GROUNDED_MARK = "Use the document above"   # the reasoner_grounded template's instruction


def grounded_script(n_plain, n_grounded, K=4):
  """make_script's Challenger and Reasoner; a Reasoner prompt that holds the document (the
  grounded pass) is answered correctly for the first n_grounded of every K."""
  inner, seen = make_script(n_correct=n_plain, K=K), {"g": 0}

  def script(prompt, params):
    if GROUNDED_MARK in prompt:
      seen["g"] += 1
      return "\\boxed{60}" if (seen["g"] - 1) % K < n_grounded else "\\boxed{45}"
    return inner(prompt, params)
  return script


def test_grounding_regret_samples_the_grounded_pass(tok, pool):
  """SPADE's grounding regret: every valid task is also answered K times with its document;
  r_C = max(0, p_grounded - p); those answers are scored, never trained on."""
  res, sam = _play(tok, pool, _cfg(challenger_reward="grounding_regret", reward_params={}),
                   grounded_script(n_plain=1, n_grounded=3))
  grounded_prompts = [p for _, ps in sam.calls for p in ps if GROUNDED_MARK in p]
  tasks = [t for p in res.plays for t in p.tasks]
  assert len(tasks) == 2 and len(grounded_prompts) == len(tasks) * 4
  assert all("120 km in 2 hours" in p and "average speed" in p for p in grounded_prompts)
  for t in tasks:
    assert t.pass_rate == 0.25 and t.grounded_pass_rate == 0.75
  d0 = [t.reward for t in res.trajectories if t.role == "challenger" and t.group_id == 0]
  assert np.allclose(sorted(d0), [-0.1, -0.1, 0.5, 0.5], atol=1e-6)   # 0.75 - 0.25; rho
  reas = [t for t in res.trajectories if t.role == "reasoner"]
  assert len(reas) == 4 and sorted(t.reward for t in reas) == [0, 0, 0, 1]
  for t in reas:                                   # the training prompt has no document
    text = tok.decode(t.prompt_tokens, skip_special=False)
    assert GROUNDED_MARK not in text and "120 km in 2 hours" not in text
  m = res.metrics
  assert m["challenger/grounded_pass_rate_mean"] == 0.75
  assert m["challenger/grounding_regret_mean"] == 0.5
  assert m["host/grounded_answers_verified"] == 8 and m["host/answers_verified"] == 8
  assert m["tokens/reasoner_grounded"] > 0
  valid = [a for a in res.audit if a["valid"]]
  assert valid and all(a["grounded_pass_rate"] == 0.75 and len(a["reasoner_grounded"]) == 4
                       for a in valid)
  assert all("grounded_pass_rate" not in a for a in res.audit if not a["valid"])
  assert len(set(sam.row_seeds)) == len(sam.row_seeds)          # its own row seeds


@pytest.mark.parametrize("reward", ["variance", "plateau"])
def test_no_grounded_pass_for_other_rewards(tok, pool, reward):
  res, sam = _play(tok, pool, _cfg(challenger_reward=reward, reward_params={}),
                   grounded_script(n_plain=1, n_grounded=3))
  assert not [p for _, ps in sam.calls for p in ps if GROUNDED_MARK in p]
  assert all(t.grounded_pass_rate is None for p in res.plays for t in p.tasks)
  assert "challenger/grounded_pass_rate_mean" not in res.metrics
  d0 = [t.reward for t in res.trajectories if t.role == "challenger" and t.group_id == 0]
  # p = 1/4: variance 0.8226 (SPEC table, K = 4); plateau 0.15 below the band -> 0.4.
  assert max(d0) == pytest.approx({"variance": 0.8226, "plateau": 0.4}[reward], abs=1e-4)


def test_grounding_regret_needs_a_corpus(tok, pool):
  actor = selfplay.Actor(ScriptedSampler(tok, make_script()), tok, "chat", (2,))
  with pytest.raises(ConfigError, match="needs a corpus"):
    selfplay.SelfPlay(_cfg(challenger_reward="grounding_regret", reward_params={}),
                      policy=actor, challenger=actor, pool=pool, grounded=False)


def test_host_local_parts_rebuild_the_whole_iteration(tok, pool):
  """What host-local processes exchange: each half's training rows and its plays stripped
  by `for_metrics` rebuild the one-process iteration's rows (same order) and metrics (the
  grounded pass's included); each half's own audit records, concatenated, are its audit."""
  docs = [DOCS[0], DOCS[1], DOCS[0], DOCS[0]]
  cfg = _cfg(num_docs=4, group_size=2, round_size=3, max_challenger_attempts=6,
             challenger_reward="grounding_regret", reward_params={})

  def play(part, offset, report_results=False):
    sam = ScriptedSampler(tok, grounded_script(n_plain=1, n_grounded=3))
    actor = selfplay.Actor(sam, tok, "chat", (2,))
    sp = selfplay.SelfPlay(cfg, policy=actor, challenger=actor, pool=pool, sampler_batch=64,
                           num_docs=len(docs))   # the global batch, as the trainer passes
    return sp, sp.iteration("P", part, seed=5, step=2, doc_offset=offset,
                            report_results=report_results)

  sp, whole = play(docs, 0, report_results=True)
  halves = [play(docs[:2], 0)[1], play(docs[2:], 2)[1]]
  assert all(h.metrics == {} and h.audit == [] for h in halves)
  light = [selfplay.for_metrics(h.plays) for h in halves]
  rows, plays, counters = selfplay.merge_parts(
      [(h.trajectories, lp, h.counters) for h, lp in zip(halves, light)])

  key = lambda t: (t.role, t.group_id, list(t.completion_tokens), t.advantage, t.reward)
  assert [key(t) for t in rows] == [key(t) for t in whole.trajectories]
  assert sum(t.role == "reasoner" for t in rows) > 0
  same = lambda m: {k: v for k, v in m.items() if not k.startswith(("time/", "host/"))}
  assert same(sp.metrics(plays, counters)) == same(whole.metrics)
  assert whole.metrics["challenger/grounded_pass_rate_mean"] == 0.75
  assert [r for h in halves for r in sp.audit(h.plays, 2)] == whole.audit
  # The stripped copies hold no text, token or document: far smaller than the records.
  import pickle
  text = pickle.dumps(light)
  assert b"120 km" not in text and b"boxed" not in text
  assert len(text) < len(pickle.dumps([h.plays for h in halves])) / 2
