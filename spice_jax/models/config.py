"""Architecture description shared by every decoder-only model we run.

One frozen dataclass covers the Llama family (Llama-3.x, SmolLM2, OctoThinker) and the
Qwen3 family (adds RMSNorm on queries and keys, head_dim independent of d_model). It is
hashable so it can be passed to `jax.jit` as a static argument.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from spice_jax.errors import SpiceError


class ModelConfigError(SpiceError, ValueError):
  """A model description that we cannot build (unsupported architecture, bad field)."""


# Training/scoring attention implementations (`spice_jax.models.attention`); "auto" picks
# one for the platform of the mesh the model is built for.
ATTENTION_IMPLS = ("auto", "dense", "blockwise", "splash")


@dataclasses.dataclass(frozen=True)
class RopeScaling:
  """Llama-3 style frequency-dependent RoPE scaling (`rope_type: llama3`)."""
  factor: float = 8.0
  low_freq_factor: float = 1.0
  high_freq_factor: float = 4.0
  original_max_position_embeddings: int = 8192


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Decoder-only transformer shape.

  Attributes:
    family: "llama" or "qwen3" (qwen3 adds per-head RMSNorm on q and k).
    vocab_size: rows of the embedding table, V.
    d_model: residual width, D.
    n_layers: number of decoder blocks, L.
    n_heads: query heads, H.
    n_kv_heads: key/value heads, KVH (GQA when KVH < H).
    head_dim: per-head width, Dh (Qwen3: not D / H).
    mlp_dim: SwiGLU hidden width, F.
    rms_eps: epsilon of every RMSNorm.
    rope_theta: RoPE base.
    rope_scaling: optional llama3 scaling.
    tie_embeddings: output projection shares the embedding table.
    max_seq_len: longest context the model was trained for (informational).
    bos_id / eos_ids / pad_id: special token ids from the checkpoint (may be None).
    attention: whole-sequence attention implementation, one of ATTENTION_IMPLS (not part
      of the architecture: the same weights run under any of them).
  """
  family: str = "llama"
  vocab_size: int = 256
  d_model: int = 64
  n_layers: int = 2
  n_heads: int = 4
  n_kv_heads: int = 2
  head_dim: int = 16
  mlp_dim: int = 128
  rms_eps: float = 1e-5
  rope_theta: float = 10000.0
  rope_scaling: RopeScaling | None = None
  tie_embeddings: bool = True
  max_seq_len: int = 8192
  bos_id: int | None = None
  eos_ids: tuple[int, ...] = ()
  pad_id: int | None = None
  attention: str = "auto"

  def __post_init__(self):
    if self.family not in ("llama", "qwen3"):
      raise ModelConfigError(f"family must be 'llama' or 'qwen3', got {self.family!r}")
    for f in ("vocab_size", "d_model", "n_layers", "n_heads", "n_kv_heads", "head_dim", "mlp_dim"):
      v = getattr(self, f)
      if not isinstance(v, int) or v <= 0:
        raise ModelConfigError(f"{f} must be a positive int, got {v!r}")
    if self.n_heads % self.n_kv_heads:
      raise ModelConfigError(
          f"n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({self.n_kv_heads})")
    if self.attention not in ATTENTION_IMPLS:
      raise ModelConfigError(
          f"attention must be one of {ATTENTION_IMPLS}, got {self.attention!r}")

  @property
  def qk_norm(self) -> bool:
    return self.family == "qwen3"

  def replace(self, **kw) -> "ModelConfig":
    return dataclasses.replace(self, **kw)

  def num_params(self) -> int:
    D, F, L, V = self.d_model, self.mlp_dim, self.n_layers, self.vocab_size
    qo = 2 * D * self.n_heads * self.head_dim
    kv = 2 * D * self.n_kv_heads * self.head_dim
    per_layer = qo + kv + 3 * D * F + 2 * D + (2 * self.head_dim if self.qk_norm else 0)
    return L * per_layer + V * D * (1 if self.tie_embeddings else 2) + D

  def flops_per_token(self, context: int = 0) -> float:
    """Forward FLOPs per token: 2 * matmul params + attention over `context` keys."""
    D, L, V = self.d_model, self.n_layers, self.vocab_size
    # The embedding lookup is not a matmul; the output projection is.
    matmul = self.num_params() - V * D * (0 if self.tie_embeddings else 1)
    attn = 2 * 2 * L * self.n_heads * self.head_dim * context
    return 2 * matmul + attn


_SUPPORTED_HF = {
    "LlamaForCausalLM": "llama",
    "Qwen3ForCausalLM": "qwen3",
}


def from_hf_config(cfg: dict[str, Any], *, path: str = "config.json") -> ModelConfig:
  """Builds a ModelConfig from a Hugging Face `config.json` dictionary."""
  archs = cfg.get("architectures") or []
  model_type = cfg.get("model_type")
  family = None
  for a in archs:
    family = family or _SUPPORTED_HF.get(a)
  if family is None and model_type in ("llama", "qwen3"):
    family = model_type
  if family is None:
    raise ModelConfigError(
        f"{path}: unsupported architecture {archs or model_type!r}; supported: "
        f"{sorted(_SUPPORTED_HF)} (model_type llama / qwen3)")

  def need(key):
    if key not in cfg:
      raise ModelConfigError(f"{path}: field {key!r} missing")
    return cfg[key]

  if cfg.get("attention_bias") or cfg.get("mlp_bias"):
    raise ModelConfigError(f"{path}: attention_bias/mlp_bias=True is not supported")
  if cfg.get("hidden_act", "silu") != "silu":
    raise ModelConfigError(f"{path}: hidden_act {cfg['hidden_act']!r} unsupported (need silu)")
  d_model = int(need("hidden_size"))
  n_heads = int(need("num_attention_heads"))
  head_dim = cfg.get("head_dim") or d_model // n_heads
  scaling = None
  rs = cfg.get("rope_scaling") or (cfg.get("rope_parameters") or {})
  rtype = rs.get("rope_type", rs.get("type")) if rs else None
  if rtype == "llama3":
    scaling = RopeScaling(
        factor=float(rs["factor"]), low_freq_factor=float(rs["low_freq_factor"]),
        high_freq_factor=float(rs["high_freq_factor"]),
        original_max_position_embeddings=int(rs["original_max_position_embeddings"]))
  elif rtype not in (None, "default"):
    raise ModelConfigError(f"{path}: rope_scaling type {rtype!r} unsupported (llama3 or none)")
  theta = cfg.get("rope_theta", (cfg.get("rope_parameters") or {}).get("rope_theta", 10000.0))
  eos = cfg.get("eos_token_id")
  eos_ids = tuple(eos) if isinstance(eos, (list, tuple)) else ((eos,) if eos is not None else ())
  return ModelConfig(
      family=family,
      vocab_size=int(need("vocab_size")),
      d_model=d_model,
      n_layers=int(need("num_hidden_layers")),
      n_heads=n_heads,
      n_kv_heads=int(cfg.get("num_key_value_heads") or n_heads),
      head_dim=int(head_dim),
      mlp_dim=int(need("intermediate_size")),
      rms_eps=float(cfg.get("rms_norm_eps", 1e-6)),
      rope_theta=float(theta),
      rope_scaling=scaling,
      tie_embeddings=bool(cfg.get("tie_word_embeddings", False)),
      max_seq_len=int(cfg.get("max_position_embeddings", 8192)),
      bos_id=cfg.get("bos_token_id"),
      eos_ids=tuple(int(e) for e in eos_ids),
      pad_id=cfg.get("pad_token_id"),
  )


def read_hf_config(directory: str) -> ModelConfig:
  path = os.path.join(directory, "config.json")
  if not os.path.exists(path):
    raise ModelConfigError(f"{path}: not found (an HF checkpoint directory needs config.json)")
  try:
    with open(path) as f:
      cfg = json.load(f)
  except json.JSONDecodeError as e:
    raise ModelConfigError(f"{path}: not valid JSON ({e})") from e
  return from_hf_config(cfg, path=path)


def to_hf_config(cfg: ModelConfig) -> dict[str, Any]:
  """The `config.json` that `transformers` needs to rebuild this architecture."""
  arch = "Qwen3ForCausalLM" if cfg.family == "qwen3" else "LlamaForCausalLM"
  out = {
      "architectures": [arch],
      "model_type": cfg.family,
      "vocab_size": cfg.vocab_size,
      "hidden_size": cfg.d_model,
      "num_hidden_layers": cfg.n_layers,
      "num_attention_heads": cfg.n_heads,
      "num_key_value_heads": cfg.n_kv_heads,
      "head_dim": cfg.head_dim,
      "intermediate_size": cfg.mlp_dim,
      "rms_norm_eps": cfg.rms_eps,
      "rope_theta": cfg.rope_theta,
      "tie_word_embeddings": cfg.tie_embeddings,
      "max_position_embeddings": cfg.max_seq_len,
      "hidden_act": "silu",
      "attention_bias": False,
      "torch_dtype": "float32",
  }
  if cfg.rope_scaling is not None:
    out["rope_scaling"] = dict(rope_type="llama3", **dataclasses.asdict(cfg.rope_scaling))
  if cfg.bos_id is not None:
    out["bos_token_id"] = cfg.bos_id
  if cfg.eos_ids:
    out["eos_token_id"] = list(cfg.eos_ids) if len(cfg.eos_ids) > 1 else cfg.eos_ids[0]
  if cfg.pad_id is not None:
    out["pad_token_id"] = cfg.pad_id
  return out
