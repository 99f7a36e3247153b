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
