"""The continuous engine: same tokens as the static path whatever the schedule, shared
prompt pages, bounded compilations, sharded mesh."""
import jax
import numpy as np
import pytest

from spice_jax import models, parallel
from spice_jax.sampling import Sampler, scheduler


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


def _assert_same(a, b):
  np.testing.assert_array_equal(a.lengths, b.lengths)
  np.testing.assert_array_equal(a.tokens, b.tokens)
  assert a.finish_reason == b.finish_reason
  np.testing.assert_allclose(a.model_logprobs, b.model_logprobs, atol=2e-5)
  np.testing.assert_allclose(a.logprobs, b.logprobs, atol=2e-5)


SETTINGS = [dict(temperature=0.0), dict(temperature=1.0, seed=3),
            dict(temperature=0.7, top_k=5, seed=1), dict(temperature=1.0, top_p=0.9, seed=2)]


def test_continuous_equals_static_random_models(hf_random):
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
    _assert_same(got, want)
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
  s = Sampler(tiny.config, tiny.mesh, engine="continuous", decode_slots=4, window=8,
              max_prompt_len=32, prefill_rows=4)
  rng = np.random.default_rng(3)

  def call():
    prompts, caps = _workload(256, int(rng.integers(1 << 30)), max_len=30, max_cap=40)
    return s(tiny.params, prompts, max_new_tokens=caps, temperature=1.0, seed=1)

  for _ in range(6):
    call()
  warm = s.num_compilations
  # pool + prepare + windows (table pages 4 or 8) + prefill (chunk 16 or 32).
  assert 0 < warm <= 6, s._programs.keys()
  for _ in range(4):
    call()
  assert s.num_compilations == warm


def test_eight_device_mesh_matches_one_device(tiny):
  mesh8 = parallel.make_mesh((4, 1, 2))
  params8 = jax.device_put(tiny.params, models.param_shardings(tiny.config, mesh8))
  prompts, caps = _workload(256, seed=4)
  one = Sampler(tiny.config, tiny.mesh, engine="static")
  eight = Sampler(tiny.config, mesh8, engine="continuous", decode_slots=8, window=8,
                  page_size=8, kv_pages=32, prefill_chunk=16)
  for kw in SETTINGS[:2]:
    _assert_same(eight(params8, prompts, max_new_tokens=caps, **kw),
                 one(tiny.params, prompts, max_new_tokens=caps, **kw))


def test_engine_argument_validated(tiny):
  with pytest.raises(ValueError, match="engine must be one of"):
    Sampler(tiny.config, tiny.mesh, engine="paged")
  with pytest.raises(ValueError, match="decode_slots"):
    Sampler(tiny.config, tiny.mesh, decode_slots=0)
  with pytest.raises(ValueError, match="max_new_tokens must be an int or 2 ints"):
    Sampler(tiny.config, tiny.mesh)(tiny.params, [[1], [2]], max_new_tokens=[3])
  s = Sampler(tiny.config, tiny.mesh, kv_pages=3, page_size=4)
  with pytest.raises(ValueError, match="kv pool of 3 pages cannot hold row 0"):
    s(tiny.params, [[1] * 20], max_new_tokens=4)
