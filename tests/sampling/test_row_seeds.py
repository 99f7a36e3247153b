"""Per-row seeds: a row's sample depends on its seed only, not on its position or batch."""
import numpy as np

from spice_jax.sampling import Sampler


def test_row_sample_independent_of_position_and_batch(tiny):
  sampler = Sampler(tiny.config, tiny.mesh)
  rng = np.random.default_rng(0)
  prompts = [rng.integers(0, tiny.config.vocab_size, n).tolist() for n in (5, 9, 7)]
  seeds = [11, 22, 33]
  kw = dict(max_new_tokens=12, temperature=1.0)
  a = sampler(tiny.params, prompts, row_seeds=seeds, **kw)
  b = sampler(tiny.params, prompts[::-1], row_seeds=seeds[::-1], **kw)   # other positions
  c = sampler(tiny.params, prompts[1:2], row_seeds=seeds[1:2], **kw)    # alone, smaller batch
  for i in range(3):
    np.testing.assert_array_equal(a.completion(i), b.completion(2 - i))
  np.testing.assert_array_equal(a.completion(1), c.completion(0))
  d = sampler(tiny.params, prompts, row_seeds=[12, 22, 33], **kw)       # another seed differs
  assert a.completion(0) != d.completion(0)


def test_rows_are_reported_as_they_finish(tiny):
  """on_finish streams each row when it is done: with the continuous engine a short row is
  reported before the long ones (while they still decode), with the data of the output."""
  sampler = Sampler(tiny.config, tiny.mesh, engine="continuous", decode_slots=2, window=4)
  rng = np.random.default_rng(1)
  prompts = [rng.integers(0, tiny.config.vocab_size, 6).tolist() for _ in range(3)]
  seen = []
  out = sampler(tiny.params, prompts, max_new_tokens=[24, 2, 24], temperature=1.0,
                row_seeds=[1, 2, 3], on_finish=lambda r, t, m, f: seen.append((r, list(t), f)))
  assert seen[0][0] == 1                          # the 2-token row leaves first
  assert sorted(r for r, _, _ in seen) == [0, 1, 2]
  for r, toks, finish in seen:
    assert toks == out.completion(r) and finish == out.finish_reason[r]
  static = []
  out_s = sampler(tiny.params, prompts, max_new_tokens=[24, 2, 24], temperature=1.0,
                  row_seeds=[1, 2, 3], engine="static",
                  on_finish=lambda r, t, m, f: static.append((r, list(t), f)))
  assert sorted(static) == sorted(seen)           # same rows, same tokens, either engine
  assert [out_s.completion(r) for r in range(3)] == [out.completion(r) for r in range(3)]
