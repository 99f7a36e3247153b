"""Tests for spice_jax.guard: each detector on crafted sequences, quiet on normal noise,
robust z-scores against hand computation, state round trips and the decision rules."""

import itertools
import json
import math
import random

import ml_collections
import pytest

from spice_jax import guard as G


def _normal_metrics(rng: random.Random) -> dict:
  """One iteration of plausible, noisy, healthy metrics (keys as the trainer writes them)."""
  return {
      "loss": rng.gauss(0.0, 0.05),
      "grad_norm": max(0.05, rng.gauss(0.8, 0.15)),
      "kl": 0.0,                                    # kl_beta = 0: no reference KL
      "kl_old": 1e-3 * math.exp(rng.gauss(0.0, 0.3)),
      "entropy": max(0.1, rng.gauss(1.2, 0.2)),
      "challenger/valid_rate": min(1.0, max(0.0, rng.gauss(0.5, 0.15))),
      "reasoner/accuracy": rng.choice([0.0, 0.25, 0.5, 0.625, 0.75, 1.0]),  # coarse, hits 0/1
      "challenger/response_len_mean": rng.gauss(300, 40),
      "reasoner/response_len_mean": rng.gauss(500, 80),
      "challenger/truncated_frac": rng.choice([0.0, 0.0, 0.125, 0.25]),
      "reasoner/truncated_frac": rng.choice([0.0, 0.125, 0.375]),
      "challenger/pass_rate_hist": [1, 2, 3],       # non-scalar metrics are ignored
      "iteration": 1,
  }


def _run(guard, seq, start=1):
  out = []
  for i, m in enumerate(seq):
    out.append(guard.check(start + i, m))
  return out


def _fired_steps(results, detector=None):
  return [i + 1 for i, fs in enumerate(results)
          if any(detector is None or f.detector == detector for f in fs)]


# ------------------------------------------------------------------------ quiet on noise

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_quiet_on_normal_noisy_runs(seed):
  rng = random.Random(seed)
  cfg = G.GuardConfig(runaway_length=G.RunawayLengthConfig(challenger_max_tokens=512,
                                                           reasoner_max_tokens=1024))
  guard = G.Guard(cfg)
  results = _run(guard, [_normal_metrics(rng) for _ in range(400)])
  fired = [f for fs in results for f in fs]
  assert fired == []
  assert guard.decide([]) == "ok"


# ----------------------------------------------------------------------------- nonfinite

@pytest.mark.parametrize("key,value,text", [("loss", float("nan"), "nan"),
                                            ("grad_norm", float("inf"), "inf"),
                                            ("grad_norm", float("-inf"), "-inf")])
def test_nonfinite_fires_with_rollback(key, value, text):
  guard = G.Guard()
  m = _normal_metrics(random.Random(0))
  assert guard.check(1, m) == []
  m[key] = value
  fs = guard.check(2, m)
  assert [(f.detector, f.key, f.action) for f in fs] == [("nonfinite", key, "rollback")]
  assert fs[0].evidence == {"value": text}
  assert fs[0].step == 2
  assert guard.decide(fs) == "rollback"
  json.dumps(fs[0].to_json(), allow_nan=False)  # audit-safe: no bare NaN in the JSON


def test_nonfinite_ignores_missing_and_unwatched_keys():
  guard = G.Guard()
  assert guard.check(1, {}) == []
  assert guard.check(2, {"loss": None, "time/update": float("nan")}) == []
  assert guard.check(3, {"loss": "nan"}) == []  # strings are not metrics


def test_nonfinite_values_stay_out_of_spike_windows():
  guard = G.Guard(G.GuardConfig(spike=G.SpikeConfig(keys=("grad_norm",), min_history=3)))
  for s, v in enumerate([1.0, float("nan"), 1.1, float("inf"), 0.9]):
    guard.check(s + 1, {"grad_norm": v})
  assert guard.state_dict()["windows"] == {"grad_norm": [1.0, 1.1, 0.9]}


# ----------------------------------------------------------------------- reward collapse

def test_reward_collapse_fires_at_patience_and_keeps_firing():
  guard = G.Guard(G.GuardConfig(reward_collapse=G.RewardCollapseConfig(patience=4,
                                                                       action="rollback")))
  seq = [{"challenger/valid_rate": 0.3}] + [{"challenger/valid_rate": 0.0}] * 6
  results = _run(guard, seq)
  assert _fired_steps(results) == [5, 6, 7]  # steps 2..5 are the first 4 zeros
  f = results[4][0]
  assert (f.detector, f.key, f.action) == ("reward_collapse", "challenger/valid_rate", "rollback")
  assert f.evidence["streak"] == 4 and f.evidence["recent"] == [0.0] * 4
  assert results[6][0].evidence["streak"] == 6


def test_reward_collapse_accuracy_stuck_at_one():
  guard = G.Guard(G.GuardConfig(reward_collapse=G.RewardCollapseConfig(patience=3)))
  results = _run(guard, [{"reasoner/accuracy": 1.0}] * 3)
  assert _fired_steps(results) == [3]
  assert results[2][0].evidence["value"] == 1.0


@pytest.mark.parametrize("values", [
    [0.0, 0.0, 0.1, 0.0, 0.0],          # interrupted
    [0.0, 1.0, 0.0, 1.0, 0.0, 1.0],     # flips between extremes: not "stuck"
    [0.999, 0.999, 0.999, 0.999],       # near 1 is not exactly 1
])
def test_reward_collapse_needs_the_same_extreme_in_a_row(values):
  guard = G.Guard(G.GuardConfig(reward_collapse=G.RewardCollapseConfig(patience=3)))
  assert _fired_steps(_run(guard, [{"challenger/valid_rate": v} for v in values])) == []


# ---------------------------------------------------------------------- entropy collapse

def test_entropy_collapse():
  cfg = G.GuardConfig(entropy_collapse=G.EntropyCollapseConfig(patience=3, threshold=0.1,
                                                               action="skip_update"))
  guard = G.Guard(cfg)
  ent = [1.0, 0.09, 0.05, 0.2, 0.08, 0.07, 0.01, 0.02]
  results = _run(guard, [{"reasoner/entropy": e} for e in ent])
  # the streak 0.09, 0.05 is broken by 0.2; 0.08, 0.07, 0.01 reaches 3 at step 7
  assert _fired_steps(results) == [7, 8]
  f = results[6][0]
  assert (f.detector, f.key, f.action) == ("entropy_collapse", "reasoner/entropy", "skip_update")
  assert f.evidence["recent"] == [0.08, 0.07, 0.01] and f.evidence["threshold"] == 0.1


# ------------------------------------------------------------------------ runaway length

def test_runaway_truncated_fraction():
  guard = G.Guard(G.GuardConfig(runaway_length=G.RunawayLengthConfig(patience=2)))
  seq = [{"challenger/truncated_frac": x} for x in (0.4, 0.5, 0.6, 0.7, 0.2)]
  results = _run(guard, seq)
  assert _fired_steps(results) == [4]  # 0.5 is not above 0.5; 0.6, 0.7 is a streak of 2
  assert results[3][0].key == "challenger/truncated_frac"


def test_runaway_mean_length_needs_a_cap():
  seq = [{"reasoner/response_len_mean": x} for x in (900, 980, 990, 1000)]
  assert _fired_steps(_run(G.Guard(G.GuardConfig(runaway_length=G.RunawayLengthConfig(
      patience=2))), seq)) == []
  guard = G.Guard(G.GuardConfig(runaway_length=G.RunawayLengthConfig(
      patience=2, reasoner_max_tokens=1024, len_frac=0.95)))
  results = _run(guard, seq)
  assert _fired_steps(results) == [3, 4]  # threshold 0.95 x 1024 = 972.8: 980, 990, 1000
  assert results[2][0].evidence["threshold"] == pytest.approx(972.8)
  assert results[2][0].evidence["recent"] == [980.0, 990.0]


def test_runaway_mean_length_streak_exact():
  guard = G.Guard(G.GuardConfig(runaway_length=G.RunawayLengthConfig(
      patience=2, reasoner_max_tokens=1000, len_frac=0.9)))
  results = _run(guard, [{"reasoner/response_len_mean": x} for x in (800, 950, 960, 100, 999)])
  assert _fired_steps(results) == [3]


# ---------------------------------------------------------------------------- spikes

def test_spike_robust_z_matches_hand_computation():
  cfg = G.GuardConfig(spike=G.SpikeConfig(keys=("grad_norm",), window=5, min_history=5, z=4.0,
                                          mad_floor_abs=0.0, mad_floor_rel=0.0,
                                          action="skip_update"))
  guard = G.Guard(cfg)
  hist = [1.0, 1.2, 0.9, 1.1, 1.0]
  assert _fired_steps(_run(guard, [{"grad_norm": v} for v in hist])) == []
  # median 1.0; |dev| = 0, .2, .1, .1, 0 -> MAD 0.1; z(1.5) = 0.6745 * 0.5 / 0.1 = 3.3725
  assert guard.check(6, {"grad_norm": 1.5}) == []
  # window now [1.2, 0.9, 1.1, 1.0, 1.5]: median 1.1, |dev| .1 .2 0 .1 .4 -> MAD 0.1
  fs = guard.check(7, {"grad_norm": 1.7})
  assert len(fs) == 1
  f = fs[0]
  assert (f.detector, f.key, f.action) == ("spike", "grad_norm", "skip_update")
  assert f.evidence["median"] == pytest.approx(1.1)
  assert f.evidence["mad"] == pytest.approx(0.1)
  assert f.evidence["z"] == pytest.approx(0.6745 * 0.6 / 0.1)
  assert f.evidence["window"] == 5


def test_spike_on_noisy_grad_norm_and_kl():
  rng = random.Random(7)
  guard = G.Guard()
  seq = [_normal_metrics(rng) for _ in range(60)]
  seq[40]["grad_norm"] = 25.0
  seq[50]["kl_old"] = 0.05
  results = _run(guard, seq)
  spikes = [(s, f.key) for s, fs in enumerate(results, 1) for f in fs]
  assert spikes == [(41, "grad_norm"), (51, "kl_old")]
  # one-sided: a drop is not a spike
  assert guard.check(61, {"grad_norm": 0.0}) == []


def test_spike_waits_for_min_history_and_respects_floors():
  guard = G.Guard(G.GuardConfig(spike=G.SpikeConfig(keys=("kl",), min_history=5)))
  results = _run(guard, [{"kl": 0.0}] * 4 + [{"kl": 100.0}])
  assert _fired_steps(results) == []  # only 4 values of history at step 5
  guard = G.Guard(G.GuardConfig(spike=G.SpikeConfig(keys=("kl",), min_history=5)))
  # constant zero history: the absolute MAD floor (1e-6) keeps float noise quiet...
  results = _run(guard, [{"kl": 0.0}] * 5 + [{"kl": 1e-7}, {"kl": 1.0}])
  assert _fired_steps(results) == [7]  # ...but a real jump still fires
  # constant non-zero history: the relative floor (5% of the median) applies
  guard = G.Guard(G.GuardConfig(spike=G.SpikeConfig(keys=("grad_norm",), min_history=5)))
  results = _run(guard, [{"grad_norm": 2.0}] * 5 + [{"grad_norm": 3.0}, {"grad_norm": 4.0}])
  # z(3.0) = .6745 * 1 / .1 = 6.7 < 10; z(4.0) = .6745 * 2 / .1 = 13.5 > 10
  assert _fired_steps(results) == [7]


# ----------------------------------------------------------------------- decide / good

def _f(action):
  return G.Firing(1, "x", action, "k", "", {})


def test_decide_precedence():
  assert G.decide([]) == "ok"
  order = ["warn", "skip_update", "rollback"]
  for r in range(1, 4):
    for combo in itertools.permutations(order, r):
      for k in range(len(combo)):
        expected = max(combo, key=order.index)
        assert G.decide([_f(a) for a in combo] + [_f(combo[k])]) == expected


def test_is_good():
  assert G.Guard().is_good("ok") and G.Guard().is_good("warn")
  assert not G.Guard().is_good("skip_update") and not G.Guard().is_good("rollback")
  strict = G.Guard(G.GuardConfig(good_if="ok"))
  assert strict.is_good("ok") and not strict.is_good("warn")
  with pytest.raises(G.GuardError):
    strict.is_good("abort")


# ----------------------------------------------------------------------------- state

def _eventful_sequence(seed=3, n=120):
  rng = random.Random(seed)
  seq = [_normal_metrics(rng) for _ in range(n)]
  for i in range(55, 75):
    seq[i]["challenger/valid_rate"] = 0.0            # collapse across the split point (60)
  for i in range(58, 66):
    seq[i]["entropy"] = 0.01
  seq[62]["grad_norm"] = 30.0
  seq[90]["loss"] = float("nan")
  seq[100]["kl_old"] = 1.0
  return seq


def test_state_round_trip_gives_identical_decisions():
  cfg = G.GuardConfig(reward_collapse=G.RewardCollapseConfig(patience=8, action="rollback"),
                      entropy_collapse=G.EntropyCollapseConfig(patience=3),
                      spike=G.SpikeConfig(action="skip_update"))
  seq = _eventful_sequence()
  a = G.Guard(cfg)
  _run(a, seq[:60])
  state = json.loads(json.dumps(a.state_dict(), allow_nan=False))
  b = G.Guard(cfg)
  b.load_state_dict(state)
  assert b.state_dict() == a.state_dict()
  ra = _run(a, seq[60:], start=61)
  rb = _run(b, seq[60:], start=61)
  key = lambda rs: [[(f.step, f.detector, f.key, f.action, json.dumps(f.evidence)) for f in fs]
                    for fs in rs]
  assert key(ra) == key(rb)
  assert [a.decide(fs) for fs in ra] == [b.decide(fs) for fs in rb]
  assert a.state_dict() == b.state_dict()
  detectors = {f.detector for fs in ra for f in fs}
  assert detectors == {"reward_collapse", "entropy_collapse", "spike", "nonfinite"}
  # a fresh guard (state lost) would decide differently: the streak started before the split
  c = G.Guard(cfg)
  assert key(_run(c, seq[60:], start=61)) != key(ra)


def test_two_calls_per_step_equal_one_call_with_the_union():
  seq = _eventful_sequence(seed=4)
  update_keys = {"loss", "grad_norm", "kl", "kl_old", "entropy"}
  a, b = G.Guard(), G.Guard()
  for s, m in enumerate(seq, 1):
    fa = a.check(s, m)
    fb = b.check(s, {k: v for k, v in m.items() if k not in update_keys})
    fb += b.check(s, {k: v for k, v in m.items() if k in update_keys})
    assert sorted((f.detector, f.key) for f in fa) == sorted((f.detector, f.key) for f in fb)
  assert a.state_dict() == b.state_dict()


def test_load_state_rejects_garbage():
  g = G.Guard()
  with pytest.raises(G.GuardError):
    g.load_state_dict({"version": 99})
  with pytest.raises(G.GuardError):
    g.load_state_dict({"version": G.STATE_VERSION, "streaks": {"a|b": [1]}})
  g.load_state_dict(None)
  assert g.state_dict() == G.Guard().state_dict()


# -------------------------------------------------------------------------- rollbacks

def test_rollback_to_rewinds_detectors_keeps_counters_and_caps_loops():
  cfg = G.GuardConfig(max_consecutive_rollbacks=2,
                      reward_collapse=G.RewardCollapseConfig(patience=2, action="rollback"))
  g = G.Guard(cfg)
  g.check(1, {"challenger/valid_rate": 0.5})
  good = g.state_dict()                               # "checkpoint marked good" at step 1
  g.check(2, {"challenger/valid_rate": 0.0})
  fs = g.check(3, {"challenger/valid_rate": 0.0})
  assert g.decide(fs) == "rollback"
  assert g.rollback_to(good) == 1
  st = g.state_dict()
  assert st["streaks"] == good["streaks"] and st["last_step"] == 1
  assert st["rollbacks"] == 1 and st["consecutive_rollbacks"] == 1
  assert st["firing_counts"] == {"reward_collapse": 1}
  # the replayed step 2 (new data) collapses again: second rollback allowed, third not
  g.check(2, {"challenger/valid_rate": 0.0})
  assert g.decide(g.check(3, {"challenger/valid_rate": 0.0})) == "rollback"
  assert g.rollback_to(good) == 2
  g.check(2, {"challenger/valid_rate": 0.0})
  g.check(3, {"challenger/valid_rate": 0.0})
  with pytest.raises(G.GuardError, match="consecutive rollbacks"):
    g.rollback_to(good)
  assert g.state_dict()["failed_step"] == 3
  # a good iteration past the failure point (step 3) resets the consecutive count
  g2 = G.Guard(cfg)
  g2.check(1, {"challenger/valid_rate": 0.5})
  good = g2.state_dict()
  g2.check(2, {"challenger/valid_rate": 1.0})
  g2.check(3, {"challenger/valid_rate": 1.0})
  g2.rollback_to(good)
  for s in (2, 3):  # replayed steps pass, but do not get past the failure point yet
    assert g2.check(s, {"challenger/valid_rate": 0.5}) == []
    assert g2.consecutive_rollbacks == 1
  g2.check(4, {"challenger/valid_rate": 0.5})
  assert g2.consecutive_rollbacks == 0 and g2.rollbacks == 1
  g2.rollback_to(None)
  g2.rollback_to(None)
  assert g2.rollbacks == 3 and g2.consecutive_rollbacks == 2


# ----------------------------------------------------------------------------- config

def test_default_config_round_trip_and_overrides():
  c = G.default_config()
  assert isinstance(c, ml_collections.ConfigDict)
  assert G.GuardConfig.from_config(c) == G.GuardConfig()
  c.spike.action = "rollback"
  c.spike.keys = ("grad_norm",)
  c.reward_collapse.patience = 3
  cfg = G.GuardConfig.from_config(c)
  assert cfg.spike.action == "rollback" and cfg.spike.keys == ("grad_norm",)
  assert cfg.reward_collapse.patience == 3
  # a config read back from checkpoint JSON (lists for tuples) works too
  assert G.GuardConfig.from_config(json.loads(c.to_json())) == cfg
  assert G.Guard(c).config == cfg


def test_config_linked_to_spice_max_tokens():
  c = ml_collections.ConfigDict({"spice": {"reasoner_max_tokens": 64}})
  c.guard = G.default_config()
  c.guard.runaway_length.reasoner_max_tokens = c.spice.get_ref("reasoner_max_tokens")
  c.spice.reasoner_max_tokens = 2048
  assert G.GuardConfig.from_config(c.guard).runaway_length.reasoner_max_tokens == 2048


@pytest.mark.parametrize("mutate,match", [
    (lambda c: setattr(c.spike, "action", "explode"), "guard.spike.action"),
    (lambda c: setattr(c.entropy_collapse, "patience", 0), "patience"),
    (lambda c: setattr(c, "good_if", "rollback"), "good_if"),
    (lambda c: setattr(c.spike, "min_history", 100), "min_history"),
])
def test_bad_config_raises_naming_the_field(mutate, match):
  c = G.default_config()
  mutate(c)
  with pytest.raises(G.GuardError, match=match):
    G.GuardConfig.from_config(c)


def test_unknown_fields_raise():
  with pytest.raises(G.GuardError, match="unknown"):
    G.GuardConfig.from_config({"spike": {"zz": 1}})
  with pytest.raises(G.GuardError, match="unknown"):
    G.GuardConfig.from_config({"detectorz": {}})
  with pytest.raises(G.GuardError, match="guard.spike.window"):
    G.GuardConfig.from_config({"spike": {"window": "50"}})


def test_off_and_disabled():
  seq = _eventful_sequence()
  off = G.GuardConfig(**{name: type(getattr(G.GuardConfig(), name))(action="off")
                         for name in G.DETECTORS})
  assert all(fs == [] for fs in _run(G.Guard(off), seq))
  assert all(fs == [] for fs in _run(G.Guard(G.GuardConfig(enabled=False)), seq))
  # only the nonfinite detector on: exactly the NaN step fires
  only = G.GuardConfig(**{name: type(getattr(G.GuardConfig(), name))(action="off")
                          for name in G.DETECTORS if name != "nonfinite"})
  assert _fired_steps(_run(G.Guard(only), seq)) == [91]


# --------------------------------------------------------------- logprob mismatch

def test_logprob_mismatch_fires_above_the_documented_threshold():
  """token_mult_prob_error above 1.05 (NeMo-RL's alarm level) fires for that role only;
  agreement at float32 level (1 + 1e-6) and at the threshold itself stays quiet."""
  guard = G.Guard()
  assert G.GuardConfig().logprob_mismatch.threshold == 1.05
  quiet = {"challenger/token_mult_prob_error": 1.000001, "reasoner/token_mult_prob_error": 1.05}
  assert guard.check(1, quiet) == []
  fs = guard.check(2, {"challenger/token_mult_prob_error": 1.2,
                       "reasoner/token_mult_prob_error": 1.01})
  assert [(f.detector, f.key, f.action) for f in fs] == [
      ("logprob_mismatch", "challenger/token_mult_prob_error", "warn")]
  assert fs[0].evidence["threshold"] == 1.05 and fs[0].evidence["value"] == 1.2
  json.dumps(fs[0].to_json())


def test_logprob_mismatch_patience_and_config():
  c = G.default_config()
  c.logprob_mismatch.patience = 2
  c.logprob_mismatch.action = "skip_update"
  guard = G.Guard(G.GuardConfig.from_config(c))
  bad = {"reasoner/token_mult_prob_error": 1.3}
  assert guard.check(1, bad) == []
  assert G.decide(guard.check(2, bad)) == "skip_update"
  c.logprob_mismatch.threshold = 0.9
  with pytest.raises(G.GuardError, match="guard.logprob_mismatch.threshold"):
    G.GuardConfig.from_config(c)


def test_a_standing_alarm_reaches_the_terminal_at_1_2_4_8_times_its_patience():
  guard = G.Guard(G.GuardConfig(entropy_collapse=G.EntropyCollapseConfig(
      patience=3, threshold=0.1, keys=("entropy",), action="warn")))
  results = _run(guard, [{"entropy": 0.01}] * 30)
  shown = [f.evidence["streak"] for fs in results for f in fs if f.announce]
  fired = [f.evidence["streak"] for fs in results for f in fs]
  assert fired == list(range(3, 31))          # every iteration still fires (and is audited)
  assert shown == [3, 6, 12, 24]
  nonfinite = [f for fs in _run(G.Guard(), [{"loss": float("nan")}] * 3) for f in fs]
  assert len(nonfinite) == 3 and all(f.announce for f in nonfinite)   # not a streak
