"""Logit parity with the PyTorch `transformers` implementations, padding, remat, RoPE."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from spice_jax import models
from spice_jax.models import transformer


def _torch_logits(m, tokens):
  import torch
  with torch.no_grad():
    return m(torch.tensor(tokens, dtype=torch.long)).logits.numpy()


@pytest.mark.parametrize("fixture", ["hf_llama", "hf_qwen3"])
def test_logits_match_transformers_float32(fixture, tokens, request):
  path, ref_model = request.getfixturevalue(fixture)
  ours = models.load(path)
  ref = _torch_logits(ref_model, tokens)
  got = ours.logits(tokens)
  assert got.shape == ref.shape == (2, 37, 320)
  assert np.abs(got - ref).max() <= 1e-4
  assert (got.argmax(-1) == ref.argmax(-1)).all()


def test_config_read_from_hf(hf_llama, hf_qwen3):
  llama = models.load(hf_llama[0]).config
  assert llama.family == "llama" and llama.tie_embeddings and llama.rope_scaling.factor == 8.0
  qwen = models.load(hf_qwen3[0]).config
  assert qwen.family == "qwen3" and qwen.head_dim == 32 and qwen.d_model == 64
  assert not qwen.tie_embeddings and qwen.qk_norm


def test_bfloat16_close_to_float32(hf_qwen3, tokens):
  f32 = models.load(hf_qwen3[0]).logits(tokens)
  bf16 = models.load(hf_qwen3[0], dtype="bfloat16").logits(tokens)
  assert bf16.dtype == np.float32
  assert np.abs(bf16 - f32).max() < 0.1 * np.abs(f32).max()
  assert (bf16.argmax(-1) == f32.argmax(-1)).mean() > 0.9


def test_left_padding_masked_out():
  """Left-padded rows (kv_mask off on the padding, positions from 0 at the first real
  token) give the logits of the unpadded sequences. (Decoding with a KV cache is
  spice_jax.sampling's, tested in tests/sampling/test_forward.py.)"""
  cfg = models.PRESETS["tiny-qwen3"]
  m = models.load("tiny-qwen3", seed=3)
  rng = np.random.RandomState(0)
  lens = [5, 11]
  seqs = [rng.randint(0, cfg.vocab_size, n) for n in lens]
  T = max(lens)
  tokens = np.zeros((2, T), np.int32)
  pad = T - np.array(lens)
  for b, s in enumerate(seqs):
    tokens[b, pad[b]:] = s
  kv_mask = np.arange(T)[None] >= pad[:, None]
  pos = np.maximum(np.arange(T)[None] - pad[:, None], 0)
  logits, _ = m.module().apply({"params": m.params}, jnp.asarray(tokens), jnp.asarray(pos),
                               jnp.asarray(kv_mask))
  for b, s in enumerate(seqs):
    np.testing.assert_allclose(logits[b, pad[b]:], m.logits(s[None])[0], atol=1e-4)


def test_remat_gives_same_gradients():
  cfg = models.PRESETS["tiny-llama"]
  m = models.load("tiny-llama", seed=1)
  tok = jnp.asarray(np.random.RandomState(0).randint(0, cfg.vocab_size, (2, 12)), jnp.int32)
  pos = jnp.broadcast_to(jnp.arange(12), (2, 12))

  def loss(p, remat):
    lg, _ = transformer.Transformer(cfg, remat=remat).apply({"params": p}, tok, pos)
    return jax.nn.log_softmax(lg).mean()
  g0 = jax.grad(loss)(m.params, False)
  g1 = jax.grad(loss)(m.params, True)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), g0, g1)


def test_rope_llama3_scaling_matches_transformers():
  import torch
  import transformers
  from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
  cfg = models.PRESETS["llama-3.1-8b"]
  hf = transformers.LlamaConfig(**{k: v for k, v in models.config.to_hf_config(cfg).items()
                                   if k not in ("architectures", "torch_dtype")})
  inv, _ = ROPE_INIT_FUNCTIONS["llama3"](hf, torch.device("cpu"))
  np.testing.assert_allclose(transformer.rope_inv_freq(cfg), inv.numpy(), rtol=1e-6)


def test_rope_table_lookup_equals_direct_rotation():
  """The inference paths look RoPE cos/sin up in `rope_table`; the training path computes
  them. Both against float64 numpy, at positions up to the table's end."""
  cfg = models.PRESETS["llama-3.1-8b"]
  positions = jnp.array([[0, 1, 7], [4095, 1000, 3]], jnp.int32)
  table = transformer.rope_table(cfg, 4096)
  assert table[0].shape == (4096, cfg.head_dim // 2)
  # The f32 angle (as in transformers), then cos/sin in float64.
  ang = np.asarray(positions, np.float32)[..., None] * transformer.rope_inv_freq(cfg).astype(
      np.float32)
  for got in (transformer.rope_tables(cfg, positions),
              transformer.rope_tables(cfg, positions, table)):
    np.testing.assert_allclose(np.asarray(got[0])[:, :, 0], np.cos(ang.astype(np.float64)),
                               atol=2e-6)
    np.testing.assert_allclose(np.asarray(got[1])[:, :, 0], np.sin(ang.astype(np.float64)),
                               atol=2e-6)


def test_presets_have_published_sizes():
  # Parameter counts of the public checkpoints (to 1%).
  expect = {"smollm2-135m-instruct": 134.5e6, "qwen3-0.6b": 596e6, "qwen3-4b": 4.02e9,
            "qwen3-8b": 8.19e9, "llama-3.2-3b": 3.21e9, "llama-3.1-8b": 8.03e9}
  for name, n in expect.items():
    assert abs(models.PRESETS[name].num_params() - n) / n < 0.01, name


def test_project_alone_matches_the_forward_for_untied_output():
  """`method=Transformer.project` (the loss's chunked projection) reads the separate output
  matrix of an untied model (Qwen3-8B, Llama-3.1-8B shapes) and equals the full forward."""
  import jax
  import jax.numpy as jnp
  import numpy as np
  from spice_jax import models, parallel
  from spice_jax.models.transformer import Transformer
  m = models.load("tiny-qwen3", mesh=parallel.make_mesh((1, 1, 1)), seed=0)
  assert not m.config.tie_embeddings
  module = Transformer(m.config)
  tokens = jnp.asarray(np.arange(12).reshape(2, 6) % m.config.vocab_size, jnp.int32)
  pos = jnp.broadcast_to(jnp.arange(6), (2, 6))
  logits, _ = module.apply({"params": m.params}, tokens, pos)
  hidden, _ = module.apply({"params": m.params}, tokens, pos, return_hidden=True)
  proj = module.apply({"params": m.params}, hidden, method=Transformer.project)
  np.testing.assert_allclose(np.asarray(proj), np.asarray(logits), rtol=1e-5, atol=1e-5)
