"""credit.assign (one jitted call) against a per-role, per-group reference written by hand."""
import numpy as np
import pytest

from spice_jax.spice import credit, rewards


def reference(correct, chal_task, chal_group, reas_task, reas_group, *, sigma2, rho, B):
  """Rewards by SPEC §4, advantages by Dr. GRPO, one group at a time, in plain numpy."""
  K = correct.shape[1]
  r_c = np.array([rho if t < 0 else
                  np.exp(-((correct[t].mean() * (1 - correct[t].mean()) - 0.25) ** 2)
                         / (2 * sigma2)) for t in chal_task], np.float32)
  r_r = np.array([correct[t].astype(np.float32) for t in reas_task]).reshape(-1, K)
  a_c = np.array([r_c[i] - r_c[chal_group == chal_group[i]].mean() for i in range(len(r_c))])
  a_r = r_r - r_r.mean(axis=1, keepdims=True)
  return r_c, a_c, r_r, a_r


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_assign_matches_reference(seed):
  rng = np.random.default_rng(seed)
  B, K = 5, 4
  n_tasks = 7
  correct = rng.random((n_tasks, K)) < 0.5
  chal_group = np.repeat(np.arange(B), 3)                     # 3 kept per document
  chal_task = np.full(len(chal_group), -1)
  chal_task[rng.permutation(len(chal_group))[:n_tasks]] = np.arange(n_tasks)
  docs_with_task = sorted(set(chal_group[chal_task >= 0]))
  reas_task = np.array([chal_task[(chal_group == d) & (chal_task >= 0)][0]
                        for d in docs_with_task])
  reas_group = B + np.array(docs_with_task)
  spec = credit.CreditSpec("variance", (("sigma2", 0.02),), -0.1, "dr_grpo")
  got = credit.assign_padded(correct, chal_task, chal_group, reas_task, reas_group,
                             spec=spec, num_groups=2 * B, num_answers=K)
  want = reference(correct, chal_task, chal_group, reas_task, reas_group, sigma2=0.02,
                   rho=-0.1, B=B)
  for g, w in zip((got.chal_reward, got.chal_adv, got.reas_reward, got.reas_adv), want):
    np.testing.assert_allclose(g, w, atol=1e-6)


def test_no_valid_task_and_bucketed_compiles():
  spec = credit.CreditSpec("threshold", (), -0.1, "dr_grpo")
  got = credit.assign_padded(np.zeros((0, 4), bool), np.full(6, -1), np.repeat(np.arange(3), 2),
                             np.zeros(0, int), np.zeros(0, int), spec=spec, num_groups=6,
                             num_answers=4)
  np.testing.assert_allclose(got.chal_reward, -0.1)
  np.testing.assert_allclose(got.chal_adv, 0.0)
  assert got.reas_reward.shape == (0, 4)
  # Sizes within one power-of-two bucket share one compiled program.
  before = credit.assign._cache_size()
  for C in (5, 6, 7, 8):
    credit.assign_padded(np.ones((2, 4), bool), np.array([0, 1] + [-1] * (C - 2)),
                         np.zeros(C, int), np.array([0]), np.array([3]), spec=spec,
                         num_groups=6, num_answers=4)
  assert credit.assign._cache_size() - before <= 1
