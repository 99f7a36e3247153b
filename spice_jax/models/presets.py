"""Named architectures. Shapes follow the public `config.json` of each checkpoint."""

from __future__ import annotations

import os

from spice_jax.models.config import ModelConfig, ModelConfigError, RopeScaling

_LLAMA3_ROPE_32 = RopeScaling(factor=32.0, low_freq_factor=1.0, high_freq_factor=4.0,
                              original_max_position_embeddings=8192)
_LLAMA3_ROPE_8 = RopeScaling(factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                             original_max_position_embeddings=8192)

def _qwen3(d_model: int, n_layers: int, n_heads: int, mlp_dim: int, *, tie: bool) -> ModelConfig:
  return ModelConfig(
      family="qwen3", vocab_size=151936, d_model=d_model, n_layers=n_layers, n_heads=n_heads,
      n_kv_heads=8, head_dim=128, mlp_dim=mlp_dim, rms_eps=1e-6, rope_theta=1_000_000.0,
      tie_embeddings=tie, max_seq_len=32768, eos_ids=(151643,))


def _tiny(family: str, vocab_size: int, **kw) -> ModelConfig:
  kw = {"rms_eps": 1e-5, "tie_embeddings": True, **kw}
  return ModelConfig(family=family, vocab_size=vocab_size, d_model=64, n_layers=2, n_heads=4,
                     n_kv_heads=2, **kw)


PRESETS: dict[str, ModelConfig] = {
    "smollm2-135m-instruct": ModelConfig(
        family="llama", vocab_size=49152, d_model=576, n_layers=30, n_heads=9, n_kv_heads=3,
        head_dim=64, mlp_dim=1536, rms_eps=1e-5, rope_theta=100000.0, tie_embeddings=True,
        max_seq_len=8192, bos_id=1, eos_ids=(2,), pad_id=2),
    # Qwen3 base models: one family of shapes (d_model, layers, heads, mlp, tied output).
    "qwen3-0.6b": _qwen3(1024, 28, 16, 3072, tie=True),
    "qwen3-1.7b": _qwen3(2048, 28, 16, 6144, tie=True),
    "qwen3-4b": _qwen3(2560, 36, 32, 9728, tie=True),
    "qwen3-8b": _qwen3(4096, 36, 32, 12288, tie=False),
    # OctoThinker-3B-Hybrid-Base shape (Llama-3.2-3B).
    "llama-3.2-3b": ModelConfig(
        family="llama", vocab_size=128256, d_model=3072, n_layers=28, n_heads=24, n_kv_heads=8,
        head_dim=128, mlp_dim=8192, rms_eps=1e-5, rope_theta=500000.0,
        rope_scaling=_LLAMA3_ROPE_32, tie_embeddings=True, max_seq_len=131072, bos_id=128000,
        eos_ids=(128001,)),
    # OctoThinker-8B-Hybrid-Base shape (Llama-3.1-8B).
    "llama-3.1-8b": ModelConfig(
        family="llama", vocab_size=128256, d_model=4096, n_layers=32, n_heads=32, n_kv_heads=8,
        head_dim=128, mlp_dim=14336, rms_eps=1e-5, rope_theta=500000.0,
        rope_scaling=_LLAMA3_ROPE_8, tie_embeddings=False, max_seq_len=131072, bos_id=128000,
        eos_ids=(128001,)),
    # Tiny configs for tests and CPU smoke runs (2 layers, d=64, 4 heads / 2 KV heads).
    "tiny-llama": _tiny("llama", 256, head_dim=16, mlp_dim=128, rope_theta=10000.0,
                        max_seq_len=2048),
    "tiny-qwen3": _tiny("qwen3", 256, head_dim=32, mlp_dim=128, rope_theta=1_000_000.0,
                        max_seq_len=2048, rms_eps=1e-6, tie_embeddings=False),
    # The learning world's model (experiments/world_small.py), trained from scratch by
    # `spice_jax.sft` with a 600-token BPE tokenizer trained on the world's examples.
    "world-small": _tiny("llama", 600, head_dim=16, mlp_dim=256, rope_theta=10000.0,
                         max_seq_len=512),
    # The ladder world's model (experiments/world_ladder.py): world-small with a 512-token
    # vocabulary (the ladder's text has fewer distinct words: BPE runs out of merges ~560).
    "world-ladder": _tiny("llama", 512, head_dim=16, mlp_dim=256, rope_theta=10000.0,
                          max_seq_len=512),
    # Random weights with the real SmolLM2 vocabulary, so tests and smoke runs have a real
    # tokenizer and chat template (loaded from the embedded GGUF).
    "tiny-smollm2": _tiny("llama", 49152, head_dim=16, mlp_dim=128, rope_theta=100000.0,
                          max_seq_len=8192, bos_id=1, eos_ids=(2,), pad_id=2),
    # Random weights with a 1,024-token BPE of the demo corpus (TINY_BPE_DIR, written by
    # tools/tiny_tokenizer.py): the trainer tests' model (experiments/tiny_test.py), where a
    # 49k-token head would be ~97 % of the FLOPs. `<|pad|>` = 0, `<|end|>` (EOS) = 2.
    "tiny-bpe": _tiny("llama", 1024, head_dim=16, mlp_dim=128, rope_theta=10000.0,
                      max_seq_len=4096, eos_ids=(2,), pad_id=0),
}

TINY_BPE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny_bpe")

# Presets whose random weights come with a tokenizer: the embedded model's (its preset name)
# or an HF tokenizer directory shipped with the package.
PRESET_TOKENIZERS = {"tiny-smollm2": "smollm2-135m-instruct", "tiny-bpe": TINY_BPE_DIR}


def get(name: str) -> ModelConfig:
  if name not in PRESETS:
    raise ModelConfigError(f"unknown preset {name!r}; known: {sorted(PRESETS)}")
  return PRESETS[name]
