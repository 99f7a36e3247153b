"""Per-chip memory of one iteration: the train state, the update's peak, the sampler's peak.

Parameter bytes per chip are exact: the real parameter tree (`models.abstract_params`) laid
out with the real sharding rules (`parallel.shardings`) on an abstract mesh of the workload's
shape. Everything else is a model of the jitted programs, term by term:

Update (`rl/update.py`, one micro-batch of r = microbatch / (data * fsdp) rows per chip):
  * state: f32 params, Adam mu and nu (2x params), f32 reference copy when kl_beta > 0;
  * gradients: f32, sharded like the params (a second buffer when micro-batches accumulate);
  * activations with remat: the scan's carry per layer [r, T, D] (compute dtype) and a
    stacked f32 copy of the layer params, plus the larger of
      - one layer's backward: attention is materialised (no flash attention), so the
        scores s, probabilities p, dp and ds [r, H, T, T] f32, a select mask and the
        saved softmax (22 bytes per score, measured), the [r, T, T] mask, and the layer's
        f32 internals [r, T, 3D + (H + 2KVH) Dh + 3F];
      - the vocabulary projection of one T-chunk c: logits, softmax and their gradient
        [r, c, V] f32;
    and with FSDP (fsdp > 1) the all-gathered weights of one layer, forward and backward.
Sampler (`sampling/sampler.py`, b = batch / (data * fsdp) rows per chip):
  * the inference weights: fused q|k|v and gate|up copies (and every matrix when the
    compute dtype is not f32; the transposed embedding when tied);
  * KV cache L x b x KVH x Dh x S x 2 in the cache dtype. With several decode phases the
    cache grows P + Nb/4 -> P + Nb/2 -> P + Nb and is not donated: the input, the
    next-to-last and the last cache are counted (an upper bound of XLA's reuse);
  * prefill of u distinct prompts per chip: the [u, P, P] f32 bias and bool mask, the
    layer's f32 activations [u, P, 2D + (H + 2KVH) Dh + 2F], one attention piece
    [u, H, 256, P] f32 (scores and probabilities).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
from jax.sharding import AbstractMesh, AxisType

from spice_jax import parallel
from spice_jax.models import model as model_lib
from spice_jax.models.config import ModelConfig
from spice_jax.planning.workload import SamplerCall, Workload
from spice_jax.rl import loss as loss_lib
# Temporaries of the engine's programs in units of the KV pool (measured with the TPU
# compiler; the engine sizes its pool with the same table).
from spice_jax.sampling.config import memory_pages, pool_share, pool_temps
from spice_jax.utils.shapes import pow2_at_least

# Bytes per attention score live in one layer's backward of a micro-batch's gradient program
# (s, p, dp, ds in f32, a select mask, and the softmax's saved copy): the T^2 coefficient of
# that program's temporaries, measured on CPU at B=2, T=1024..2048 on one device (22.1-22.4).
SCORE_BYTES = 22


@dataclasses.dataclass(frozen=True)
class ParamBytes:
  """f32 bytes per chip: all params, the per-layer blocks, the leaves the sampler copies."""
  total: int
  layers: int
  fused: int       # q, k, v, gate, up
  embed: int
  layer_full: int  # one layer's params unsharded over fsdp (f32 bytes, divided by tensor)


@functools.lru_cache(maxsize=64)
def param_bytes(cfg: ModelConfig, mesh: tuple[int, int, int]) -> ParamBytes:
  """Exact per-chip bytes from the real param tree and sharding rules (cached)."""
  amesh = AbstractMesh(tuple(mesh), parallel.AXES, axis_types=(AxisType.Auto,) * 3)
  boxed = model_lib.abstract_params(cfg)
  shard = parallel.unbox(parallel.shardings(boxed, amesh))
  shapes = parallel.unbox(boxed)
  total = layers = fused = embed = 0
  for (path, x), sh in zip(jax.tree_util.tree_leaves_with_path(shapes), jax.tree.leaves(shard)):
    keys = [getattr(k, "key", str(k)) for k in path]
    n = 4 * math.prod(sh.shard_shape(x.shape))
    total += n
    if keys[0].startswith("layers_"):
      layers += n
      if keys[-1] in ("q", "k", "v", "gate", "up"):
        fused += n
    elif keys[0] == "embed":
      embed += n
  per_layer = 4 * sum(math.prod(x.shape) for x in jax.tree.leaves(shapes["layers_0"]))
  return ParamBytes(total, layers, fused, embed, per_layer // mesh[2])


def _heads(n: int, tensor: int) -> int:
  """Heads per chip: the 'tensor' axis splits them when it divides (else replicated)."""
  return n // tensor if n % tensor == 0 else n


@dataclasses.dataclass(frozen=True)
class UpdateMemory:
  params: int
  opt_state: int
  ref_params: int
  frozen_copy: int
  gradients: int
  batch: int
  activations: int

  @property
  def state(self) -> int:
    return self.params + self.opt_state + self.ref_params + self.frozen_copy

  @property
  def working(self) -> int:
    return self.gradients + self.batch + self.activations

  @property
  def total(self) -> int:
    return self.state + self.working


def update_memory(w: Workload) -> UpdateMemory:
  cfg, u, (_, fsdp, tp) = w.model, w.update, w.mesh
  pb = param_bytes(cfg, w.mesh)
  r = max(1, u.microbatch // w.batch_shards)
  T, D, F, Dh = u.T, cfg.d_model, cfg.mlp_dim, cfg.head_dim
  H, KV = _heads(cfg.n_heads, tp), _heads(cfg.n_kv_heads, tp)
  internals = 4 * r * T * (3 * D + (H + 2 * KV) * Dh + 3 * F // tp)
  if w.attention == "dense":
    attention = r * H * T * T * SCORE_BYTES + r * T * T + internals
  elif w.platform == "tpu":  # splash: one layer's f32 MLP intermediate is what grows with T
    attention = 4 * r * T * F // tp
  else:  # blockwise: O(T) per layer (no [T, T] scores kept)
    attention = internals
  c = loss_lib.pick_chunk(u.microbatch, T, cfg.vocab_size)
  logits = 3 * 4 * r * c * (cfg.vocab_size // tp if cfg.vocab_size % tp == 0 else cfg.vocab_size)
  # The remat scan's saved carries [r, T, D] per layer; XLA:TPU holds two per layer (the
  # saved input and its copy in the backward loop; measured at 2 and 36 layers, T=12288).
  carries = cfg.n_layers * r * T * D * (w.compute_bytes if w.remat else 0) * (
      2 if w.platform == "tpu" else 1)
  if not w.remat:  # every layer's internals stay alive for the backward pass
    attention *= cfg.n_layers
  gathered = 2 * pb.layer_full * w.compute_bytes // 4 if fsdp > 1 else 0
  if fsdp > 1 and w.platform == "tpu":
    # XLA:TPU gathers the output vocabulary matrix whole (compute dtype) and holds its f32
    # gradient whole before the reduce-scatter; one layer's weights are gathered at a time.
    gathered = vocab_bytes(cfg, tp) * (w.compute_bytes + 4) // 4 + (
        pb.layer_full * w.compute_bytes // 4)
  rows_chip = u.rows // w.batch_shards
  accum = pb.total if u.microbatch < u.minibatch else 0
  stacked = pb.layers  # the scan's stacked f32 copy of the (sharded) layer params
  return UpdateMemory(
      params=pb.total, opt_state=2 * pb.total, ref_params=pb.total if w.ref_params else 0,
      frozen_copy=pb.total if w.frozen_challenger else 0, gradients=pb.total + accum,
      batch=rows_chip * T * 20,  # tokens, positions, targets (i32), loss_mask, old_logprobs
      activations=carries + stacked + max(attention, logits) + gathered)


def vocab_bytes(cfg: ModelConfig, tp: int) -> int:
  """f32 bytes of the output projection's vocabulary matrix (the embedding when tied), split
  over 'tensor': the one XLA:TPU gathers whole for the logits. An untied embedding is read
  by a sharded lookup and is not gathered (Qwen3-8B on v5p-64: the gradient program holds
  14.46 GB per chip, 14.9 with one matrix counted, 18.6 with both)."""
  return 4 * cfg.vocab_size * cfg.d_model // tp


@dataclasses.dataclass(frozen=True)
class SamplerMemory:
  """Working bytes per chip of one sampler call (besides the f32 params it reads)."""
  call: str
  weights: int
  prefill_cache: int   # the first phase's cache (+ the distinct prompts' cache when shared)
  prefill_work: int
  decode_cache: int    # caches alive in the decode program
  decode_work: int

  @property
  def prefill(self) -> int:
    return self.weights + self.prefill_cache + self.prefill_work

  @property
  def decode(self) -> int:
    return self.weights + self.decode_cache + self.decode_work

  @property
  def working(self) -> int:
    return max(self.prefill, self.decode)


def cache_bytes(w: Workload, rows_chip: int, slots: int) -> int:
  cfg = w.model
  return (cfg.n_layers * rows_chip * _heads(cfg.n_kv_heads, w.mesh[2]) * cfg.head_dim * slots
          * 2 * w.cache_bytes)


def decode_slots(call: SamplerCall, phases: int) -> list[int]:
  """Cache slots of each decode phase (as `Sampler.phases`)."""
  n = phases if call.new >= 64 else 1
  return [call.prompt + (call.new >> (n - 1 - j)) for j in range(n)]


def prefill_score_area(P: int) -> int:
  """Sum over the query chunks of `forward._attend_prompt` of (queries held x keys read):
  XLA keeps one piece of every chunk of a layer alive at once."""
  unit = 64 if P % 64 == 0 else P
  n = max(d for d in range(1, min(P // unit, 8) + 1) if (P // unit) % d == 0)
  C = P // n
  sub = unit * max(d for d in range(1, min(C // unit, max(1, 256 // unit)) + 1)
                   if (C // unit) % d == 0)
  return sum(sub * C * (c + 1) for c in range(n))


def sampler_memory(w: Workload, call: SamplerCall) -> SamplerMemory:
  cfg = w.model
  tp = 1 if w.sampler_replicated else w.mesh[2]
  pb = param_bytes(cfg, (1, 1, 1) if w.sampler_replicated else w.mesh)
  tied = pb.embed if cfg.tie_embeddings else 0
  weights = pb.fused + tied if w.compute_bytes == 4 else (pb.total + pb.fused + tied) // 2
  b = call.batch // w.sampler_batch_shards
  u = max(1, call.unique // w.sampler_batch_shards)
  slots = decode_slots(call, w.decode_phases)
  kept = sorted({0, len(slots) - 2, len(slots) - 1} if len(slots) > 1 else {0})
  P, D, F, Dh = call.prompt, cfg.d_model, cfg.mlp_dim, cfg.head_dim
  H, KV = _heads(cfg.n_heads, tp), _heads(cfg.n_kv_heads, tp)
  shared = cache_bytes(w, u, slots[0]) if call.unique < call.batch else 0
  prefill = (5 * u * P * P + 4 * u * P * (2 * D + (H + 2 * KV) * Dh + 2 * F // tp)
             + 2 * 4 * u * H * prefill_score_area(P))
  return SamplerMemory(
      call.role, weights, prefill_cache=cache_bytes(w, b, slots[0]) + shared,
      prefill_work=prefill, decode_cache=sum(cache_bytes(w, b, slots[i]) for i in kept),
      decode_work=b * call.new * 12 + 4 * 4 * b * cfg.vocab_size)


# ------------------------------------------------------------------ the continuous engine
@dataclasses.dataclass(frozen=True)
class EngineMemory:
  """Per-chip bytes of the continuous engine on the sampler's mesh (`Workload.sampler_axes`):
  the weight copy the trainer hands it (`train.local_params`: matrices in the compute dtype),
  the weights `forward.prepare` fuses from it, the KV pool (`pool_pages` pages), and the
  temporaries of its largest decode-window and prefill programs."""
  copy: int
  prepared: int
  pool: int
  pool_pages: int
  want_pages: int
  window_temps: int
  prefill_temps: int

  @property
  def working(self) -> int:
    return self.copy + self.prepared + self.pool + max(self.window_temps, self.prefill_temps)




def engine_pool_pages(w: Workload, free_bytes: float) -> tuple[int, int]:
  """(pages the engine gives its pool, pages it wants): enough for every slot at the longest
  call's prompt + cap, no more than `free_bytes` per chip allows for the pool and its
  program temporaries."""
  eng = w.engine or _default_engine()
  PG = eng.page_size
  data, fsdp, tp = w.sampler_axes
  B = data * fsdp * pow2_at_least(-(-eng.slots // (data * fsdp)))
  longest = max(w.calls, key=lambda c: c.prompt + c.new)
  want = 1 + B * (-(-longest.prompt // PG) + -(-longest.new // PG))
  if eng.kv_pages:
    return int(eng.kv_pages), want
  share = pool_share(w.platform, w.model.n_layers)
  bucket = pow2_at_least(want, 16)   # the engine grows its pool in power-of-two buckets
  fits = (bucket if free_bytes == float("inf")
          else memory_pages(int(free_bytes * share // max(1, page_bytes_chip(w)))))
  return max(2, min(bucket, fits)), want


def page_bytes_chip(w: Workload) -> int:
  """One KV page over all layers on one chip of the sampler mesh (kv heads split over
  'tensor' when it divides them)."""
  cfg, eng = w.model, w.engine or _default_engine()
  return (2 * cfg.n_layers * _heads(cfg.n_kv_heads, w.sampler_axes[2]) * cfg.head_dim
          * eng.page_size * w.cache_bytes)


def engine_memory(w: Workload, hbm: float | None, resident: int) -> EngineMemory:
  """The engine's bytes per chip, its pool sized as `compile.sampler_programs` sizes it:
  `engine.hbm_fraction` of `hbm` less `resident` (the train state) and the weights (hbm
  None: no chip named, the pool the slots want)."""
  cfg, eng = w.model, w.engine or _default_engine()
  axes = w.sampler_axes
  pb = param_bytes(cfg, axes)
  cb = w.compute_bytes
  copy = pb.total * cb // 4
  tied = pb.embed * cb // 4 if cfg.tie_embeddings else 0
  prepared = pb.total * cb // 4 + tied
  free = float("inf") if hbm is None else eng.hbm_fraction * hbm - resident - copy - prepared
  pages, want = engine_pool_pages(w, free)
  pool = pages * page_bytes_chip(w)
  f = {k: pool_temps(w.platform, k, cfg.n_layers) for k in ("window", "prefill")}
  data, fsdp, tp = axes
  B = max(1, eng.slots // (data * fsdp))
  logits = 4 * 4 * B * (cfg.vocab_size // tp if cfg.vocab_size % tp == 0 else cfg.vocab_size)
  R, C = eng.prefill_rows, eng.prefill_chunk
  H, KV = _heads(cfg.n_heads, tp), _heads(cfg.n_kv_heads, tp)
  prefill_act = 4 * R * C * (2 * cfg.d_model + (H + 2 * KV) * cfg.head_dim
                             + 2 * cfg.mlp_dim // tp)
  return EngineMemory(copy, prepared, pool, pages, want,
                      window_temps=int(f.get("window", 0.0) * pool) + logits,
                      prefill_temps=int(f.get("prefill", 0.0) * pool) + prefill_act)


def _default_engine():
  from spice_jax.sampling.config import EngineConfig
  return EngineConfig()


def program_bytes(w: Workload, facts: dict) -> dict[str, int]:
  """The planner's bytes per chip of each program `compile.check` compiles, by its kind
  (arguments + outputs + temporaries, donated buffers once), for the table beside the
  compiler's. `facts`: the compile's pool pages (so both describe the same pool)."""
  u = update_memory(w)
  pb = param_bytes(w.model, w.mesh)
  rows_chip = max(1, w.update.microbatch // w.batch_shards)
  rows = rows_chip * w.update.T * 24   # tokens, positions, targets, mask, old log-probs
  act = u.activations
  e = engine_memory(w, 0.0, 0)
  pool = facts.get("pool_pages", e.pool_pages) * page_bytes_chip(w)
  f = {k: pool_temps(w.platform, k, w.model.n_layers) for k in ("window", "prefill")}
  # The pre-pass (TPU memory-usage report of Llama-3.1-8B, 2 layers, T=12288) runs in two
  # phases that share one region: the layer scan holds four [r, T, F] MLP intermediates and
  # the hidden state in the compute dtype; the head holds the gathered output vocabulary
  # matrix and the hidden state. On TPU the scan's stacked copy of the layer params, cast to
  # the compute dtype, lives beside both. Within 15% of the TPU compiler on the four paper
  # configs (plan/compiler 0.86-1.12 over six config x slice pairs, 2026-12-07).
  cb = w.compute_bytes
  hidden = rows_chip * w.update.T * w.model.d_model * cb
  scan = 4 * rows_chip * w.update.T * (w.model.mlp_dim // w.mesh[2]) * cb
  head = vocab_bytes(w.model, w.mesh[2]) * cb // 4
  fwd = (max(scan, head) + hidden
         + (pb.layers * cb // 4 if w.platform == "tpu" else 0))
  out = {"update/prepass": pb.total + rows + fwd,
         "update/grads": 2 * pb.total + rows + act,
         "update/step": u.state + pb.total,
         "sampler/prepare": e.copy + e.prepared}
  for c in w.calls:
    if c.role == "format":
      continue
    out[f"sampler/prefill/{c.role}"] = e.prepared + pool + int(f.get("prefill", 0.0) * pool) + (
        e.prefill_temps - int(f.get("prefill", 0.0) * e.pool))
    out[f"sampler/window/{c.role}"] = e.prepared + pool + int(f.get("window", 0.0) * pool) + (
        e.window_temps - int(f.get("window", 0.0) * e.pool))
  return out
