"""SPADE's Challenger rewards (arXiv 2608.19197): plateau and grounding regret.

Expected numbers are worked out by hand from the formulas in spice.rewards' docstring:
  plateau(p) = clip(1 - max(lo - p, p - hi, 0) / ramp, 0, 1)
  grounding_regret = regret_weight * clip((p_grounded - p) / scale, 0, 1)
                     + plateau_weight * plateau(p)
"""
import numpy as np
import pytest

from spice_jax.errors import ConfigError
from spice_jax.spice import credit, rewards
from spice_jax.spice.config import SpiceConfig


def rows(counts, K):
  """[len(counts), K] correctness rows with the first counts[i] samples correct."""
  return np.stack([np.arange(K) < k for k in counts])


def test_plateau_defaults_by_hand():
  # K = 8, p = k/8. Band [0.4, 0.6], ramp 0.25: p = 0.25 is 0.15 below -> 1 - 0.6 = 0.4;
  # p = 0.375 is 0.025 below -> 0.9; p <= 0.15 or >= 0.85 -> 0.
  r = rewards.challenger_reward(rows(range(9), 8), np.ones(9, bool), "plateau")
  np.testing.assert_allclose(np.asarray(r), [0, 0, 0.4, 0.9, 1, 0.9, 0.4, 0, 0], atol=1e-6)
  # K = 5: the band's edges p = 0.4, 0.6 get the full reward; 0.2 and 0.8 are 0.2 outside.
  r = rewards.challenger_reward(rows(range(6), 5), np.ones(6, bool), "plateau")
  np.testing.assert_allclose(np.asarray(r), [0, 0.2, 1, 1, 0.2, 0], atol=1e-6)


def test_plateau_params_by_hand():
  # Band [0.25, 0.5], ramp 0.5: p = 0 is 0.25 below -> 0.5; p = 0.875 is 0.375 above -> 0.25.
  r = rewards.challenger_reward(rows(range(9), 8), np.ones(9, bool), "plateau", lo=0.25,
                                hi=0.5, ramp=0.5)
  np.testing.assert_allclose(np.asarray(r), [0.5, 0.75, 1, 1, 1, 0.75, 0.5, 0.25, 0],
                             atol=1e-6)


# (no-document correct, with-document correct) out of K = 4 -> default grounding regret.
PAIRS = [(0, 4), (1, 3), (2, 2), (3, 1), (0, 1), (4, 4)]


def test_grounding_regret_default_is_floored_difference():
  plain, doc = zip(*PAIRS)
  r = rewards.challenger_reward(rows(plain, 4), np.ones(6, bool), "grounding_regret",
                                grounded_correct=rows(doc, 4))
  # 1 - 0, 0.75 - 0.25, 0.5 - 0.5, 0.25 - 0.75 (negative: floored to 0), 0.25 - 0, 1 - 1.
  np.testing.assert_allclose(np.asarray(r), [1, 0.5, 0, 0, 0.25, 0], atol=1e-6)
  r = rewards.challenger_reward(rows(plain, 4), np.ones(6, bool), "grounding_regret",
                                grounded_correct=rows(doc, 4), floor=False)
  np.testing.assert_allclose(np.asarray(r), [1, 0.5, 0, -0.5, 0.25, 0], atol=1e-6)


def test_grounding_regret_spade_blend_by_hand():
  """SPADE's released game runs: 0.4 * clip(regret / 0.15, 0, 1) + 0.6 * plateau(p)."""
  plain, doc = (3, 0, 4, 6), (4, 8, 4, 2)          # out of K = 8
  blend = dict(scale=0.15, regret_weight=0.4, plateau_weight=0.6)
  r = rewards.challenger_reward(rows(plain, 8), np.ones(4, bool), "grounding_regret",
                                grounded_correct=rows(doc, 8), **blend)
  want = [0.4 * (0.125 / 0.15) + 0.6 * 0.9,         # p 0.375, regret 0.125 -> 0.8333
          0.4 * 1.0 + 0.6 * 0.0,                    # regret 1 -> 6.67, clipped to 1
          0.0 + 0.6 * 1.0,                          # no regret, in the band
          0.0 + 0.6 * 0.4]                          # regret -0.5 floored, p 0.75
  np.testing.assert_allclose(np.asarray(r), want, atol=1e-6)
  # The scaled regret alone, without the floor, is not clipped.
  r = rewards.challenger_reward(rows(plain, 8), np.ones(4, bool), "grounding_regret",
                                grounded_correct=rows(doc, 8), scale=0.5, floor=False)
  np.testing.assert_allclose(np.asarray(r), [0.25, 2.0, 0.0, -1.0], atol=1e-6)


def test_invalid_tasks_get_rho():
  valid = np.array([True, False, True, False, True, False])
  plain, doc = zip(*PAIRS)
  for variant in ("plateau", "grounding_regret"):
    r = np.asarray(rewards.challenger_reward(rows(plain, 4), valid, variant,
                                             grounded_correct=rows(doc, 4),
                                             invalid_reward=-0.3))
    np.testing.assert_allclose(r[~valid], -0.3)
  np.testing.assert_allclose(r[valid], [1, 0, 0.25], atol=1e-6)


def test_only_grounding_regret_needs_the_grounded_pass():
  assert [n for n in rewards.names() if rewards.needs_grounded(n)] == ["grounding_regret"]
  with pytest.raises(rewards.RewardError, match="needs the grounded pass rate"):
    rewards.challenger_reward(rows([1, 2], 4), np.ones(2, bool), "grounding_regret")
  with pytest.raises(rewards.RewardError, match="grounded_correct gives"):
    rewards.challenger_reward(rows([1, 2], 4), np.ones(2, bool), "grounding_regret",
                              grounded_correct=rows([1, 2, 3], 4))
  # Other variants ignore it.
  a = rewards.challenger_reward(rows([1, 2], 4), np.ones(2, bool), "plateau")
  b = rewards.challenger_reward(rows([1, 2], 4), np.ones(2, bool), "plateau",
                                grounded_correct=rows([4, 4], 4))
  np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("variant,params,match", [
    ("plateau", {"width": 0.1}, "unknown parameter 'width'"),
    ("plateau", {"ramp": 0.0}, "ramp=0.0: must be > 0"),
    ("plateau", {"lo": 0.7, "hi": 0.6}, "need 0 <= lo <= hi <= 1"),
    ("grounding_regret", {"sigma2": 0.01}, "unknown parameter 'sigma2'"),
    ("grounding_regret", {"p_grounded": 0.5}, "measured by the self-play"),
    ("grounding_regret", {"scale": -1.0}, "scale=-1.0: must be > 0"),
    ("grounding_regret", {"floor": "yes"}, "a bool"),
    ("grounding_regret", {"plateau_weight": 0.6, "ramp": 0.0}, "ramp=0.0"),
])
def test_parameter_validation(variant, params, match):
  with pytest.raises(rewards.RewardError, match=match):
    rewards.check_params(variant, params)
  with pytest.raises(ConfigError, match=r"config\.spice\.reward_params: " + variant):
    SpiceConfig.from_config({"challenger_reward": variant, "reward_params": {variant: params}})


def test_config_accepts_spade_params_and_needs_gold_labels():
  sp = SpiceConfig.from_config({
      "challenger_reward": "grounding_regret",
      "reward_params": {"grounding_regret": {"scale": 0.15, "regret_weight": 0.4,
                                             "plateau_weight": 0.6},
                        "plateau": {"lo": 0.3, "hi": 0.7, "ramp": 0.2}}})
  assert sp.reward_kwargs == {"scale": 0.15, "regret_weight": 0.4, "plateau_weight": 0.6}
  with pytest.raises(ConfigError, match=r"config\.spice\.pseudo_labels: 'majority'"):
    SpiceConfig.from_config({"challenger_reward": "grounding_regret",
                             "pseudo_labels": "majority"})


def test_credit_passes_the_grounded_bits():
  """credit.assign: task rows of `grounded` line up with `correct`; invalid rows get rho;
  advantages are reward minus the document group's mean."""
  K = 4
  correct = rows([1, 2, 0], K)          # p = 0.25, 0.5, 0
  grounded = rows([3, 1, 4], K)         # p_g = 0.75, 0.25, 1
  chal_task = np.array([0, -1, 1, 2])   # doc 0: tasks 0 and an invalid; doc 1: tasks 1, 2
  chal_group = np.array([0, 0, 1, 1])
  spec = credit.CreditSpec("grounding_regret", (), -0.1, "dr_grpo")
  got = credit.assign_padded(correct, chal_task, chal_group, np.array([0, 1]),
                             np.array([2, 3]), spec=spec, num_groups=4, num_answers=K,
                             grounded=grounded)
  np.testing.assert_allclose(got.chal_reward, [0.5, -0.1, 0.0, 1.0], atol=1e-6)
  np.testing.assert_allclose(got.chal_adv, [0.3, -0.3, -0.5, 0.5], atol=1e-6)
  with pytest.raises(rewards.RewardError, match="needs the grounded pass rate"):
    credit.assign_padded(correct, chal_task, chal_group, np.array([0, 1]), np.array([2, 3]),
                         spec=spec, num_groups=4, num_answers=K)


def test_config_validation_starts_no_xla_backend():
  """A multi-process run validates its config before jax.distributed.initialize, which
  refuses to run once a backend exists: checking reward parameters must not start one."""
  import subprocess
  import sys
  code = (
      "import sys; sys.path.insert(0, '.')\n"
      "from jax._src import xla_bridge as xb\n"
      "from experiments import tiny_test\n"
      "from spice_jax.run_config import RunConfig\n"
      "for variant, params in [('plateau', {'lo': 0.3}), ('grounding_regret', {'scale': 0.15}),"
      " ('variance', {})]:\n"
      "  c = tiny_test.get_config()\n"
      "  c.spice.challenger_reward = variant\n"
      "  c.spice.reward_params = {variant: params}\n"
      "  RunConfig.from_config(c)\n"
      "assert not xb.backends_are_initialized(), 'validation started an XLA backend'\n"
      "print('ok')\n")
  root = __import__("os").path.dirname(__import__("os").path.dirname(
      __import__("os").path.dirname(__import__("os").path.abspath(__file__))))
  p = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                     timeout=300)
  assert p.returncode == 0 and p.stdout.strip().endswith("ok"), p.stderr[-3000:]
