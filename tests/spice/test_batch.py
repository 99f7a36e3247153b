"""Trajectories -> minibatches of length-bucketed micro-batches: layout by hand, the split,
buckets, padding rows, nothing-to-train, errors."""
import numpy as np
import pytest

from spice_jax.spice import batch as bl

NORMS = {"challenger": 100.0, "reasoner": 50.0}


def two_trajs():
  return [
      bl.Trajectory([5, 6, 7], [8, 9], "challenger", group_id=0, advantage=0.5,
                    old_logprobs=[-1.0, -2.0]),
      bl.Trajectory([3], [4, 11, 12, 13], "reasoner", group_id=3, advantage=-0.25),
  ]


def test_layout_by_hand():
  b = bl.make_batch(two_trajs(), minibatch_size=2, pad_id=0, role_norms=NORMS, min_length=8,
                    micro_rows=4)
  assert b.num_minibatches == 1 and b.minibatch == (0,) and b.order == (0, 1)
  m, = b.micro
  assert set(m) == {"tokens", "positions", "targets", "loss_mask", "old_logprobs",
                    "has_old_logprobs", "advantages", "norm", "weight", "role", "group_id",
                    "index", "length", "temperature", "top_k", "top_p"}
  assert m["tokens"].shape == (4, 8) and m["tokens"].dtype == np.int32
  # Equal lengths: the shuffled (here: given) order is kept.
  np.testing.assert_array_equal(m["tokens"][0], [5, 6, 7, 8, 9, 0, 0, 0])
  np.testing.assert_array_equal(m["tokens"][1], [3, 4, 11, 12, 13, 0, 0, 0])
  # targets[t] = token t+1; loss on positions that predict completion tokens.
  np.testing.assert_array_equal(m["targets"][0], [6, 7, 8, 9, 0, 0, 0, 0])
  np.testing.assert_array_equal(m["loss_mask"][0], [0, 0, 1, 1, 0, 0, 0, 0])
  np.testing.assert_array_equal(m["targets"][1], [4, 11, 12, 13, 0, 0, 0, 0])
  np.testing.assert_array_equal(m["loss_mask"][1], [1, 1, 1, 1, 0, 0, 0, 0])
  np.testing.assert_array_equal(m["old_logprobs"][0], [0, 0, -1, -2, 0, 0, 0, 0])
  np.testing.assert_array_equal(m["has_old_logprobs"], [True, False, False, False])
  np.testing.assert_array_equal(m["positions"][1], np.arange(8))
  np.testing.assert_allclose(m["advantages"], [0.5, -0.25, 0, 0])
  np.testing.assert_allclose(m["norm"], [100, 50, 1, 1])
  np.testing.assert_allclose(m["weight"], [1, 1, 0, 0])
  np.testing.assert_array_equal(m["role"], [0, 1, -1, -1])
  np.testing.assert_array_equal(m["group_id"], [0, 3, -1, -1])
  np.testing.assert_array_equal(m["index"], [0, 1, -1, -1])
  np.testing.assert_array_equal(m["length"], [4, 4, 0, 0])
  # Padding rows carry nothing to train on.
  assert m["loss_mask"][2:].sum() == 0 and (m["tokens"][2:] == 0).all()
  # Every masked target is a completion token, in order.
  for i, tr in enumerate(two_trajs()):
    np.testing.assert_array_equal(m["targets"][i][m["loss_mask"][i] > 0], tr.completion_tokens)


def ragged(n=20, seed=0):
  rng = np.random.default_rng(seed)
  out = []
  for i in range(n):
    long = i % 3 == 0  # "Challenger": long document prompt
    P = int(rng.integers(40, 70)) if long else int(rng.integers(2, 12))
    C = int(rng.integers(1, 20))
    out.append(bl.Trajectory(list(rng.integers(1, 50, P)), list(rng.integers(1, 50, C)),
                             ("reasoner", "challenger")[long], group_id=i, advantage=float(i),
                             weight=0.0 if i == 7 else 1.0))
  return out


def test_minibatch_split_and_length_buckets():
  trajs = ragged()
  b = bl.make_batch(trajs, minibatch_size=6, role_norms=NORMS, min_length=8, shuffle_seed=3,
                    micro_rows=2)
  n = b.num_minibatches
  assert n == 4 and sorted(b.order) == list(range(20)) and list(b.order) != list(range(20))
  assert list(b.minibatch) == sorted(b.minibatch)
  need = [len(t.prompt_tokens) + len(t.completion_tokens) - 1 for t in trajs]
  seen = []
  for m, i in zip(b.micro, b.minibatch):
    real = m["index"] >= 0
    idx = m["index"][real]
    seen += list(idx)
    # Position p of the shuffled order belongs to minibatch p % n.
    assert all(b.order.index(j) % n == i for j in idx)
    # Rows sorted longest first; T is the power-of-two bucket of the longest row.
    assert list(np.asarray(need)[idx]) == sorted(np.asarray(need)[idx], reverse=True)
    assert m["tokens"].shape == (2, bl.bucket_length(need[idx[0]], min_length=8))
    np.testing.assert_array_equal(m["length"][real], np.asarray(need)[idx])
    np.testing.assert_allclose(m["advantages"][real], idx)  # row contents move together
  # Each trajectory of positive weight exactly once; the zero-weight one left out.
  assert sorted(seen) == [i for i in range(20) if i != 7]
  # Micro-batches within a minibatch: long rows do not pad short ones.
  assert len({m["tokens"].shape[1] for m in b.micro}) > 1
  again = bl.make_batch(trajs, minibatch_size=6, role_norms=NORMS, min_length=8,
                        shuffle_seed=3, micro_rows=2)
  assert again.order == b.order and again.minibatch == b.minibatch


def test_summary_padded_fraction():
  trajs = ragged()
  s_one = bl.batch_summary(bl.make_batch(trajs, minibatch_size=20, role_norms=NORMS,
                                         min_length=8, micro_rows=20))
  s_b = bl.batch_summary(bl.make_batch(trajs, minibatch_size=20, role_norms=NORMS,
                                       min_length=8))
  real = sum(len(t.prompt_tokens) + len(t.completion_tokens) - 1 for i, t in enumerate(trajs)
             if i != 7)
  # One micro-batch of 20 rows (19 real + 1 padding) at the longest row's bucket.
  assert s_one["positions"] == 20 * s_one["max_length"] and s_one["micro_batches"] == 1
  assert s_one["real_positions"] == s_b["real_positions"] == real
  assert s_one["padded_fraction"] == pytest.approx(1 - real / s_one["positions"])
  assert s_b["real_rows"] == s_b["rows"] == 19 and s_b["micro_batches"] == 19
  assert s_b["padded_fraction"] < s_one["padded_fraction"] / 2


def test_length_buckets():
  assert bl.bucket_length(1) == 16
  assert bl.bucket_length(17) == 32
  assert bl.bucket_length(64, min_length=8) == 64
  assert bl.bucket_length(65, min_length=8) == 128
  assert bl.bucket_length(100, [96, 128, 192]) == 128
  with pytest.raises(bl.BatchError, match="largest length bucket"):
    bl.bucket_length(200, [96, 128, 192])
  # A sequence of L tokens needs L-1 input positions: 17 tokens fit T=16.
  tr = bl.Trajectory(list(range(1, 10)), list(range(10, 18)), "reasoner")
  m = bl.make_batch([tr], minibatch_size=1, role_norms=NORMS).micro[0]
  assert m["tokens"].shape == (1, 16)
  assert m["targets"][0, 15] == 17 and m["loss_mask"][0, 15] == 1
  m = bl.make_batch([tr], minibatch_size=1, role_norms=NORMS, length_buckets=[20, 40]).micro[0]
  assert m["tokens"].shape == (1, 20)


def test_geometric_buckets():
  got = sorted({bl.bucket_length(n, geometric=True) for n in range(1, 400)})
  assert got == [16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]
  for n in range(1, 3000, 7):  # the bucket of n pads by less than a third
    t = bl.bucket_length(n, geometric=True)
    assert n <= t and (t <= 16 or t < 1.5 * n)
  m = bl.make_batch([bl.Trajectory(list(range(1, 30)), [5], "reasoner")], minibatch_size=1,
                    role_norms=NORMS, geometric=True).micro[0]
  assert m["tokens"].shape == (1, 32)  # 29 positions: 32 < 48
  m = bl.make_batch([bl.Trajectory(list(range(1, 35)), [5], "reasoner")], minibatch_size=1,
                    role_norms=NORMS, geometric=True).micro[0]
  assert m["tokens"].shape == (1, 48)


def test_row_multiple_pads_micro_batches():
  trajs = [bl.Trajectory([1], [100 + i], "reasoner", group_id=i) for i in range(10)]
  b = bl.make_batch(trajs, minibatch_size=5, role_norms=NORMS, row_multiple=4)
  assert b.num_minibatches == 2 and b.minibatch == (0, 0, 1, 1)
  assert [int((m["index"] >= 0).sum()) for m in b.micro] == [4, 1, 4, 1]
  assert all(m["tokens"].shape == (4, 16) for m in b.micro)
  with pytest.raises(bl.BatchError, match="micro_rows=6 must be a positive multiple"):
    bl.make_batch(trajs, minibatch_size=5, role_norms=NORMS, row_multiple=4, micro_rows=6)


def test_weight_and_norm_override():
  trajs = [bl.Trajectory([1], [2], "challenger", weight=0.5),
           bl.Trajectory([1], [2], "reasoner", norm=7.0)]
  m, = bl.make_batch(trajs, minibatch_size=2, micro_rows=2, role_norms={"challenger": 3}).micro
  np.testing.assert_allclose(m["weight"], [0.5, 1])
  np.testing.assert_allclose(m["norm"], [3, 7])


def test_nothing_to_train_is_its_own_error():
  for trajs in ([], [bl.Trajectory([1], [2], "challenger", weight=0.0)]):
    with pytest.raises(bl.EmptyBatchError, match="nothing to train"):
      bl.make_batch(trajs, minibatch_size=4, role_norms=NORMS)
  assert issubclass(bl.EmptyBatchError, bl.BatchError)


def test_errors():
  def make(trajs, **kw):
    return bl.make_batch(trajs, **{"minibatch_size": 4, "role_norms": NORMS, **kw})
  with pytest.raises(bl.BatchError, match="role"):
    make([bl.Trajectory([1], [2], "teacher")])
  with pytest.raises(bl.BatchError, match="prompt_tokens is empty"):
    make([bl.Trajectory([], [2], "reasoner")])
  with pytest.raises(bl.BatchError, match="old_logprobs has 1"):
    make([bl.Trajectory([1], [2, 3], "reasoner", old_logprobs=[0.0])])
  with pytest.raises(bl.BatchError, match="role_norms has no entry"):
    make([bl.Trajectory([1], [2], "reasoner")], role_norms=None)
  with pytest.raises(bl.BatchError, match="minibatch_size must be >= 1"):
    make([bl.Trajectory([1], [2], "reasoner")], minibatch_size=0)


def test_sampling_parameters_per_row():
  """Each row carries the temperature / top-k / top-p it was sampled with; greedy rows
  (temperature 0) and padding rows are recorded as temperature 1 with no filter."""
  trajs = [bl.Trajectory([1, 2], [3], "challenger", temperature=0.7, top_p=0.9),
           bl.Trajectory([1, 2], [3], "reasoner", temperature=0.0, top_k=5, top_p=0.5),
           bl.Trajectory([1, 2], [3], "reasoner", temperature=1.3, top_k=7)]
  m, = bl.make_batch(trajs, minibatch_size=3, role_norms=NORMS, micro_rows=4).micro
  np.testing.assert_allclose(m["temperature"], [0.7, 1.0, 1.3, 1.0])
  np.testing.assert_array_equal(m["top_k"], [0, 0, 7, 0])
  np.testing.assert_allclose(m["top_p"], [0.9, 1.0, 1.0, 1.0])
  assert m["temperature"].dtype == np.float32 and m["top_k"].dtype == np.int32
  with pytest.raises(bl.BatchError, match="trajectory 0: sampling parameters"):
    bl.make_batch([bl.Trajectory([1], [2], "reasoner", top_p=0.0)], minibatch_size=1,
                  role_norms=NORMS)
