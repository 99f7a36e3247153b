"""Roofline time of one iteration: each phase takes the longest of its compute at peak FLOP/s,
its HBM traffic at peak bandwidth and its weight all-gathers at the interconnect's bandwidth
(a lower bound: perfect overlap inside a phase, none between phases).

Phases: prefill and decode of every sampler call, the update (forward, remat recompute and
backward of every row, plus the no-grad old-log-prob pass of minibatches 1..n-1) and the host
(verification of every answer on `verify_workers` processes; every host verifies all answers
while host work is replicated).
"""

from __future__ import annotations

import dataclasses

from spice_jax.planning.hardware import Chip
from spice_jax.planning.memory import prefill_score_area, decode_slots
from spice_jax.planning.workload import Assumptions, SamplerCall, Workload


@dataclasses.dataclass(frozen=True)
class Times:
  """Seconds per iteration; `bound` names what limits each device phase."""
  prefill: float
  decode: float
  update: float
  host: float
  bound: dict

  @property
  def total(self) -> float:
    return self.prefill + self.decode + self.update + self.host


def _matmul_params(w: Workload) -> float:
  cfg = w.model
  return cfg.num_params() - cfg.vocab_size * cfg.d_model * (0 if cfg.tie_embeddings else 1)


def _attn_flops(w: Workload, queries: float, keys: float) -> float:
  """q.k and p.v over `keys` keys for `queries` query tokens (all layers, all heads)."""
  cfg = w.model
  return 4.0 * cfg.n_layers * cfg.n_heads * cfg.head_dim * queries * keys


def _roof(chip: Chip, flops: float, hbm: float, ici: float) -> tuple[float, str]:
  parts = {"compute": flops / chip.flops, "hbm": hbm / chip.hbm_bw,
           "interconnect": ici / chip.interconnect_bw}
  bound = max(parts, key=parts.get)
  return parts[bound], bound


def _gather_bytes(w: Workload) -> float:
  """Bytes a chip receives to all-gather the weights over 'fsdp' once (compute dtype)."""
  fsdp, tp = w.mesh[1], w.mesh[2]
  return w.model.num_params() * w.compute_bytes / tp * (fsdp - 1) / fsdp


def _call_times(w: Workload, call: SamplerCall, chip: Chip):
  """One host's calls: host-local sampling runs them on its own devices (no weight
  all-gather), global sampling on every device of the mesh."""
  n = w.sampler_batch_shards if w.sampler_replicated else w.chips
  tp = 1 if w.sampler_replicated else w.mesh[2]
  gather = 0.0 if w.sampler_replicated else _gather_bytes(w)
  weights = w.model.num_params() * w.compute_bytes / tp
  # Prefill: the distinct prompts only (shared prompts copy their cache rows).
  P = call.prompt
  flops = call.unique * (2 * _matmul_params(w) * P + _attn_flops(w, 1, prefill_score_area(P)))
  pre = _roof(chip, call.calls * flops / n, call.calls * weights, call.calls * gather)
  # Decode: one step per generated slot; every step reads the weights and the whole cache.
  slots = decode_slots(call, w.decode_phases)
  ends = [call.new >> (len(slots) - 1 - j) for j in range(len(slots))]
  steps = [e - (ends[j - 1] if j else 0) for j, e in enumerate(ends)]
  kv_row = 2 * w.model.n_layers * w.model.n_kv_heads * w.model.head_dim * w.cache_bytes
  b = call.batch / w.sampler_batch_shards
  flops = sum(s * call.batch * (2 * _matmul_params(w) + _attn_flops(w, 1, S))
              for s, S in zip(steps, slots))
  hbm = sum(s * (weights + b * kv_row * S / tp) for s, S in zip(steps, slots))
  dec = _roof(chip, call.calls * flops / n, call.calls * hbm, call.calls * call.new * gather)
  return pre, dec


def forward_flops(w: Workload, rows: int, T: int) -> float:
  """One forward pass over [rows, T] tokens with the full [T, T] attention materialised."""
  return rows * (2 * _matmul_params(w) * T + _attn_flops(w, T, T))


def iteration_times(w: Workload, chip: Chip, assume: Assumptions = Assumptions()) -> Times:
  bound = {}
  prefill = decode = 0.0
  for call in w.calls:
    (tp, bp), (td, bd) = _call_times(w, call, chip)
    prefill += tp
    decode += td
    bound[f"prefill/{call.role}"], bound[f"decode/{call.role}"] = bp, bd
  u = w.update
  fwd = forward_flops(w, u.rows, u.T)
  n_mb = u.rows // u.minibatch
  passes = (4 if w.remat else 3) + (n_mb - 1) / n_mb + (1 if w.ref_params else 0)
  micro = u.rows // u.microbatch
  state_rw = 2 * 16 * w.model.num_params() / w.chips * n_mb  # params + Adam, read and written
  t_up, bound["update"] = _roof(chip, passes * fwd / w.chips, state_rw,
                                (passes + 1) * micro * _gather_bytes(w))
  host = w.answers / w.hosts * assume.verify_seconds / max(1, w.verify_workers)
  return Times(prefill, decode, t_up, host, bound)
