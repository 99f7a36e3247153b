"""The default engine ("auto") picks a path per call from what the call says (prompts, caps,
stops, slots), records it, and returns the same tokens whichever path it picks."""
import numpy as np

from spice_jax.sampling import Sampler, choose


def _rule(**kw):
  args = dict(unique_lens=[20] * 8, caps=[32] * 8, stops=False, follow_ups=False, slots=8,
              batch_bucket=8, unique_bucket=8, prompt_bucket=32, static_kv_tokens=8 * 64,
              pool_tokens=None)
  return choose.engine_for(**{**args, **kw}).engine


def test_rule_uses_call_time_facts_only():
  assert _rule() == "static"  # every row runs to its cap, one batch, little padding
  assert _rule(stops=True) == "continuous"  # lengths unknown until the rows stop
  assert _rule(follow_ups=True) == "continuous"
  assert _rule(slots=4) == "continuous"  # 8 rows through 4 slots
  assert _rule(caps=[1] * 7 + [64]) == "continuous"  # static decodes all rows to 64
  assert _rule(unique_lens=[2] * 8) == "continuous"  # prompts padded 16x
  assert _rule(pool_tokens=256) == "continuous"  # the static cache would not fit the pool
  assert _rule(pool_tokens=1024) == "static"


def test_auto_picks_each_path_same_tokens_either_way(tiny, assert_same):
  rng = np.random.default_rng(0)
  prompts = [rng.integers(3, 256, 12).tolist() for _ in range(4)]
  kw = dict(decode_slots=4, window=8, page_size=8)
  auto = Sampler(tiny.config, tiny.mesh, **kw)
  assert auto.engine == "auto"
  forced = [Sampler(tiny.config, tiny.mesh, engine=e, **kw) for e in ("static", "continuous")]
  for call, path in ((dict(stop_ids=()), "static"), (dict(stop_ids=(7, 9)), "continuous")):
    call = dict(call, max_new_tokens=16, temperature=1.0, seed=3)
    got = auto(tiny.params, prompts, **call)
    assert auto.last_timing["engine"] == path, auto.last_timing.get("choice")
    assert auto.last_timing["choice"]
    for s in forced:
      assert_same(got, s(tiny.params, prompts, **call))
  # An explicit engine is obeyed, and more rows than slots go to the engine.
  auto(tiny.params, prompts, max_new_tokens=16, engine="continuous")
  assert auto.last_timing["engine"] == "continuous" and "choice" not in auto.last_timing
  auto(tiny.params, prompts * 2, max_new_tokens=16)
  assert auto.last_timing["engine"] == "continuous"


def test_an_observing_callback_is_not_a_follow_up_source(tiny):
  """on_finish that only observes rows (follow_ups=False, as the trainer passes) leaves the
  call's schedule as if there were no callback: auto may take the static path, the engine
  sizes its slots to the rows; follow-ups returned anyway are an error."""
  from spice_jax.sampling import requests
  rng = np.random.default_rng(1)
  prompts = [rng.integers(3, 256, 16).tolist() for _ in range(4)]
  call = dict(max_new_tokens=16, temperature=1.0, seed=5)
  auto = Sampler(tiny.config, tiny.mesh, decode_slots=8, window=4, page_size=8)
  plain = auto(tiny.params, prompts, **call)
  seen = {}
  observe = lambda r, toks, lp, reason: seen.__setitem__(r, np.asarray(toks))
  out = auto(tiny.params, prompts, on_finish=observe, follow_ups=False, **call)
  assert auto.last_timing["engine"] == "static"       # no stops, no follow-ups: one batch
  np.testing.assert_array_equal(out.tokens, plain.tokens)
  assert sorted(seen) == [0, 1, 2, 3]
  for r, toks in seen.items():
    np.testing.assert_array_equal(toks, plain.tokens[r, :plain.lengths[r]])
  auto(tiny.params, prompts, on_finish=observe, **call)   # may queue rows: the engine's
  assert auto.last_timing["engine"] == "continuous"      # refilled slots
  assert auto.last_timing["slots"] == 8
  auto(tiny.params, prompts, on_finish=observe, follow_ups=False, engine="continuous", **call)
  assert auto.last_timing["slots"] == 4                   # sized to the 4 rows
  spawn = lambda r, toks, lp, reason: [requests.FollowUp(prompts[0], 4, 11)] if r == 0 else []
  for engine in ("static", "continuous"):
    try:
      auto(tiny.params, prompts, on_finish=spawn, follow_ups=False, engine=engine, **call)
    except ValueError as e:
      assert "follow_ups=False" in str(e)
    else:
      raise AssertionError(f"{engine}: follow-ups with follow_ups=False did not raise")
