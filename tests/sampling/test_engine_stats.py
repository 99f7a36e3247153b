"""The engine's per-iteration figures (sampling/stats.py): occupancy, packing, preemptions
and the pool's high-water mark, summed over an iteration's sampler calls."""
import collections

import numpy as np

from spice_jax.sampling import Sampler, stats


def test_accumulate_over_calls_and_roles():
  c = collections.Counter()
  call = lambda **kw: dict(dict(engine="continuous", slots=8, page_bytes=100, kv_pages=64,
                                preemptions=0, peak_pages=10), **kw)
  stats.accumulate(c, "challenger", call(token_steps=40, decode_steps=10, slot_steps=60,
                                         preemptions=2, peak_pages=30))
  stats.accumulate(c, "challenger", call(token_steps=24, decode_steps=6, slot_steps=24,
                                         kv_pages=128))
  stats.accumulate(c, "reasoner", call(token_steps=8, decode_steps=4, slot_steps=16))
  stats.accumulate(c, "reasoner", {"engine": "static", "decode_steps": 99})  # not counted
  m = stats.metrics(c)
  assert m["engine/occupancy_challenger"] == (40 + 24) / (8 * 10 + 8 * 6)
  assert m["engine/packing_challenger"] == (40 + 24) / (60 + 24)
  assert m["engine/occupancy_reasoner"] == 8 / 32
  assert m["engine/preemptions"] == 2
  assert (m["engine/peak_kv_pages"], m["engine/peak_kv_bytes"]) == (30, 3000)
  assert m["engine/kv_pool_bytes"] == 128 * 100
  assert stats.metrics(collections.Counter()) == {}


def test_real_call_figures(tiny):
  """A real call: tokens produced = the rows' lengths; occupancy <= packing <= 1; the
  high-water mark in bytes = pages x (2 x layers x kv heads x head dim x page x 4 bytes)."""
  cfg = tiny.config
  s = Sampler(cfg, tiny.mesh, engine="continuous", decode_slots=4, window=8, page_size=8)
  rng = np.random.default_rng(0)
  prompts = [rng.integers(1, 256, n).tolist() for n in (5, 17, 9)]
  out = s(tiny.params, prompts, max_new_tokens=[12, 20, 7], temperature=1.0, seed=1)
  c = collections.Counter()
  stats.accumulate(c, "reasoner", s.last_timing)
  m = stats.metrics(c)
  assert c["engine/reasoner_token_steps"] == int(out.lengths.sum())
  assert 0 < m["engine/occupancy_reasoner"] <= m["engine/packing_reasoner"] <= 1
  page = 2 * cfg.n_layers * cfg.n_kv_heads * cfg.head_dim * 8 * 4
  assert m["engine/peak_kv_bytes"] == s.last_timing["peak_pages"] * page > 0
