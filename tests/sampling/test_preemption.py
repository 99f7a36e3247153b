"""Pages on demand: rows hold pages for the tokens they have plus one window; when the pool
runs out the newest rows are preempted and later resumed by recompute, and every row still
produces the static path's tokens and log-probs."""
import collections

import jax
import numpy as np
import pytest

from spice_jax import models, parallel
from spice_jax.sampling import Sampler, scheduler


def _spice_like(vocab, seed, docs=(37, 21, 50), attempts=4):
  """G attempts on each of a few documents (shared prompt pages), one uniform cap."""
  rng = np.random.default_rng(seed)
  return [rng.integers(1, vocab, n).tolist() for n in docs for _ in range(attempts)]


class _Count:
  """Wraps Scheduler.preempt to count preemptions per row."""

  def __init__(self, monkeypatch):
    self.rows = collections.Counter()
    orig = scheduler.Scheduler.preempt

    def preempt(sched, i, tokens_of):
      r = orig(sched, i, tokens_of)
      self.rows[r] += 1
      return r
    monkeypatch.setattr(scheduler.Scheduler, "preempt", preempt)


@pytest.mark.parametrize("mesh_shape", [None, (4, 1, 2)])
def test_small_pool_preempts_often_same_tokens_as_static(tiny, monkeypatch, mesh_shape,
                                                        assert_same):
  """12 rows (3 documents x 4 attempts), uniform cap 48, early stops from stop ids, through
  8 slots and a pool of 24 pages of 8 tokens (a row at its cap alone needs up to 13): rows
  are admitted on their prompt and one window, then preempted as they grow and resumed by
  recompute, some several times; tokens and log-probs equal the static path's. On one
  device and on the 8-device mesh (4 data x 2 tensor)."""
  counts = _Count(monkeypatch)
  prompts = _spice_like(256, seed=1)
  static = Sampler(tiny.config, tiny.mesh, engine="static")
  if mesh_shape is None:
    mesh, params = tiny.mesh, tiny.params
  else:
    mesh = parallel.make_mesh(mesh_shape)
    params = jax.device_put(tiny.params, models.param_shardings(tiny.config, mesh))
  cont = Sampler(tiny.config, mesh, engine="continuous", decode_slots=8, window=8,
                 page_size=8, kv_pages=24, prefill_chunk=16, prefill_rows=2)
  free = static(tiny.params, prompts, max_new_tokens=48, temperature=1.0, seed=4)
  stops = (int(free.tokens[0, 20]), int(free.tokens[5, 30]))
  for kw in (dict(temperature=1.0, seed=4, stop_ids=stops), dict(temperature=0.0),
             dict(temperature=0.7, top_k=5, seed=1)):
    want = static(tiny.params, prompts, max_new_tokens=48, **kw)
    got = cont(params, prompts, max_new_tokens=48, **kw)
    assert_same(got, want)
    st = cont.last_timing
    assert st["preemptions"] >= 4, st
    assert st["peak_pages"] <= 23
  assert max(counts.rows.values()) >= 2, counts.rows  # a row preempted several times
  assert 0 < st["occupancy"] <= st["utilisation"] <= 1


def test_peak_kv_of_attempts_on_one_document(tiny):
  """G = 6 attempts on one 70-token document, uniform cap 96, rows stopping early: the
  pool's high-water mark is the prompt's pages once plus, per row, the pages of the tokens
  it generated and at most one more (window 8 <= page 8), not G x the cap's pages."""
  rng = np.random.default_rng(2)
  doc = rng.integers(1, 256, 71).tolist()
  G, cap, PG = 6, 96, 8
  cont = Sampler(tiny.config, tiny.mesh, engine="continuous", decode_slots=8, window=8,
                 page_size=PG, prefill_chunk=32)
  free = cont(tiny.params, [doc] * G, max_new_tokens=cap, temperature=1.0, seed=9)
  stops = tuple(int(free.tokens[r, 10 + 12 * r]) for r in range(3))
  out = cont(tiny.params, [doc] * G, max_new_tokens=cap, temperature=1.0, seed=9,
             stop_ids=stops)
  assert out.lengths.min() < cap // 2 and out.lengths.max() > cap // 2, out.lengths
  st = cont.last_timing
  bound = scheduler.pages_for(len(doc) - 1, PG) + sum(
      scheduler.pages_for(int(n), PG) + 1 for n in out.lengths)
  full = scheduler.pages_for(len(doc) - 1, PG) + G * scheduler.pages_for(cap, PG)
  assert st["peak_pages"] <= bound < full, (st["peak_pages"], bound, full)
  assert st["preemptions"] == 0  # the automatic pool holds every row at its cap


def test_scheduler_preempts_newest_first():
  """Pure bookkeeping: 3 one-token prompts, cap 32, window 8, page 8, 9 pages (8 usable):
  all 3 rows are admitted (one page each plus growth room); as they grow, the newest is
  preempted and requeued at the front with its tokens; the oldest never is."""
  s = scheduler.Scheduler(3, 8, 9, window=8)
  prompts = [np.array([5], np.int32), np.array([6], np.int32), np.array([7], np.int32)]
  s.add(prompts, [scheduler.Request(r, r, 32) for r in range(3)])
  s.admit()
  assert [sl.req.row for sl in s.slots] == [0, 1, 2]
  toks = {r: np.arange(100 * r, 100 * r + 32, dtype=np.int32) for r in range(3)}
  preempted = []
  for step in range(8, 33, 8):
    for sl in s.slots:
      if sl is not None:
        sl.step = min(step, 32)
    preempted += s.grow(lambda r: toks[r])
    assert s.pages.in_use <= 8
  assert preempted[0] == 2 and 0 not in preempted, preempted
  assert s.queue[0].row == preempted[-1] and s.queue[0].step > 0
  np.testing.assert_array_equal(s.queue[0].tokens, toks[s.queue[0].row][:s.queue[0].step])


def test_hidden_stops_end_rows_like_stop_tokens(tiny, assert_same):
  """`stop_at` (the rollout benchmark's stand-in for a trained model's stop tokens): rows
  end at their hidden stop on both paths with the same tokens, which are the first
  stop_at[r] tokens of the uncapped rows; the engine still schedules by the uniform cap."""
  prompts = _spice_like(256, seed=3, docs=(30, 12), attempts=3)
  stop_at = [5, 40, 17, 1, 33, 26]
  static = Sampler(tiny.config, tiny.mesh, engine="static")
  cont = Sampler(tiny.config, tiny.mesh, engine="continuous", decode_slots=4, window=8,
                 page_size=8, kv_pages=20, prefill_chunk=16)
  kw = dict(max_new_tokens=40, temperature=1.0, seed=6)
  full = static(tiny.params, prompts, **kw)
  want = static(tiny.params, prompts, stop_at=stop_at, **kw)
  got = cont(tiny.params, prompts, stop_at=stop_at, **kw)
  assert_same(got, want)
  np.testing.assert_array_equal(got.lengths, stop_at)
  for r, n in enumerate(stop_at):
    np.testing.assert_array_equal(got.tokens[r, :n], full.tokens[r, :n])
