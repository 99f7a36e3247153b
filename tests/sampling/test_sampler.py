"""The batched sampler: parity with transformers (default engine), and the static path's
stops, lengths, buckets and sharding (the continuous engine is checked against it in
test_engine.py)."""
import jax
import numpy as np
import pytest
import scipy.stats

from spice_jax import models, parallel, sampling
from spice_jax.sampling import PromptError, Sampler


def _hf_greedy(hf, prompt, n):
  """transformers greedy continuation of one unpadded prompt, never stopping early, and the
  log-softmax of its scores at the chosen tokens."""
  import torch
  hf.generation_config.eos_token_id = None
  with torch.no_grad():
    out = hf.generate(torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt),
                                                                         dtype=torch.long),
                      do_sample=False, max_new_tokens=n, pad_token_id=0,
                      output_logits=True, return_dict_in_generate=True)
  toks = out.sequences[0, len(prompt):].tolist()
  logp = [torch.log_softmax(l[0].double(), -1)[t].item() for l, t in zip(out.logits, toks)]
  return toks, np.asarray(logp)


def _prompts(vocab, lengths, seed=0):
  rng = np.random.default_rng(seed)
  return [rng.integers(0, vocab, n).tolist() for n in lengths]


@pytest.fixture(scope="module")
def tiny_sampler(tiny):
  return Sampler(tiny.config, tiny.mesh, engine="static")


def test_greedy_matches_transformers_random_models(hf_random):
  """Mixed prompt lengths batched and left-padded by us, one unpadded prompt at a time in
  transformers: same 40 greedy tokens, same model log-probs. (40 new tokens -> 64 slots:
  decode crosses the phase boundaries at 16 and 32, where the cache grows.)"""
  hf, model = hf_random
  prompts = _prompts(model.config.vocab_size, (5, 17, 30, 1), seed=4)
  out = sampling.generate(model, prompts, max_new_tokens=40, temperature=0.0, stop_ids=())
  assert out.tokens.shape == (4, 40)
  for i, p in enumerate(prompts):
    ref, ref_logp = _hf_greedy(hf, p, 40)
    assert out.completion(i) == ref, f"row {i}"
    np.testing.assert_allclose(out.model_logprobs[i], ref_logp, atol=1e-4)
  assert np.all(out.logprobs == 0.0)  # greedy draws from a point mass
  assert out.finish_reason == ["length"] * 4


@pytest.mark.slow
def test_greedy_matches_transformers_smollm2(smollm2, mesh1, tmp_path):
  """The embedded SmolLM2 (real weights) vs transformers on the same weights; then the
  default stop ids (EOS) end rows at the first EOS of the unstopped run. One device: the
  simulated 8-device mesh is ~5x slower on 2 cores (it is covered on the tiny model)."""
  import dataclasses

  import torch
  import transformers
  smollm2 = dataclasses.replace(smollm2, mesh=mesh1, params=jax.device_put(
      smollm2.params, models.param_shardings(smollm2.config, mesh1)))
  models.export_hf(smollm2.params, smollm2.config, str(tmp_path), smollm2.tokenizer)
  hf = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path), dtype=torch.float32)
  tok = smollm2.tokenizer
  questions = ["What is 2 + 3? Answer with one number.", "Name a colour.",
               "Write one sentence about the sea, then explain why the sea is salty."]
  prompts = [tok.render_chat([{"role": "user", "content": q}]) for q in questions]
  n = 32
  out = sampling.generate(smollm2, prompts, max_new_tokens=n, temperature=0.0, stop_ids=())
  for i, p in enumerate(prompts):
    ref, ref_logp = _hf_greedy(hf, p, n)
    assert out.completion(i) == ref, (i, tok.decode(out.completion(i)), tok.decode(ref))
    np.testing.assert_allclose(out.model_logprobs[i], ref_logp, atol=2e-3)
  stopped = sampling.generate(smollm2, prompts, max_new_tokens=n, temperature=0.0)
  saw_stop = False
  for i in range(len(prompts)):
    full = out.completion(i)
    hits = [j for j, t in enumerate(full) if t in smollm2.stop_ids]
    want = hits[0] + 1 if hits else n
    saw_stop |= bool(hits)
    assert stopped.completion(i) == full[:want]
    assert stopped.finish_reason[i] == ("stop" if hits else "length")
  assert saw_stop, "expected at least one short answer to end with EOS"


def test_logprobs_and_first_token_distribution(tiny, tiny_sampler):
  """256 rows of one prompt at T=1: the first tokens follow the model's softmax
  (chi-square), log-probs equal the full-forward log-softmax, and at T=1 without filters
  the sampling log-probs are the model's."""
  prompt = _prompts(tiny.config.vocab_size, (6,), seed=1)[0]
  out = tiny_sampler(tiny.params, [prompt] * 256, max_new_tokens=6, temperature=1.0, seed=3)
  logits = tiny.logits(np.asarray([prompt]))[0, -1].astype(np.float64)
  p = np.exp(logits - logits.max())
  p /= p.sum()
  # The distribution is flat-ish: chi-square over 8 groups of tokens of ~equal mass.
  order = np.argsort(-p)
  group = np.empty(p.size, int)
  group[order] = np.minimum((np.cumsum(p[order]) - p[order]) * 8, 7).astype(int)
  obs = np.bincount(group[out.tokens[:, 0]], minlength=8)
  exp = np.bincount(group, weights=p, minlength=8) * 256
  assert exp.min() > 15
  assert scipy.stats.chisquare(obs, exp).pvalue > 1e-3
  assert len({tuple(r) for r in out.tokens.tolist()}) > 100  # rows draw independently
  np.testing.assert_array_equal(out.logprobs, out.model_logprobs)
  for i in (0, 1, 255):
    seq = np.asarray([prompt + out.completion(i)])
    ref = tiny.logits(seq)[0].astype(np.float64)
    ref = ref - ref.max(-1, keepdims=True)
    ref -= np.log(np.exp(ref).sum(-1, keepdims=True))
    want = ref[np.arange(5, 11), out.tokens[i]]
    np.testing.assert_allclose(out.model_logprobs[i], want, atol=1e-4)
  # Same seed, same draws; another seed, other draws.
  again = tiny_sampler(tiny.params, [prompt] * 256, max_new_tokens=6, temperature=1.0, seed=3)
  np.testing.assert_array_equal(again.tokens, out.tokens)
  other = tiny_sampler(tiny.params, [prompt] * 256, max_new_tokens=6, temperature=1.0, seed=4)
  assert (other.tokens != out.tokens).any()


def test_temperature_and_top_k_logprobs(tiny, tiny_sampler):
  prompts = _prompts(tiny.config.vocab_size, (3, 12), seed=2)
  out = tiny_sampler(tiny.params, prompts, max_new_tokens=5, temperature=0.7, top_k=3, seed=0)
  for i, p in enumerate(prompts):
    logits = tiny.logits(np.asarray([p + out.completion(i)]))[0, len(p) - 1:-1] / 0.7
    for t, (row, tok) in enumerate(zip(logits.astype(np.float64), out.tokens[i])):
      top = np.sort(row)[::-1][:3]
      assert row[tok] >= top[-1]  # inside the top 3
      want = row[tok] - top.max() - np.log(np.exp(top - top.max()).sum())
      np.testing.assert_allclose(out.logprobs[i, t], want, atol=1e-4)


def test_stop_tokens_rows_finish_at_different_steps(tiny, tiny_sampler):
  prompts = _prompts(tiny.config.vocab_size, (4, 9, 13, 2), seed=5)
  n = 12
  free = tiny_sampler(tiny.params, prompts, max_new_tokens=n, temperature=0.0)
  stops = (free.tokens[0, 2], free.tokens[1, 6])
  want = []
  for i in range(len(prompts)):
    hits = [j for j, t in enumerate(free.tokens[i]) if t in stops]
    want.append(hits[0] + 1 if hits else n)
  assert len(set(want)) >= 3 and n in want, want  # several finishing steps, one never stops
  out = tiny_sampler(tiny.params, prompts, max_new_tokens=n, temperature=0.0, stop_ids=stops)
  assert out.lengths.tolist() == want
  for i, L in enumerate(want):
    assert out.completion(i) == free.tokens[i, :L].tolist()
    assert np.all(out.tokens[i, L:] == 0)
    assert np.all(out.model_logprobs[i, L:] == 0.0)
    np.testing.assert_allclose(out.model_logprobs[i, :L], free.model_logprobs[i, :L], atol=1e-5)
    assert out.finish_reason[i] == ("length" if L == n and free.tokens[i, -1] not in stops
                                    else "stop")


def test_early_exit_and_max_length_truncation(tiny, tiny_sampler):
  prompts = _prompts(tiny.config.vocab_size, (7, 3), seed=6)
  free = tiny_sampler(tiny.params, prompts, max_new_tokens=16, temperature=0.0)
  assert tiny_sampler.last_timing["decode_steps"] == 16
  # Both rows stop by step 3: the loop exits there, not at max_new_tokens.
  stops = tuple(int(t) for t in free.tokens[:, 2])
  out = tiny_sampler(tiny.params, prompts, max_new_tokens=16, temperature=0.0, stop_ids=stops)
  assert max(out.lengths) <= 3 and tiny_sampler.last_timing["decode_steps"] == max(out.lengths)
  # Truncation: 5 tokens (same program, bucket 16), reason "length", same prefix.
  short = tiny_sampler(tiny.params, prompts, max_new_tokens=5, temperature=0.0)
  assert short.tokens.shape == (2, 5) and short.logprobs.shape == (2, 5)
  assert short.lengths.tolist() == [5, 5] and short.finish_reason == ["length", "length"]
  np.testing.assert_array_equal(short.tokens, free.tokens[:, :5])
  assert tiny_sampler.last_timing["decode_steps"] == 5


def test_identical_prompts_share_one_prefill(tiny, tiny_sampler):
  a, b, c, d, e = _prompts(tiny.config.vocab_size, (5, 9, 3, 7, 12), seed=9)
  distinct = tiny_sampler(tiny.params, [a, b, c, d, e], max_new_tokens=10, temperature=0.0)
  assert tiny_sampler.last_timing["shapes"].unique == 0
  shared = tiny_sampler(tiny.params, [a, b, a, a, c], max_new_tokens=10, temperature=0.0)
  assert tiny_sampler.last_timing["shapes"].unique == 4  # 3 prompts prefilled, bucket 4
  for row, want in ((0, 0), (1, 1), (2, 0), (3, 0), (4, 2)):
    np.testing.assert_array_equal(shared.tokens[row], distinct.tokens[want])
    np.testing.assert_allclose(shared.model_logprobs[row], distinct.model_logprobs[want],
                               atol=1e-5)


def test_compilations_stay_bounded(tiny):
  s = Sampler(tiny.config, tiny.mesh, engine="static")
  rng = np.random.default_rng(7)
  # Rows 3-4 -> batch bucket 4; prompt lengths 1-16 -> 16; max_new_tokens 1-16 -> 16.
  for n_rows, max_len, max_new in [(3, 3, 4), (4, 16, 16), (3, 9, 11), (4, 1, 1), (3, 12, 7)]:
    prompts = [rng.integers(0, 256, rng.integers(1, max_len + 1)).tolist()
               for _ in range(n_rows)]
    out = s(tiny.params, prompts, max_new_tokens=max_new, temperature=0.0)
    assert out.tokens.shape == (n_rows, max_new)
  assert s.num_compilations == 2  # one prefill + one decode for bucket (4, 16, 16)
  s(tiny.params, [[1] * 20, [2], [3], [4]], max_new_tokens=3, temperature=0.0)  # prompt 32
  assert s.num_compilations == 4
  s(tiny.params, [[3] * 30, [4], [5] * 17], max_new_tokens=9, temperature=0.0)
  assert s.num_compilations == 4
  s(tiny.params, [[3]], max_new_tokens=9, temperature=0.0)  # batch bucket 1
  assert s.num_compilations == 6
  assert s.compile_seconds > 0


def test_compile_static_builds_the_programs_a_call_runs(tiny):
  """Ahead-of-time compiles (no run) are the programs a later call of those shapes runs:
  the call compiles nothing more and draws what a fresh sampler draws."""
  prompts = _prompts(tiny.config.vocab_size, (5, 9, 3), seed=2)
  s = Sampler(tiny.config, tiny.mesh, engine="static")
  progs = s.compile_static(tiny.params, prompts, max_new_tokens=12, temperature=0.7)
  assert set(progs) == {"prefill", "decode"} and s.num_compilations == 2
  assert progs["decode"].memory_analysis().argument_size_in_bytes > 0
  out = s(tiny.params, prompts, max_new_tokens=12, temperature=0.7, seed=5)
  assert s.num_compilations == 2
  fresh = Sampler(tiny.config, tiny.mesh, engine="static")(
      tiny.params, prompts, max_new_tokens=12, temperature=0.7, seed=5)
  np.testing.assert_array_equal(out.tokens, fresh.tokens)


@pytest.mark.parametrize("engine", ["static", "continuous"])
def test_greedy_and_temperatures_share_programs(tiny, engine):
  """Calls without filters compile once whatever their temperature (0 = greedy, 1, 0.7),
  and each still draws its own way: greedy equals a T=1e-6 draw (the argmax), T=1 keeps
  the model's log-probs, T=0.7 sharpens; a filter (top-k) is a program of its own."""
  s = Sampler(tiny.config, tiny.mesh, engine=engine, decode_slots=4, window=8)
  prompts = _prompts(tiny.config.vocab_size, (5, 9, 3, 12), seed=3)
  call = lambda **kw: s(tiny.params, prompts, max_new_tokens=10, seed=4, **kw)
  greedy = call(temperature=0.0)
  warm = s.num_compilations
  one, cold = call(temperature=1.0), call(temperature=0.7)
  assert s.num_compilations == warm
  assert np.all(greedy.logprobs == 0.0)
  np.testing.assert_array_equal(one.logprobs, one.model_logprobs)
  assert not np.array_equal(cold.logprobs, cold.model_logprobs)
  assert not np.array_equal(one.tokens, greedy.tokens)
  np.testing.assert_array_equal(call(temperature=1e-6).tokens, greedy.tokens)
  call(temperature=0.7, top_k=5)
  assert s.num_compilations > warm


def test_eight_device_mesh_matches_one_device(tiny, tiny_sampler):
  mesh8 = parallel.make_mesh((4, 1, 2))
  params8 = jax.device_put(tiny.params, models.param_shardings(tiny.config, mesh8))
  s8 = Sampler(tiny.config, mesh8, engine="static")
  cache_spec = s8._cache_shardings(8, 32)[0]["k"].spec
  assert cache_spec[0] == "data" and cache_spec[1] == "tensor"
  prompts = _prompts(tiny.config.vocab_size, (3, 11, 6, 14, 1), seed=8)
  for kw in (dict(temperature=0.0), dict(temperature=1.0, seed=11)):
    one = tiny_sampler(tiny.params, prompts, max_new_tokens=12, **kw)
    eight = s8(params8, prompts, max_new_tokens=12, **kw)
    np.testing.assert_array_equal(eight.tokens, one.tokens)
    np.testing.assert_allclose(eight.model_logprobs, one.model_logprobs, atol=1e-5)


def test_bad_prompts_raise_clear_errors(tiny):
  s = Sampler(tiny.config, tiny.mesh, max_prompt_len=32)
  with pytest.raises(PromptError, match=r"prompt 1: 33 tokens exceeds max_prompt_len=32"):
    s(tiny.params, [[1], [2] * 33], max_new_tokens=4)
  with pytest.raises(PromptError, match="prompt 0: must be a non-empty"):
    s(tiny.params, [[]], max_new_tokens=4)
  with pytest.raises(PromptError, match=r"must be in \[0, 256\)"):
    s(tiny.params, [[1, 256]], max_new_tokens=4)
  with pytest.raises(PromptError, match="prompts is empty"):
    s(tiny.params, [], max_new_tokens=4)
  with pytest.raises(ValueError, match="max_new_tokens"):
    s(tiny.params, [[1]], max_new_tokens=0)
  with pytest.raises(ValueError, match="top_p"):
    s(tiny.params, [[1]], max_new_tokens=2, top_p=0.0)
  assert s.num_compilations == 0


def test_decode_phases_grow_the_cache(tiny):
  s = Sampler(tiny.config, tiny.mesh)
  shapes = sampling.Shapes(batch=4, prompt=32, new=256, n_stop=4)
  assert s.phases(shapes) == [(64, 96), (128, 160), (256, 288)]
  assert s.phases(sampling.Shapes(batch=4, prompt=32, new=32, n_stop=4)) == [(32, 64)]
  assert Sampler(tiny.config, tiny.mesh, decode_phases=1).phases(shapes) == [(256, 288)]
  with pytest.raises(ValueError, match="decode_phases"):
    Sampler(tiny.config, tiny.mesh, decode_phases=0)
