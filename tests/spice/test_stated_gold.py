"""`spice.gold_must_be_stated`: a gold that is none of the document's stated results (by the
world's registered checker) makes a valid task invalid, reason `gold_not_stated`."""

import ml_collections
import numpy as np
import pytest

from spice_jax.data import ladder
from spice_jax.errors import ConfigError, SpiceError
from spice_jax.sampling import SampleOutput
from spice_jax.spice import config as config_lib
from spice_jax.spice import selfplay, tasks

DOC = ladder.LadderDoc("l0", 5, ("+", "*", "-"), (7, 2, 3), "Ana", "pens")   # 12, 24, 21
ASK = ("Question: Ana has 5 pens. Step 1: add 7. Step 2: multiply by 2. How many pens does "
       "Ana have after step 2?\nAnswer: {gold}\nType: Integer")


def _task(gold: str) -> tasks.Task:
  return tasks.parse(ASK.format(gold=gold), "compact", expect="free_form")


def test_stated_gold_keeps_stated_results_and_rejects_other_numbers():
  check = tasks.stated_checker("ladder")
  assert _task("24").valid
  assert tasks.stated_gold(_task("24"), DOC.text, check) == _task("24")      # depth 2
  assert tasks.stated_gold(_task("21"), DOC.text, check).valid                # another depth
  for gold in ("5", "7", "2", "99"):          # the start, operands, a number not in the text
    t = tasks.stated_gold(_task(gold), DOC.text, check)
    assert not t.valid and t.reason == "gold_not_stated" and t.answer == gold
  bad = tasks.parse("no task here", "compact", expect="free_form")
  assert tasks.stated_gold(bad, DOC.text, check) == bad                       # keeps its reason


def test_checkers_are_a_registry_and_the_config_validates_the_name():
  assert "ladder" in tasks.stated_checkers()
  tasks.register_stated("test-even")(lambda doc, gold: int(gold) % 2 == 0)
  try:
    assert config_lib.SpiceConfig(gold_must_be_stated="test-even").gold_must_be_stated
    assert not tasks.stated_gold(_task("21"), DOC.text, tasks.stated_checker("test-even")).valid
  finally:
    tasks._STATED.remove("test-even")
  assert config_lib.SpiceConfig.from_config({}).gold_must_be_stated == ""     # off by default
  assert config_lib.SpiceConfig.from_config(
      {"gold_must_be_stated": "ladder"}).gold_must_be_stated == "ladder"
  with pytest.raises(ConfigError, match=r"spice.gold_must_be_stated: 'maze'.*\(ladder\)"):
    config_lib.SpiceConfig.from_config({"gold_must_be_stated": "maze"})
  with pytest.raises(SpiceError, match="stated-result checker 'maze' unknown"):
    tasks.stated_checker("maze")


class _Sampler:
  """Stands in for `sampling.Sampler`: the Challenger replies `reply`, the Reasoner answers
  24."""

  def __init__(self, tok, reply):
    self.tok, self.reply = tok, reply

  def __call__(self, params, prompts_, *, max_new_tokens, on_finish=None, **kw):
    texts = [self.reply if "[BEGINNING" in self.tok.decode(p) else "\\boxed{24}"
             for p in prompts_]
    ids = [self.tok.encode(t)[:max_new_tokens] for t in texts]
    toks = np.zeros((len(ids), max_new_tokens), np.int32)
    for i, x in enumerate(ids):
      toks[i, :len(x)] = x
    lens = np.array([len(x) for x in ids], np.int32)
    lp = np.full(toks.shape, -0.5, np.float32)
    for r in range(len(ids)):
      if on_finish is not None:
        on_finish(r, toks[r, :lens[r]], lp[r, :lens[r]], "stop")
    return SampleOutput(tokens=toks, logprobs=lp, model_logprobs=lp, lengths=lens,
                        finish_reason=["stop"] * len(ids))


START = "Question: How many pens does Ana have at the start?\nAnswer: 5\nType: Integer"


def _audit(tok, pool, reply: str, rule: str) -> list[dict]:
  cfg = ml_collections.ConfigDict(dict(
      num_docs=1, group_size=2, num_answers=2, formats=("free_form",),
      format_selection="fixed", challenger_style="compact", chat_layout="chat", round_size=2,
      max_challenger_attempts=2, challenger_max_tokens=96, reasoner_max_tokens=16,
      answer_in_document=True, gold_must_be_stated=rule, verify_workers=1))
  actor = selfplay.Actor(_Sampler(tok, reply), tok, "chat", (2,))
  sp = selfplay.SelfPlay(cfg, policy=actor, challenger=actor, pool=pool, sampler_batch=8)
  return sp.iteration("P", [{"text": DOC.text, "doc_id": "l0"}], seed=0, step=1).audit


@pytest.mark.parametrize("reply,valid", [(ASK.format(gold="24"), True),
                                         (ASK.format(gold="7"), False), (START, False)])
def test_selfplay_invalidates_a_gold_that_is_no_stated_result(tok, pool, reply, valid):
  """An operand (7) or the start (5) is a number of the document, so `answer_in_document`
  accepts it (the rule off: valid); `gold_must_be_stated="ladder"` does not. A stated
  result (24) stays valid."""
  off = _audit(tok, pool, reply, "")
  assert off and all(a["valid"] and a["reason"] == "ok" for a in off)
  on = _audit(tok, pool, reply, "ladder")
  assert on and all(a["valid"] == valid for a in on)
  assert {a["reason"] for a in on} == ({"ok"} if valid else {"gold_not_stated"})
