"""Named architectures. Shapes follow the public `config.json` of each checkpoint."""

from __future__ import annotations

from spice_jax.models.config import ModelConfig, ModelConfigError, RopeScaling

_LLAMA3_ROPE_32 = RopeScaling(factor=32.0, low_freq_factor=1.0, high_freq_factor=4.0,
                              original_max_position_embeddings=8192)
_LLAMA3_ROPE_8 = RopeScaling(factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                             original_max_position_embeddings=8192)

PRESETS: dict[str, ModelConfig] = {
    "smollm2-135m-instruct": ModelConfig(
        family="llama", vocab_size=49152, d_model=576, n_layers=30, n_heads=9, n_kv_heads=3,
        head_dim=64, mlp_dim=1536, rms_eps=1e-5, rope_theta=100000.0, tie_embeddings=True,
        max_seq_len=8192, bos_id=1, eos_ids=(2,), pad_id=2),
    "qwen3-0.6b": ModelConfig(
        family="qwen3", vocab_size=151936, d_model=1024, n_layers=28, n_heads=16, n_kv_heads=8,
        head_dim=128, mlp_dim=3072, rms_eps=1e-6, rope_theta=1_000_000.0, tie_embeddings=True,
        max_seq_len=32768, eos_ids=(151643,)),
    "qwen3-1.7b": ModelConfig(
        family="qwen3", vocab_size=151936, d_model=2048, n_layers=28, n_heads=16, n_kv_heads=8,
        head_dim=128, mlp_dim=6144, rms_eps=1e-6, rope_theta=1_000_000.0, tie_embeddings=True,
        max_seq_len=32768, eos_ids=(151643,)),
    "qwen3-4b": ModelConfig(
        family="qwen3", vocab_size=151936, d_model=2560, n_layers=36, n_heads=32, n_kv_heads=8,
        head_dim=128, mlp_dim=9728, rms_eps=1e-6, rope_theta=1_000_000.0, tie_embeddings=True,
        max_seq_len=32768, eos_ids=(151643,)),
    "qwen3-8b": ModelConfig(
        family="qwen3", vocab_size=151936, d_model=4096, n_layers=36, n_heads=32, n_kv_heads=8,
        head_dim=128, mlp_dim=12288, rms_eps=1e-6, rope_theta=1_000_000.0, tie_embeddings=False,
        max_seq_len=32768, eos_ids=(151643,)),
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
    # Tiny configs for tests and CPU smoke runs.
    "tiny-llama": ModelConfig(
        family="llama", vocab_size=256, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2,
        head_dim=16, mlp_dim=128, rms_eps=1e-5, rope_theta=10000.0, tie_embeddings=True,
        max_seq_len=2048),
    "tiny-qwen3": ModelConfig(
        family="qwen3", vocab_size=256, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2,
        head_dim=32, mlp_dim=128, rms_eps=1e-6, rope_theta=1_000_000.0, tie_embeddings=False,
        max_seq_len=2048),
    # The learning world's model (experiments/world_small.py), trained from scratch by
    # `spice_jax.sft` with a 600-token BPE tokenizer trained on the world's examples.
    "world-small": ModelConfig(
        family="llama", vocab_size=600, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2,
        head_dim=16, mlp_dim=256, rms_eps=1e-5, rope_theta=10000.0, tie_embeddings=True,
        max_seq_len=512),
    # Random weights with the real SmolLM2 vocabulary, so tests and smoke runs have a real
    # tokenizer and chat template (loaded from the embedded GGUF).
    "tiny-smollm2": ModelConfig(
        family="llama", vocab_size=49152, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2,
        head_dim=16, mlp_dim=128, rms_eps=1e-5, rope_theta=100000.0, tie_embeddings=True,
        max_seq_len=8192, bos_id=1, eos_ids=(2,), pad_id=2),
}

# Presets whose random weights come with the tokenizer of another (embedded) model.
PRESET_TOKENIZERS = {"tiny-smollm2": "smollm2-135m-instruct"}


def get(name: str) -> ModelConfig:
  if name not in PRESETS:
    raise ModelConfigError(f"unknown preset {name!r}; known: {sorted(PRESETS)}")
  return PRESETS[name]
