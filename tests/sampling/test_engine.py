"""The continuous engine: same tokens as the static path whatever the schedule, shared
prompt pages, bounded compilations, sharded mesh; pipelined work (rows queued by
`on_finish` while a call runs, `FollowUp`)."""
import dataclasses

import jax
import numpy as np
import pytest

from spice_jax import models, parallel
from spice_jax.sampling import FollowUp, Sampler, requests, scheduler


def _workload(vocab, seed, n_prompts=6, repeats=(1, 3, 1, 2, 1, 1), max_len=30, max_cap=40):
  """Mixed prompt lengths, some prompts repeated (shared pages), mixed per-row caps."""
  rng = np.random.default_rng(seed)
  base = [rng.integers(0, vocab, int(rng.integers(1, max_len + 1))).tolist()
          for _ in range(n_prompts)]
  prompts = [p for p, k in zip(base, repeats) for _ in range(k)]
  order = rng.permutation(len(prompts))  # shared prompts need not be adjacent
  prompts = [prompts[i] for i in order]
  caps = [int(c) for c in rng.integers(1, max_cap + 1, len(prompts))]
  return prompts, caps


SETTINGS = [dict(temperature=0.0), dict(temperature=1.0, seed=3),
            dict(temperature=0.7, top_k=5, seed=1), dict(temperature=1.0, top_p=0.9, seed=2)]


def test_continuous_equals_static_random_models(hf_random, assert_same):
  """Llama and Qwen3 random checkpoints: 9 rows (shared prompts, caps 1..40) through 3 slots
  and a pool that holds only a few rows at once (admission waits for pages), windows of 8
  steps, prompt chunks of 16 tokens: token for token the static path's output."""
  _, model = hf_random
  cfg = model.config
  prompts, caps = _workload(cfg.vocab_size, seed=0)
  static = Sampler(cfg, model.mesh, engine="static")
  cont = Sampler(cfg, model.mesh, engine="continuous", decode_slots=3, window=8, page_size=8,
                 kv_pages=24, prefill_chunk=16, prefill_rows=2)
  free = static(model.params, prompts, max_new_tokens=caps, temperature=0.0)
  stops = (int(free.tokens[0, 1]), int(free.tokens[2, 4]))  # some rows stop early
  for kw in SETTINGS + [dict(temperature=1.0, seed=5, stop_ids=stops)]:
    want = static(model.params, prompts, max_new_tokens=caps, **kw)
    got = cont(model.params, prompts, max_new_tokens=caps, **kw)
    assert_same(got, want)
    assert got.tokens.shape == (len(prompts), max(caps))
  assert "stop" in got.finish_reason and "length" in got.finish_reason
  st = cont.last_timing
  assert st["engine"] == "continuous" and st["peak_pages"] <= 23
  assert st["prefill_calls"] > 2  # prompts of up to 30 tokens went in 16-token chunks


def test_shared_prompt_pages_stored_once(tiny):
  """G rows of one 100-token prompt: the prompt's pages once, plus each row's completion."""
  G, P, cap, PG = 6, 100, 20, 16
  prompt = np.random.default_rng(1).integers(0, 256, P).tolist()
  s = Sampler(tiny.config, tiny.mesh, engine="continuous", decode_slots=8, page_size=PG)
  out = s(tiny.params, [prompt] * G, max_new_tokens=cap, temperature=1.0, seed=0)
  assert len({tuple(r) for r in out.tokens.tolist()}) > 1  # rows draw independently
  want = scheduler.pages_for(P - 1, PG) + G * scheduler.pages_for(cap, PG)
  assert s.last_timing["peak_pages"] == want
  per_row_copy = G * scheduler.pages_for(P - 1 + cap, PG)
  assert want < per_row_copy


def test_continuous_compilations_bounded(tiny):
  """After a warm-up pass, calls with other prompt lengths and caps compile nothing new."""
  # 64-token pages (one attention block and one table unit each): these rows (<= 70 slots)
  # have tables of 1 or 2 pages, so ten calls meet every program.
  s = Sampler(tiny.config, tiny.mesh, engine="continuous", decode_slots=4, window=8,
              max_prompt_len=32, prefill_rows=4, page_size=64)
  rng = np.random.default_rng(3)

  def call():
    prompts, caps = _workload(256, int(rng.integers(1 << 30)), max_len=30, max_cap=40)
    return s(tiny.params, prompts, max_new_tokens=caps, temperature=1.0, seed=1)

  for _ in range(10):
    call()
  warm = s.num_compilations
  # pool + prepare + windows (1, 2 or 4 rows x 1 or 2 table pages) + prefill (chunk 16,
  # 24 or 32).
  assert 0 < warm <= 11, s._programs.keys()
  for _ in range(4):
    call()
  assert s.num_compilations == warm


def _replay(caps, window, buckets):
  """(windows, slot-steps) of the engine's documented schedule when every row runs from
  the first window and none waits: a window runs the smallest bucket >= its running rows
  and leaves after `window` steps or once the rest fit the next smaller bucket."""
  left, windows, slot_steps = list(caps), 0, 0
  while any(left):
    rows = min(b for b in buckets if b >= sum(c > 0 for c in left))
    leave = max((b for b in buckets if b < rows), default=0)
    steps = 0
    while steps < window and sum(c > 0 for c in left) > leave:
      left = [c - 1 if c > 0 else 0 for c in left]
      steps += 1
    windows, slot_steps = windows + 1, slot_steps + rows * steps
  return windows, slot_steps


def test_tail_windows_narrow_as_rows_finish(tiny):
  """8 rows with caps 1..34 on one device: the windows shrink through the row buckets
  1, 2, 4, 8 as rows finish (a window leaves once the rest fit a narrower one), so
  slot-steps are the replay's, not 8 rows x the longest cap."""
  caps = [1, 2, 3, 5, 8, 13, 21, 34]
  prompts = [[3 + i, 4, 5, 6, 7] for i in range(len(caps))]
  s = Sampler(tiny.config, tiny.mesh, engine="continuous", decode_slots=8, window=8,
              page_size=8)
  out = s(tiny.params, prompts, max_new_tokens=caps, temperature=1.0, seed=0)
  np.testing.assert_array_equal(out.lengths, caps)
  st = s.last_timing
  windows, slot_steps = _replay(caps, 8, (1, 2, 4, 8))
  assert (st["windows"], st["slot_steps"], st["token_steps"]) == (windows, slot_steps,
                                                                   sum(caps))


def test_eight_device_mesh_matches_one_device(tiny, assert_same):
  mesh8 = parallel.make_mesh((4, 1, 2))
  params8 = jax.device_put(tiny.params, models.param_shardings(tiny.config, mesh8))
  prompts, caps = _workload(256, seed=4)
  one = Sampler(tiny.config, tiny.mesh, engine="static")
  eight = Sampler(tiny.config, mesh8, engine="continuous", decode_slots=8, window=8,
                  page_size=8, kv_pages=32, prefill_chunk=16)
  for kw in SETTINGS[:2]:
    assert_same(eight(params8, prompts, max_new_tokens=caps, **kw),
                 one(tiny.params, prompts, max_new_tokens=caps, **kw))


def test_engine_argument_validated(tiny):
  with pytest.raises(ValueError, match="engine must be one of"):
    Sampler(tiny.config, tiny.mesh, engine="paged")
  with pytest.raises(ValueError, match="decode_slots"):
    Sampler(tiny.config, tiny.mesh, decode_slots=0)
  with pytest.raises(ValueError, match="max_new_tokens must be an int or 2 ints"):
    Sampler(tiny.config, tiny.mesh)(tiny.params, [[1], [2]], max_new_tokens=[3])
  s = Sampler(tiny.config, tiny.mesh, engine="continuous", kv_pages=3, page_size=4)
  with pytest.raises(ValueError, match="kv pool of 3 pages cannot hold row 0"):
    s(tiny.params, [[1] * 20], max_new_tokens=4)


def _pipeline(sampler, params, prompts, caps, *, K, seed, follow_cap, **kw):
  """One call whose rows each queue K follow-ups (prompt built from the row's output, so
  they cannot be known before it finishes); follow-ups of the first two rows queue one
  more row each (a third generation). Returns ({seed: (row id, tokens, model_logp)},
  {seed: (prompt, cap)}, output)."""
  asked, got = {}, {}
  parent_of = {}
  n = [len(prompts)]

  def on_finish(r, toks, mlp, reason):
    assert reason in ("stop", "length")
    s = parent_of.get(r, 1000 + r)
    got[s] = (r, np.asarray(toks).copy(), np.asarray(mlp).copy())
    if r < len(prompts):
      todo = [(s * 10 + k, ([1 + r % 7] + [int(t) for t in toks[:4]]) if k < K - 1
               else prompts[(r + 1) % len(prompts)], follow_cap[(r * K + k) % len(follow_cap)])
              for k in range(K)]  # the last one reuses a call prompt (shared pages)
    elif parent_of[r] // 10 in (1000, 1001) and parent_of[r] % 10 == 0:
      todo = [(s * 10 + 7, [5, 6] + [int(t) for t in toks[:2]], 3)]
    else:
      return None
    out = []
    for fs, fp, fc in todo:
      asked[fs] = (fp, fc)
      parent_of[n[0]] = fs
      n[0] += 1
      out.append(FollowUp(fp, fc, fs))
    return out

  out = sampler(params, prompts, max_new_tokens=caps, seed=seed, on_finish=on_finish, **kw)
  return got, asked, out


@pytest.mark.parametrize("kv_pages", [24, None])
def test_follow_ups_equal_separate_calls(tiny, kv_pages):
  """Each follow-up row (queued the moment its parent finishes, into a pool that makes
  admission wait, or an auto-sized pool that must grow for the longer follow-up caps) gives
  token for token what the same request gives in a separate static call with its row
  seed; the call's own rows are unchanged; the static path's follow-up rounds agree."""
  prompts, caps = _workload(256, seed=7)
  kw = dict(temperature=1.0, top_k=20, stop_ids=(3,))
  cont = Sampler(tiny.config, tiny.mesh, engine="continuous", decode_slots=4, window=8,
                 page_size=8, kv_pages=kv_pages, prefill_chunk=16, prefill_rows=2)
  static = Sampler(tiny.config, tiny.mesh, engine="static")
  follow_cap = [30, 120, 2, 45, 17]
  got, asked, out = _pipeline(cont, tiny.params, prompts, caps, K=3, seed=11,
                              follow_cap=follow_cap, **kw)
  assert len(asked) == 3 * len(prompts) + 2 and len(out) == len(prompts) + len(asked)
  assert cont.last_timing["follow_ups"] == len(asked)
  grew = any(k[0][0] == "grow_pool" for k in cont._programs)
  assert grew == (kv_pages is None)  # follow-up caps (up to 120) outgrow the first pool
  plain = static(tiny.params, prompts, max_new_tokens=caps, seed=11, **kw)
  for r in range(len(prompts)):
    n = int(plain.lengths[r])
    np.testing.assert_array_equal(got[1000 + r][1], plain.tokens[r, :n])
  seeds = sorted(asked)
  ref = static(tiny.params, [asked[s][0] for s in seeds],
               max_new_tokens=[asked[s][1] for s in seeds], row_seeds=seeds, seed=99, **kw)
  for i, s in enumerate(seeds):
    r, toks, mlp = got[s]
    n = int(ref.lengths[i])
    np.testing.assert_array_equal(toks, ref.tokens[i, :n])
    np.testing.assert_allclose(mlp, ref.model_logprobs[i, :n], atol=2e-5)
    np.testing.assert_array_equal(out.tokens[r, :n], toks)  # the returned rows agree
  s_got, s_asked, _ = _pipeline(static, tiny.params, prompts, caps, K=3, seed=11,
                                follow_cap=follow_cap, **kw)
  assert s_asked == asked
  for s, (_, toks, _) in got.items():
    np.testing.assert_array_equal(s_got[s][1], toks)


def test_follow_up_compilations_bounded(tiny):
  """Pipelined calls with varying prompt lengths, caps and follow-up counts: after a
  warm-up, no new programs (pool growth included)."""
  s = Sampler(tiny.config, tiny.mesh, engine="continuous", decode_slots=8, window=8,
              max_prompt_len=32, prefill_rows=4, page_size=64)  # 1 or 2 table pages, as above
  rng = np.random.default_rng(5)

  def call():
    prompts, caps = _workload(256, int(rng.integers(1 << 30)), max_len=30, max_cap=40)
    K = int(rng.integers(1, 5))
    q = [rng.integers(0, 256, int(rng.integers(1, 20))).tolist() for _ in prompts]
    fcap = [int(c) for c in rng.integers(1, 41, len(prompts))]
    more = lambda r, *_: ([FollowUp(q[r], fcap[r], 7 * r + k) for k in range(K)]
                          if r < len(prompts) else None)
    out = s(tiny.params, prompts, max_new_tokens=caps, temperature=1.0, seed=1,
            on_finish=more)
    assert len(out) == len(prompts) * (1 + K)

  for _ in range(10):
    call()
  warm = s.num_compilations
  # Pools of 16 or 32 pages (8 slots x 1 page per cap <= 40, plus <= 8 one-page prompts),
  # the 16 -> 32 growth, prepare; per pool size: prefill (chunk 16, 24 or 32) and windows
  # (1, 2, 4 or 8 rows x 1 or 2 table pages): 2 + 1 + 1 + 2 x (3 + 8) = 26.
  assert 0 < warm <= 26, s._programs.keys()
  for _ in range(4):
    call()
  assert s.num_compilations == warm


def test_follow_up_validated(tiny):
  s = Sampler(tiny.config, tiny.mesh, engine="continuous", decode_slots=4)
  with pytest.raises(TypeError, match="list of FollowUp, item 0 is list"):
    s(tiny.params, [[1, 2]], max_new_tokens=2, on_finish=lambda *a: [[1, 2]])
  with pytest.raises(ValueError, match="max_new_tokens must be positive"):
    s(tiny.params, [[1, 2]], max_new_tokens=2,
      on_finish=lambda r, *a: [FollowUp([1], 0, 3)] if r == 0 else None)


def _bitwise_same(a, b):
  np.testing.assert_array_equal(a.tokens, b.tokens)
  np.testing.assert_array_equal(a.lengths, b.lengths)
  np.testing.assert_array_equal(a.model_logprobs, b.model_logprobs)
  np.testing.assert_array_equal(a.logprobs, b.logprobs)


def test_same_rows_bitwise_whatever_the_schedule(tiny, assert_same):
  """Same seed, same rows, bit for bit, whatever else is scheduled: the same 8 rows (4
  prompts of 40-120 tokens x 2, caps up to 48) on the 8-device mesh (one row per device)
  alone; with longer unrelated rows in the same call (wider page tables, other prefill
  pieces); with another window; and split in two calls on half the devices (a host-local
  run on 2 processes). In a pool so small that rows wait, prompts are prefilled again and
  rows are preempted, the tokens stay the same and the log-probs within 2e-5, not bit for
  bit: a preempted row's own k/v are recomputed by a prefill program (other shapes than
  the decode steps that first wrote them).
  XLA's CPU kernels sum in another order when operand sizes change, so any shape that
  depends on the other rows shows up here as differing log-probs (and, with a flat
  next-token distribution, as a different token: the 2 x 4 vs 1 x 8 trainer mismatch)."""
  mesh8 = parallel.make_mesh((8, 1, 1))
  mesh4 = parallel.make_mesh((4, 1, 1), devices=jax.devices()[:4])
  rep = lambda mesh: jax.device_put(tiny.params, jax.sharding.NamedSharding(
      mesh, jax.sharding.PartitionSpec()))
  rng = np.random.default_rng(8)
  docs = [rng.integers(0, 256, n).tolist() for n in (41, 97, 66, 120)]
  prompts = [d for d in docs for _ in range(2)]
  caps = [int(c) for c in rng.integers(8, 49, len(prompts))]
  seeds = list(range(100, 100 + len(prompts)))
  longer = [rng.integers(0, 256, 250).tolist(), rng.integers(0, 256, 180).tolist()]

  def run(mesh, rows, extra=(), **kw):
    kw = dict(dict(decode_slots=8, window=8, page_size=8, prefill_chunk=64), **kw)
    s = Sampler(tiny.config, mesh, engine="continuous", **kw)
    ps = [prompts[r] for r in rows] + [p for p in extra]
    out = s(rep(mesh), ps, max_new_tokens=[caps[r] for r in rows] + [30] * len(extra),
            temperature=1.0, seed=0, row_seeds=[seeds[r] for r in rows] + [7] * len(extra),
            on_finish=lambda *a: None)
    n = len(rows)
    return s.last_timing, dataclasses.replace(
        out, tokens=out.tokens[:n, :max(caps)], logprobs=out.logprobs[:n, :max(caps)],
        model_logprobs=out.model_logprobs[:n, :max(caps)], lengths=out.lengths[:n],
        finish_reason=out.finish_reason[:n])

  rows = list(range(len(prompts)))
  _, want = run(mesh8, rows)
  _bitwise_same(run(mesh8, rows, extra=longer)[1], want)
  st, got = run(mesh8, rows, kv_pages=40)
  assert st["prefill_calls"] > len(docs)  # rows waited; prompts were prefilled again
  assert st["preemptions"] > 0
  assert_same(got, want)
  _bitwise_same(run(mesh8, rows, window=4)[1], want)
  halves = [run(mesh4, rows[:4])[1], run(mesh4, rows[4:])[1]]
  _bitwise_same(requests.concat_outputs(halves), want)
