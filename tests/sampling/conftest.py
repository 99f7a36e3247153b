"""Fixtures for the sampler tests: random HF checkpoints written by transformers, and meshes."""
import jax
import pytest

from spice_jax import models, parallel


def _sharpen(model, scale):
  """Scales every weight matrix so logits are far from uniform (clear greedy margins)."""
  import torch
  with torch.no_grad():
    for name, p in model.named_parameters():
      if p.ndim == 2:
        p.mul_(scale)
      elif "norm" in name:  # exercise the norm scales (init is all ones)
        p.add_(0.1 * torch.randn_like(p))
  return model


def _hf_model(kind, seed):
  import torch
  import transformers
  torch.manual_seed(seed)
  if kind == "llama":
    cfg = transformers.LlamaConfig(
        vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
        rms_norm_eps=1e-5, rope_theta=10000.0, max_position_embeddings=2048)
    m = transformers.LlamaForCausalLM(cfg)
  else:
    cfg = transformers.Qwen3Config(
        vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=32, tie_word_embeddings=False,
        rms_norm_eps=1e-6, rope_theta=1e6, max_position_embeddings=2048)
    m = transformers.Qwen3ForCausalLM(cfg)
  return _sharpen(m, 6.0).eval()


@pytest.fixture(scope="session")
def mesh1():
  return parallel.make_mesh((1, 1, 1), devices=jax.devices()[:1])


@pytest.fixture(scope="session", params=["llama", "qwen3"])
def hf_random(request, tmp_path_factory, mesh1):
  """(torch model, our Model loaded from its saved HF directory on one device)."""
  m = _hf_model(request.param, seed=3)
  path = str(tmp_path_factory.mktemp(request.param))
  m.save_pretrained(path)
  return m, models.load(path, mesh=mesh1)


@pytest.fixture(scope="session")
def tiny(mesh1):
  """A sharpened random tiny Llama (ours), float32, on one device."""
  import numpy as np
  m = models.load("tiny-llama", mesh=mesh1, seed=5)
  m.params = jax.tree.map(lambda x: x * 6.0 if x.ndim >= 2 else x, m.params)
  return m


def _assert_same(a, b):
  """Two SampleOutputs agree: tokens, lengths and finish reasons exactly, log-probs to 2e-5
  (the engines' attention sums in another order)."""
  import numpy as np
  np.testing.assert_array_equal(a.lengths, b.lengths)
  np.testing.assert_array_equal(a.tokens, b.tokens)
  assert a.finish_reason == b.finish_reason
  np.testing.assert_allclose(a.model_logprobs, b.model_logprobs, atol=2e-5)
  np.testing.assert_allclose(a.logprobs, b.logprobs, atol=2e-5)


@pytest.fixture(scope="session")
def assert_same():
  """`assert_same(a, b)`: the check that two engines' outputs are the same sample."""
  return _assert_same
