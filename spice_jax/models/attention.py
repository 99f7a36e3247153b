"""Causal self-attention over whole sequences (training, scoring): one signature, several
implementations, chosen by `ModelConfig.attention` and the platform the model runs on.

Every implementation maps q [B, T, H, Dh] (RoPE applied, unscaled), k, v [B, T, K, Dh]
(GQA: H a multiple of K) and kv_mask [B, T] bool (which keys may be attended; None = all)
to [B, T, H, Dh]; query t attends to the keys s <= t with kv_mask[s].

- "dense": `attend` over the [B, T, T] mask `causal_mask` (the reference; the inference
  paths use its pieces `mask_bias` / `biased_softmax`). Memory O(T^2).
- "blockwise": online softmax over key blocks inside a map over query blocks, each query
  block and each key step under `jax.checkpoint`, so forward and backward hold O(T * block)
  per head, never [T, T]; key blocks wholly above the diagonal are skipped (`lax.cond`).
- "splash": the Pallas TPU kernel `jax.experimental.pallas.ops.tpu.splash_attention`
  (causal mask, padding as kv segment ids), under `shard_map` over the mesh's batch axes
  and, when it divides the heads, 'tensor'. On a CPU mesh it runs in Pallas interpret mode
  (tests); compiling for a TPU topology from a CPU host gives the real kernel.

A query with no key to attend (left padding before the first real token) gets what dense
gives it: the mean of v over all T keys (dense's softmax over an all -1e30 row is uniform).
Its gradient with respect to q and k is not dense's (dense routes one through the -1e30
bias); such rows are padding, which the loss masks, so the update's gradient is unaffected.

Shapes: B batch, T length, H query heads, K kv heads, G = H / K, Dh head_dim.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P

from spice_jax.models.config import ATTENTION_IMPLS, ModelConfigError

_NEG = -1e30  # additive "masked" score; exp(_NEG - m) underflows to exactly 0
BLOCK = 512   # default key/query block (blockwise) and splash tile


# ------------------------------------------------------------------ dense (the reference)
def mask_bias(mask: jax.Array) -> jax.Array:
  """bool mask -> additive float32 bias (0 where attended, -1e30 elsewhere)."""
  return jnp.where(mask, 0.0, jnp.float32(_NEG))


def biased_softmax(scores: jax.Array, bias: jax.Array) -> jax.Array:
  """softmax over the last axis of float32 scores + bias (from `mask_bias`). Masked keys
  get exactly 0; a fully masked row gets uniform weights, never NaN."""
  s = scores + bias
  e = jnp.exp(s - jnp.max(s, axis=-1, keepdims=True))
  return e / jnp.sum(e, axis=-1, keepdims=True)


def attend(q: jax.Array, k: jax.Array, v: jax.Array, mask: jax.Array) -> jax.Array:
  """GQA attention. q: [B, T, H, Dh] (RoPE applied, unscaled); k, v: [B, S, K, Dh];
  mask: [B, T, S] -> [B, T, H, Dh]."""
  B, T, H, Dh = q.shape
  K = k.shape[2]
  q = q.reshape(B, T, K, H // K, Dh)
  s = jnp.einsum("btkgd,bskd->bkgts", q, k, preferred_element_type=jnp.float32)
  p = biased_softmax(s * (Dh ** -0.5), mask_bias(mask)[:, None, None]).astype(v.dtype)
  o = jnp.einsum("bkgts,bskd->btkgd", p, v, preferred_element_type=jnp.float32)
  return o.reshape(B, T, H, Dh).astype(q.dtype)


def causal_mask(kv_mask: jax.Array) -> jax.Array:
  """Causal + padding mask [B, T, T] from kv_mask [B, T]."""
  T = kv_mask.shape[1]
  return kv_mask[:, None, :] & (jnp.arange(T)[None, :] <= jnp.arange(T)[:, None])[None]


def dense(q, k, v, kv_mask=None):
  """`attend` under `causal_mask(kv_mask)`."""
  if kv_mask is None:
    kv_mask = jnp.ones(q.shape[:2], bool)
  return attend(q, k, v, causal_mask(kv_mask))


# ------------------------------------------------------------------ shared helpers
def _pad_time(x: jax.Array, Tp: int, value=0) -> jax.Array:
  """Pads axis 1 of x to length Tp."""
  pad = [(0, 0)] * x.ndim
  pad[1] = (0, Tp - x.shape[1])
  return jnp.pad(x, pad, constant_values=value)


def _no_key_fallback(out: jax.Array, v: jax.Array, kv_mask: jax.Array) -> jax.Array:
  """Rows of out [B, T, H, Dh] whose query has no attendable key (no kv_mask[s], s <= t)
  -> mean of v [B, T, K, Dh] over all T keys (dense's value there)."""
  B, T, H, Dh = out.shape
  K = v.shape[2]
  has_key = jnp.cumsum(kv_mask.astype(jnp.int32), axis=1) > 0  # [B, T]
  mean_v = jnp.mean(v.astype(jnp.float32), axis=1)              # [B, K, Dh]
  mean_v = jnp.repeat(mean_v, H // K, axis=1).astype(out.dtype)  # [B, H, Dh]
  return jnp.where(has_key[:, :, None, None], out, mean_v[:, None])


# ------------------------------------------------------------------ blockwise (plain JAX)
def blockwise(q, k, v, kv_mask=None, *, block: int | None = None):
  """Memory-efficient causal attention (same contract as `dense`).

  Query blocks run in a `lax.map`, each an online softmax (`lax.scan`) over the key
  blocks at or below the diagonal. Both levels are rematerialised, so the backward pass
  holds one query block's per-key-step carries (T / block steps of [block, Dh], i.e.
  [T, Dh]) plus one [block, block] score tile per head, never the [T, T] matrix. T need not be a multiple of
  `block` (default BLOCK; padded keys are masked, padded queries dropped)."""
  B, T, H, Dh = q.shape
  K = k.shape[2]
  G = H // K
  b = min(block or BLOCK, T)
  n = -(-T // b)
  Tp = n * b
  kvm = jnp.ones((B, T), bool) if kv_mask is None else kv_mask
  q, k, v, kvm = (_pad_time(x, Tp) for x in (q, k, v, kvm))
  qb = jnp.moveaxis(q.reshape(B, n, b, K, G, Dh), 1, 0)  # [n, B, b, K, G, Dh]
  kb = jnp.moveaxis(k.reshape(B, n, b, K, Dh), 1, 0)     # [n, B, b, K, Dh]
  vb = jnp.moveaxis(v.reshape(B, n, b, K, Dh), 1, 0)
  mb = jnp.moveaxis(kvm.reshape(B, n, b), 1, 0)          # [n, B, b]
  scale = Dh ** -0.5
  offs = jnp.arange(b)

  def query_block(i, qi):  # qi [B, b, K, G, Dh] -> [B, K, G, b, Dh] f32
    q_pos = i * b + offs

    def attend_block(carry, j, kj, vj, mj):
      m, l, acc = carry  # [B, K, G, b], [B, K, G, b], [B, K, G, b, Dh]
      s = jnp.einsum("bqkgd,bskd->bkgqs", qi, kj,
                     preferred_element_type=jnp.float32) * scale
      ok = mj[:, None, None, None, :] & ((j * b + offs)[None, :] <= q_pos[:, None])
      s = jnp.where(ok, s, _NEG)
      # The result does not depend on the running max: no gradient through it.
      m_new = jnp.maximum(m, jax.lax.stop_gradient(jnp.max(s, axis=-1)))
      p = jnp.where(ok, jnp.exp(s - m_new[..., None]), 0.0)
      alpha = jnp.exp(m - m_new)
      pv = jnp.einsum("bkgqs,bskd->bkgqd", p.astype(vj.dtype), vj,
                      preferred_element_type=jnp.float32)
      return m_new, alpha * l + jnp.sum(p, axis=-1), alpha[..., None] * acc + pv

    def step(carry, xs):
      j, kj, vj, mj = xs
      carry = jax.lax.cond(j <= i, lambda c: attend_block(c, j, kj, vj, mj),
                           lambda c: c, carry)
      return carry, None

    init = (jnp.full((B, K, G, b), _NEG, jnp.float32), jnp.zeros((B, K, G, b), jnp.float32),
            jnp.zeros((B, K, G, b, Dh), jnp.float32))
    (_, l, acc), _ = jax.lax.scan(jax.checkpoint(step), init,
                                  (jnp.arange(n), kb, vb, mb))
    return acc / jnp.where(l > 0, l, 1.0)[..., None]

  o = jax.lax.map(jax.checkpoint(lambda a: query_block(*a)), (jnp.arange(n), qb))
  o = jnp.transpose(o, (1, 0, 4, 2, 3, 5)).reshape(B, Tp, H, Dh)[:, :T].astype(q.dtype)
  return o if kv_mask is None else _no_key_fallback(o, v[:, :T], kv_mask)


# ------------------------------------------------------------------ splash (Pallas, TPU)
def _context_mesh():
  """The (abstract) mesh set by `jax.set_mesh`, or None."""
  mesh = jax.sharding.get_abstract_mesh()
  return None if mesh is None or mesh.empty else mesh


def context_platform() -> str:
  """Platform of the devices of the mesh in context ('cpu', 'tpu', 'gpu'), else the default
  backend's. Compiling for a TPU topology from a CPU host gives 'tpu'."""
  device = getattr(_context_mesh(), "abstract_device", None)
  return device.platform if device is not None else jax.default_backend()


def _splash_block(Tp: int, block: int) -> int:
  """The largest tile <= max(block, 128) that divides Tp (a multiple of 128), halving from
  there: the kernel needs multiples of 128 (the lane width)."""
  b = max(min(block, Tp), 128)
  while Tp % b:
    b //= 2
  return max(b, 128)


def _splash_kernel(H: int, Tp: int, block: int, interpret: bool):
  from jax.experimental.pallas.ops.tpu import splash_attention as sa
  b = _splash_block(Tp, block)
  sizes = sa.BlockSizes(block_q=b, block_kv=b, block_kv_compute=b, block_q_dkv=b,
                        block_kv_dkv=b, block_kv_dkv_compute=b, block_q_dq=b, block_kv_dq=b)
  mask = sa.MultiHeadMask([sa.CausalMask((Tp, Tp)) for _ in range(H)])
  return sa.make_splash_mha(mask, block_sizes=sizes, head_shards=1, q_seq_shards=1,
                            interpret=interpret)


def _splash_local(q, k, v, q_seg, kv_seg, *, block: int, interpret: bool):
  """One shard: q [B, H, Tp, Dh] (scaled), k, v [B, K, Tp, Dh], segment ids [B, Tp] int32
  (or None) -> [B, H, Tp, Dh]."""
  from jax.experimental.pallas.ops.tpu import splash_attention as sa
  kernel = _splash_kernel(q.shape[1], q.shape[2], block, interpret)  # mask tables: cached
  if q_seg is None:
    return jax.vmap(kernel)(q, k, v)
  return jax.vmap(lambda q, k, v, a, c: kernel(q, k, v, segment_ids=sa.SegmentIds(a, c)))(
      q, k, v, q_seg, kv_seg)


def _splash_specs(mesh, B: int, H: int, K: int):
  """(batch axes, head axis) of `mesh` to shard_map over: the ('data', 'fsdp') axes of
  size > 1 when their product divides B, and 'tensor' when it divides H and K."""
  shape = dict(mesh.shape)
  batch = tuple(a for a in ("data", "fsdp") if shape.get(a, 1) > 1)
  if batch and B % int(np.prod([shape[a] for a in batch])):
    batch = ()
  t = shape.get("tensor", 1)
  head = "tensor" if t > 1 and H % t == 0 and K % t == 0 else None
  return (batch if len(batch) > 1 else (batch[0] if batch else None)), head


def splash(q, k, v, kv_mask=None, *, block: int | None = None,
           interpret: bool | None = None):
  """Splash attention (same contract as `dense`). T is padded to a multiple of 128 (padded
  keys masked via segment ids); the tile is the largest power-of-two divisor of the padded
  T up to `block`. interpret=None: interpret mode when the context mesh is on CPU."""
  B, T, H, Dh = q.shape
  K = k.shape[2]
  if interpret is None:
    interpret = context_platform() == "cpu"
  Tp = -(-T // 128) * 128
  qh = jnp.swapaxes(_pad_time(q * jnp.asarray(Dh ** -0.5, q.dtype), Tp), 1, 2)
  kh, vh = (jnp.swapaxes(_pad_time(x, Tp), 1, 2) for x in (k, v))
  q_seg = kv_seg = None
  if kv_mask is not None or Tp != T:
    kvm = jnp.ones((B, T), bool) if kv_mask is None else kv_mask
    kv_seg = _pad_time(kvm.astype(jnp.int32), Tp)  # 1 attendable, 0 padding
    q_seg = jnp.ones((B, Tp), jnp.int32)
  local = functools.partial(_splash_local, block=block or BLOCK, interpret=interpret)
  mesh = _context_mesh()
  if mesh is not None and any(s > 1 for s in mesh.shape.values()):
    bat, head = _splash_specs(mesh, B, H, K)
    x4, seg = P(bat, head, None, None), P(bat, None)
    segs = (seg, seg) if q_seg is not None else (None, None)
    local = jax.shard_map(local, mesh=mesh, in_specs=(x4, x4, x4) + segs, out_specs=x4,
                          check_vma=False)
  o = jnp.swapaxes(local(qh, kh, vh, q_seg, kv_seg), 1, 2)[:, :T]
  return o if kv_mask is None else _no_key_fallback(o, v, kv_mask)


# ------------------------------------------------------------------ selection
IMPLS = {"dense": dense, "blockwise": blockwise, "splash": splash}
assert set(IMPLS) | {"auto"} == set(ATTENTION_IMPLS)

# "auto" per platform. CPU: dense, which compiles in about half blockwise's time and is as
# fast or faster up to T ~ 512 (the tests, the demo); from T ~ 2048 blockwise runs ~3x faster
# (benchmarks/attention_speed.py): set attention="blockwise" for long CPU runs. GPU:
# blockwise (no cuDNN path: its padding masks are [B, H, T, S] or lengths, unverifiable here).
AUTO = {"tpu": "splash", "gpu": "blockwise", "cpu": "dense"}


def resolve(name: str, platform: str) -> str:
  """A concrete implementation for `name` ("auto" or one of IMPLS) on `platform`."""
  if name not in ATTENTION_IMPLS:
    raise ModelConfigError(f"attention must be one of {ATTENTION_IMPLS}, got {name!r}")
  if name != "auto":
    return name
  return AUTO.get(platform, "blockwise")


def mesh_platform(mesh) -> str:
  """Platform of a mesh's devices ('tpu' for a TPU topology compiled from a CPU host)."""
  return mesh.devices.flat[0].platform


def for_mesh(cfg, mesh):
  """cfg with `attention` resolved for the platform of `mesh`'s devices."""
  return cfg.replace(attention=resolve(cfg.attention, mesh_platform(mesh)))


def causal_attention(name: str, q, k, v, kv_mask=None):
  """Dispatch: `name` ("auto" resolves for the context mesh's platform)."""
  return IMPLS[resolve(name, context_platform())](q, k, v, kv_mask)
