"""Decoder-only transformer for the Llama and Qwen3 families: the layer maths and the
Flax module used for training and scoring (inference with a KV cache: `spice_jax.sampling`).

Parameters carry logical axis names (`nn.with_logical_partitioning`); `spice_jax.parallel`
maps them to mesh axes. Layers are unrolled (one Python loop over blocks): on CPU and for the
decode loop this compiles to tighter code than `nn.scan`, and it keeps the HF weight map a
one-to-one name table.

Shapes: B batch, T query length, S key length, D d_model, H query heads,
K kv heads, G = H / K, Dh head_dim, F mlp_dim, V vocab.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from spice_jax.models import attention as attention_lib
# The dense attention's pieces, used by the inference paths as `layers.*` (defined with the
# other training implementations in `attention`).
from spice_jax.models.attention import attend, biased_softmax, causal_mask, mask_bias  # noqa: F401
from spice_jax.models.config import ModelConfig

def rope_inv_freq(cfg: ModelConfig) -> np.ndarray:
  """Inverse frequencies [Dh/2] (float64 numpy, then cast), with llama3 scaling if set."""
  half = cfg.head_dim // 2
  inv = 1.0 / (cfg.rope_theta ** (np.arange(0, half, dtype=np.float64) * 2 / cfg.head_dim))
  rs = cfg.rope_scaling
  if rs is not None:
    low_wl = rs.original_max_position_embeddings / rs.low_freq_factor
    high_wl = rs.original_max_position_embeddings / rs.high_freq_factor
    wl = 2 * np.pi / inv
    scaled = np.where(wl > low_wl, inv / rs.factor, inv)
    smooth = (rs.original_max_position_embeddings / wl - rs.low_freq_factor) / (
        rs.high_freq_factor - rs.low_freq_factor)
    mid = (1 - smooth) * scaled / rs.factor + smooth * scaled
    is_mid = (wl >= high_wl) & (wl <= low_wl)
    inv = np.where(is_mid, mid, scaled)
  return inv.astype(np.float32)


# ---------------------------------------------------------------- layer maths (shared)
# The pure functions below are the model's maths; the Flax modules here (training) and
# `spice_jax.sampling.forward` / `paged` (inference, fused weights and a KV cache) both
# call them, so a model family is described in one place.


def rms_norm(x: jax.Array, scale: jax.Array, eps: float) -> jax.Array:
  """RMSNorm over the last axis, computed in float32; returns float32."""
  xf = x.astype(jnp.float32)
  return xf * jax.lax.rsqrt(jnp.mean(xf * xf, axis=-1, keepdims=True) + eps) * scale


def rope_tables(cfg: ModelConfig, positions: jax.Array,
                table: tuple[jax.Array, jax.Array] | None = None) -> tuple[jax.Array, jax.Array]:
  """positions [B, T] int -> (cos, sin), each [B, T, 1, Dh/2] float32.

  With `table` (`rope_table`, covering every position) the values are looked up, not
  computed: XLA fuses cos/sin into each consumer, so computed here they would be
  recomputed for every head of every layer's q and k (a decode step's largest elementwise
  cost on CPU). The inference paths build the table once per program."""
  if table is not None:
    cos, sin = (jnp.take(t, positions, axis=0, mode="clip") for t in table)
  else:
    ang = positions.astype(jnp.float32)[..., None] * rope_inv_freq(cfg)  # [B, T, Dh/2]
    cos, sin = jnp.cos(ang), jnp.sin(ang)
  return cos[:, :, None], sin[:, :, None]


def rope_table(cfg: ModelConfig, length: int) -> tuple[jax.Array, jax.Array]:
  """(cos, sin) of positions 0 .. length - 1, each [length, Dh/2] float32."""
  cos, sin = rope_tables(cfg, jnp.arange(length, dtype=jnp.int32)[None])
  return cos[0, :, 0], sin[0, :, 0]


def rotate(x: jax.Array, cos: jax.Array, sin: jax.Array) -> jax.Array:
  """Half-split RoPE rotation (HF `rotate_half`) of x [B, T, N, Dh] in float32."""
  x1, x2 = jnp.split(x.astype(jnp.float32), 2, axis=-1)
  return jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def qk_transform(cfg: ModelConfig, q, k, cos, sin, q_norm=None, k_norm=None):
  """Per-family treatment of projected q [B, T, H, Dh] and k [B, T, K, Dh]: RMSNorm per
  head (Qwen3, scales q_norm / k_norm [Dh]), then RoPE. Returns float32 (q, k)."""
  if cfg.qk_norm:
    q = rms_norm(q, q_norm, cfg.rms_eps)
    k = rms_norm(k, k_norm, cfg.rms_eps)
  return rotate(q, cos, sin), rotate(k, cos, sin)


def swiglu(gate: jax.Array, up: jax.Array) -> jax.Array:
  """The MLP's gated activation silu(gate) * up."""
  return jax.nn.silu(gate) * up


def _param(mod: nn.Module, name: str, shape, axes, init, dtype):
  return mod.param(name, nn.with_logical_partitioning(init, axes), shape, jnp.float32).astype(dtype)


class RMSNorm(nn.Module):
  eps: float
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    scale = self.param("scale", nn.with_logical_partitioning(nn.initializers.ones, ("norm",)),
                       (x.shape[-1],), jnp.float32)
    return rms_norm(x, scale, self.eps).astype(self.dtype)


class NormScale(nn.Module):
  """The `scale` [n] of a norm whose maths runs elsewhere (`qk_transform`)."""

  @nn.compact
  def __call__(self, n: int):
    return self.param("scale", nn.with_logical_partitioning(nn.initializers.ones, ("norm",)),
                      (n,), jnp.float32)


class Attention(nn.Module):
  cfg: ModelConfig
  dtype: Any

  @nn.compact
  def __call__(self, x, positions, kv_mask):
    c = self.cfg
    init = nn.initializers.normal(0.02)
    wq = _param(self, "q", (c.d_model, c.n_heads, c.head_dim), ("embed", "heads", "head_dim"),
                init, self.dtype)
    wk = _param(self, "k", (c.d_model, c.n_kv_heads, c.head_dim),
                ("embed", "kv_heads", "head_dim"), init, self.dtype)
    wv = _param(self, "v", (c.d_model, c.n_kv_heads, c.head_dim),
                ("embed", "kv_heads", "head_dim"), init, self.dtype)
    wo = _param(self, "o", (c.n_heads, c.head_dim, c.d_model), ("heads", "head_dim", "embed"),
                init, self.dtype)
    q = jnp.einsum("btd,dhk->bthk", x, wq)
    k = jnp.einsum("btd,dhk->bthk", x, wk)
    v = jnp.einsum("btd,dhk->bthk", x, wv)
    norms = {}
    if c.qk_norm:
      norms = {n: NormScale(name=n)(c.head_dim) for n in ("q_norm", "k_norm")}
    q, k = qk_transform(c, q, k, *rope_tables(c, positions), **norms)
    q, k = q.astype(self.dtype), k.astype(self.dtype)
    o = attention_lib.causal_attention(c.attention, q, k, v, kv_mask)
    return jnp.einsum("bthk,hkd->btd", o, wo)


class MLP(nn.Module):
  cfg: ModelConfig
  dtype: Any

  @nn.compact
  def __call__(self, x):
    c = self.cfg
    init = nn.initializers.normal(0.02)
    wg = _param(self, "gate", (c.d_model, c.mlp_dim), ("embed", "mlp"), init, self.dtype)
    wu = _param(self, "up", (c.d_model, c.mlp_dim), ("embed", "mlp"), init, self.dtype)
    wd = _param(self, "down", (c.mlp_dim, c.d_model), ("mlp", "embed"), init, self.dtype)
    return swiglu(x @ wg, x @ wu) @ wd


class Block(nn.Module):
  cfg: ModelConfig
  dtype: Any

  @nn.compact
  def __call__(self, x, positions, kv_mask):
    x = x + Attention(self.cfg, self.dtype, name="attn")(
        RMSNorm(self.cfg.rms_eps, self.dtype, name="attn_norm")(x), positions, kv_mask)
    return x + MLP(self.cfg, self.dtype, name="mlp")(
        RMSNorm(self.cfg.rms_eps, self.dtype, name="mlp_norm")(x))


class Transformer(nn.Module):
  """The decoder. Call with tokens [B, T] and positions [B, T].

  Attributes:
    cfg: architecture.
    dtype: compute dtype (params are stored in float32 and cast on use).
    remat: rematerialise each block in the backward pass (blocks run as a scan).
  """
  cfg: ModelConfig
  dtype: Any = jnp.float32
  remat: bool = False

  def _scanned_blocks(self, x, positions, kv_mask):
    """The blocks as one `lax.scan` over stacked per-layer params, each step rematerialised.

    Used for training (remat=True). A loop keeps the backward pass to one layer's
    activations at a time on every backend: with unrolled layers XLA is free to schedule all
    recomputations early, which on CPU keeps every layer's attention matrices alive. Costs
    one stacked copy of the layer params inside the step.
    """
    params = nn.meta.unbox(self.variables["params"])
    layers = [params[f"layers_{i}"] for i in range(self.cfg.n_layers)]
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *layers)
    block = Block(self.cfg, self.dtype, parent=None)

    def body(h, p):
      return block.apply({"params": p}, h, positions, kv_mask), None
    x, _ = jax.lax.scan(jax.checkpoint(body, prevent_cse=False), x, stacked)
    return x

  @nn.compact
  def __call__(self, tokens, positions, kv_mask=None, return_hidden: bool = False):
    """Forward pass over whole sequences (training, scoring). Inference with a KV cache is
    `spice_jax.sampling` (the same layer maths over fused weights).

    Args:
      tokens: [B, T] int32.
      positions: [B, T] int32 RoPE positions.
      kv_mask: [B, T] bool, which tokens may be attended (padding off); None: all.
      return_hidden: return the final normalised hidden states [B, T, D] instead of logits.

    Returns:
      (logits [B, T, V] float32 (or hidden [B, T, D]), None). The second element is kept
      for callers that unpack a pair; it is always None.
    """
    c = self.cfg
    emb = self.param("embed", nn.with_logical_partitioning(
        nn.initializers.normal(0.02), ("vocab", "embed")), (c.vocab_size, c.d_model), jnp.float32)
    x = jnp.take(emb, tokens, axis=0).astype(self.dtype)
    if self.remat and not self.is_initializing():
      x = self._scanned_blocks(x, positions, kv_mask)
    else:
      for i in range(c.n_layers):
        x = Block(c, self.dtype, name=f"layers_{i}")(x, positions, kv_mask)
    x = RMSNorm(c.rms_eps, self.dtype, name="final_norm")(x)
    if not c.tie_embeddings:  # created here (compact), read by `project`
      self.param("lm_head", nn.with_logical_partitioning(
          nn.initializers.normal(0.02), ("embed", "vocab")), (c.d_model, c.vocab_size),
          jnp.float32)
    if return_hidden:
      return x, None
    return self.project(x), None

  def project(self, hidden):
    """hidden [..., D] -> logits [..., V] float32 (tied or separate output matrix). Callable
    on its own (`module.apply(..., method=Transformer.project)`)."""
    tied = self.cfg.tie_embeddings
    w = self.get_variable("params", "embed" if tied else "lm_head")
    w = getattr(w, "unbox", lambda: w)().astype(self.dtype)
    return jnp.einsum("...d,vd->...v" if tied else "...d,dv->...v", hidden, w,
                      preferred_element_type=jnp.float32)
