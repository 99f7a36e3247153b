"""Inference-only forward pass of `spice_jax.models.Transformer`, specialised for sampling.

The same param tree and the same layer maths: norms, RoPE, q/k-norm, SwiGLU and the masked
softmax are `spice_jax.models.transformer`'s functions (tests check the logits match the
module and `transformers`); only the weight layout and the cache are inference-specific,
arranged for fast prefill/decode on any backend, CPU included:
  * `prepare` runs once per call, outside the decode loop: casts weights to the compute
    dtype and fuses q/k/v into one [D, (H + 2K) * Dh] matrix and gate/up into one [D, 2F]
    matrix, and transposes a tied embedding into the output matrix [D, V];
  * every matmul takes compute-dtype operands and accumulates in float32
    (`preferred_element_type`); on XLA:CPU a bfloat16 dot with a bfloat16 result would be
    rewritten into an f32 dot over converted operands, which is several times slower;
  * the residual stream, norms, RoPE and softmax stay in float32;
  * the KV cache is head-major with keys stored transposed: k [B, K, Dh, S], v [B, K, S, Dh]
    per layer, so both decode attention products are plain (non-transposed) batched matmuls;
    on XLA:CPU this layout beat [B, S, K, Dh] for the q.k product (benchmarks/README.md). The cache
    dtype is separate from the compute dtype: float32 is fastest on CPU (its batched dots
    run at memory bandwidth, the bfloat16 ones do not), bfloat16 halves the memory;
  * prompt attention skips causally masked key blocks and works in bounded pieces
    (`_attend_prompt`), so long prompts never build a [B, H, T, T] score tensor at once.

Shapes: B batch, T query length, S cache length, D d_model, H heads, K kv heads,
G = H / K, Dh head_dim, F mlp_dim, V vocab, L layers.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from spice_jax.models.config import ModelConfig
from spice_jax.models import transformer as layers

Cache = list  # per layer {"k": [B, K, Dh, S], "v": [B, K, S, Dh]}


def prepare(params, cfg: ModelConfig, dtype) -> dict[str, Any]:
  """Model params (the `Transformer` tree) -> fused inference weights in `dtype`."""
  D, H, K, Dh = cfg.d_model, cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
  c = lambda a: jnp.asarray(a).astype(dtype)
  f32 = lambda a: jnp.asarray(a).astype(jnp.float32)
  layers = []
  for i in range(cfg.n_layers):
    p = params[f"layers_{i}"]
    a = p["attn"]
    wqkv = jnp.concatenate([c(a["q"]).reshape(D, H * Dh), c(a["k"]).reshape(D, K * Dh),
                            c(a["v"]).reshape(D, K * Dh)], axis=1)
    layer = {
        "attn_norm": f32(p["attn_norm"]["scale"]),
        "wqkv": wqkv,
        "wo": c(a["o"]).reshape(H * Dh, D),
        "mlp_norm": f32(p["mlp_norm"]["scale"]),
        "wgu": jnp.concatenate([c(p["mlp"]["gate"]), c(p["mlp"]["up"])], axis=1),
        "wd": c(p["mlp"]["down"]),
    }
    if cfg.qk_norm:
      layer["q_norm"] = f32(a["q_norm"]["scale"])
      layer["k_norm"] = f32(a["k_norm"]["scale"])
    layers.append(layer)
  out = c(params["embed"]).T if cfg.tie_embeddings else c(params["lm_head"])
  return {"embed": c(params["embed"]), "layers": layers,
          "final_norm": f32(params["final_norm"]["scale"]), "out": out}


def cache_shapes(cfg: ModelConfig, batch: int, length: int) -> dict[str, tuple[int, ...]]:
  """Per-layer cache shapes: k [batch, K, Dh, length], v [batch, K, length, Dh]."""
  K, Dh = cfg.n_kv_heads, cfg.head_dim
  return {"k": (batch, K, Dh, length), "v": (batch, K, length, Dh)}


CACHE_AXES = {"k": ("batch", "kv_heads", "head_dim", "cache_length"),
              "v": ("batch", "kv_heads", "cache_length", "head_dim")}


def init_cache(cfg: ModelConfig, batch: int, length: int, dtype) -> Cache:
  """Zeroed cache (see `cache_shapes`), one dict per layer."""
  shapes = cache_shapes(cfg, batch, length)
  return [{n: jnp.zeros(shp, dtype) for n, shp in shapes.items()} for _ in range(cfg.n_layers)]


def _dot(x, w):
  """x [..., a] @ w [a, b] in the weights' dtype, f32 accumulation -> f32 [..., b]."""
  return jnp.einsum("...a,ab->...b", x.astype(w.dtype), w, preferred_element_type=jnp.float32)


def scores(q, k):
  """Attention logits of queries over a head-major key block. q: [B, K, G, ..., Dh];
  k: [B, K, Dh, S] -> [B, K, G, ..., S] f32 (q cast to the keys' dtype, f32 accumulation).
  The one q.k product of every inference path (`_attend`, `paged.attend_pages`)."""
  return jnp.einsum("bkg...d,bkds->bkg...s", q.astype(k.dtype), k,
                    preferred_element_type=jnp.float32)


def mix(p, v):
  """Attention weights times values. p: [B, K, G, ..., S] f32; v: [B, K, S, Dh] ->
  [B, K, G, ..., Dh] f32 (p cast to the values' dtype, f32 accumulation)."""
  return jnp.einsum("bkg...s,bksd->bkg...d", p.astype(v.dtype), v,
                    preferred_element_type=jnp.float32)


def _attend(q, k, v, bias):
  """q: [B, K, G, T, Dh]; k: [B, K, Dh, S]; v: [B, K, S, Dh]; bias: [B, T, S] f32 (0 or
  -inf-like) -> [B, K, G, T, Dh] f32. The decode step drops the T axis (q [B, K, G, Dh],
  bias [B, S]): one-query products without it are faster on CPU."""
  return mix(layers.biased_softmax(scores(q, k), bias[:, None, None]), v)


def _largest_divisor_at_most(n: int, cap: int) -> int:
  return max(d for d in range(1, min(n, cap) + 1) if n % d == 0)


def _attend_prompt(q, k, v, bias, row_map: bool):
  """Causal self-attention over a whole prompt, in cache-sized pieces.

  q: [B, K, G, T, Dh]; k: [B, K, Dh, T]; v: [B, K, T, Dh]; bias: [B, T, T] -> like q, f32.

  Queries are split into up to 8 static chunks; chunk c only reads keys [0, end of chunk c)
  (the rest is causally masked), and chunks longer than 256 queries are mapped over in
  256-query (or smaller) pieces so score tensors stay bounded for long prompts. With
  `row_map` rows are processed one at a time (`lax.map`), which keeps each row's scores in
  cache (faster on CPU, see benchmarks/README.md). Only used when the batch is not
  sharded (a map over a sharded axis would gather it).
  """
  T = q.shape[3]
  unit = 64 if T % 64 == 0 else T
  n_chunks = _largest_divisor_at_most(T // unit, 8)
  C = T // n_chunks
  sub = unit * _largest_divisor_at_most(C // unit, max(1, 256 // unit))

  def one(q, k, v, bias):
    outs = []
    for c in range(n_chunks):
      lo, hi = c * C, (c + 1) * C
      kc, vc = k[..., :hi], v[:, :, :hi]
      qc, bc = q[:, :, :, lo:hi], bias[:, lo:hi, :hi]
      if sub == C:
        outs.append(_attend(qc, kc, vc, bc))
        continue
      n = C // sub
      B, K, G, _, Dh = qc.shape
      qs = jnp.moveaxis(qc.reshape(B, K, G, n, sub, Dh), 3, 0)
      bs = jnp.moveaxis(bc.reshape(B, n, sub, hi), 1, 0)
      os = jax.lax.map(lambda a: _attend(a[0], kc, vc, a[1]), (qs, bs))
      outs.append(jnp.moveaxis(os, 0, 3).reshape(B, K, G, C, Dh))
    return jnp.concatenate(outs, axis=3) if len(outs) > 1 else outs[0]

  if not row_map or q.shape[0] == 1:
    return one(q, k, v, bias)
  return jax.lax.map(lambda a: one(*[x[None] for x in a])[0], (q, k, v, bias))


def project_qkv(lw, cfg: ModelConfig, x, cos, sin):
  """Attention inputs of one layer. x: [B, T, D] f32 -> q [B, T, H, Dh] f32 (scaled, rotated),
  k [B, T, K, Dh] f32 (rotated), v [B, T, K, Dh] f32."""
  B, T, _ = x.shape
  H, K, Dh, eps = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim, cfg.rms_eps
  qkv = _dot(layers.rms_norm(x, lw["attn_norm"], eps), lw["wqkv"])  # [B, T, (H + 2K) Dh]
  q = qkv[..., :H * Dh].reshape(B, T, H, Dh)
  k = qkv[..., H * Dh:(H + K) * Dh].reshape(B, T, K, Dh)
  v = qkv[..., (H + K) * Dh:].reshape(B, T, K, Dh)
  q, k = layers.qk_transform(cfg, q, k, cos, sin, lw.get("q_norm"), lw.get("k_norm"))
  return q * Dh ** -0.5, k, v


def finish_layer(lw, cfg: ModelConfig, x, o):
  """Residual + MLP after attention. x: [B, T, D] f32; o: [B, T, H * Dh] f32 -> [B, T, D]."""
  x = x + _dot(o, lw["wo"])
  gu = _dot(layers.rms_norm(x, lw["mlp_norm"], cfg.rms_eps), lw["wgu"])
  F = gu.shape[-1] // 2
  return x + _dot(layers.swiglu(gu[..., :F], gu[..., F:]), lw["wd"])


def attend_cached(q, ck, cv, bias):
  """Attention of q [B, T, H, Dh] over a head-major cache ck [B, K, Dh, S], cv [B, K, S, Dh]
  with an additive bias [B, T, S] -> [B, T, H * Dh] f32."""
  B, T, H, Dh = q.shape
  K = ck.shape[1]
  G = H // K
  if T == 1:
    return _attend(q.reshape(B, K, G, Dh), ck, cv, bias[:, 0]).reshape(B, T, H * Dh)
  q = q.reshape(B, T, K, G, Dh).transpose(0, 2, 3, 1, 4)  # [B, K, G, T, Dh]
  return _attend(q, ck, cv, bias).transpose(0, 3, 1, 2, 4).reshape(B, T, H * Dh)


def forward(w, cfg: ModelConfig, tokens, positions, cache: Cache, cache_index, kv_mask,
            prefill: bool, row_map: bool = False, rope=None):
  """Runs the model over `tokens`, writing their k/v into the cache.

  Args:
    w: `prepare`d weights.
    tokens: [B, T] int32; positions: [B, T] int32 RoPE positions.
    cache: per-layer k [B, K, Dh, S], v [B, K, S, Dh]; new entries go to slots
      [cache_index, cache_index + T).
    cache_index: int32 scalar (static 0 when prefill).
    kv_mask: [B, S] bool, slots that may be attended (padding off).
    prefill: the cache is empty before slot cache_index = 0, so attention runs over the T
      new keys only, causally chunked (see `_attend_prompt`).
    row_map: prefill attention one row at a time (faster on CPU; unsharded batch only).
    rope: `layers.rope_table` covering every position (a decode loop builds it once,
      outside the loop); default: built here for the cache's S slots (positions < S).

  Returns:
    (hidden [B, T, D] f32 after the final norm, new cache).
  """
  B, T = tokens.shape
  H, K, Dh = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
  x = jnp.take(w["embed"], tokens, axis=0).astype(jnp.float32)  # [B, T, D]
  if rope is None:
    rope = layers.rope_table(cfg, kv_mask.shape[1])
  cos, sin = layers.rope_tables(cfg, positions, rope)
  dt = cache[0]["k"].dtype
  if prefill:
    slots = jnp.arange(T)
    mask = kv_mask[:, None, :T] & (slots[None, :] <= slots[:, None])[None]  # [B, T, T]
  else:
    slots = cache_index + jnp.arange(T)
    S = kv_mask.shape[1]
    mask = kv_mask[:, None, :] & (jnp.arange(S)[None, :] <= slots[:, None])[None]
  bias = layers.mask_bias(mask)  # [B, T, S or T]
  new_cache = []
  for lw, lc in zip(w["layers"], cache):
    q, k, v = project_qkv(lw, cfg, x, cos, sin)
    k = k.astype(dt).transpose(0, 2, 3, 1)  # [B, K, Dh, T]
    v = v.astype(dt).transpose(0, 2, 1, 3)  # [B, K, T, Dh]
    ck = jax.lax.dynamic_update_slice_in_dim(lc["k"], k, cache_index, axis=3)
    cv = jax.lax.dynamic_update_slice_in_dim(lc["v"], v, cache_index, axis=2)
    new_cache.append({"k": ck, "v": cv})
    if prefill:
      qp = q.reshape(B, T, K, H // K, Dh).transpose(0, 2, 3, 1, 4)  # [B, K, G, T, Dh]
      o = _attend_prompt(qp, k, v, bias, row_map).transpose(0, 3, 1, 2, 4).reshape(B, T, -1)
    else:
      o = attend_cached(q, ck, cv, bias)
    x = finish_layer(lw, cfg, x, o)
  return layers.rms_norm(x, w["final_norm"], cfg.rms_eps), new_cache


def logits(w, hidden):
  """hidden [..., D] f32 -> logits [..., V] f32."""
  return _dot(hidden, w["out"])
