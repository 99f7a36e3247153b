"""Compile one training iteration's programs for a named TPU slice, on any host with libtpu.

The TPU compiler ships in `libtpu`; `jax.experimental.topologies` describes a slice's chips
without a TPU present, and `jax.jit(f).lower(abstract args).compile()` over a mesh of those
chips gives the TPU program itself: `memory_analysis()` (bytes per chip) and
`cost_analysis()` (FLOPs and bytes accessed). This module builds, for a run config on its
layout, every program one iteration runs, with the config's real shapes and shardings:

  update   pre-pass (old log-probs) and gradient of one micro-batch at the longest length
           bucket, and the optimizer step (`rl/update.py`, the trainer's exact functions);
  sampler  the engine's prefill chunk and decode window at the configured slots, window,
           page size and pool (`sampling/engine.py`), on the mesh the trainer samples on
           (train.sampling="host_local": one host's chips, `train.sampler_mesh`), and the
           weight preparation (`sampling/forward.prepare`);
  resident the train state (f32 params + Adam), the sampler's weight copy and KV pool.

Each program's "compiler bytes" is what it holds at its peak: arguments + outputs + temps
- aliased (donated) bytes, per chip. The iteration's peak per chip is the resident bytes
outside the largest program plus that program (see `Report.peak`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from spice_jax import parallel
from spice_jax.errors import SpiceError
from spice_jax.models import model as model_lib
from spice_jax.models.config import ModelConfig
from spice_jax.planning import hardware

GB = 1e9


class CompileError(SpiceError, RuntimeError):
  pass


@dataclasses.dataclass(frozen=True)
class Program:
  """One compiled program's per-chip bytes and cost (from the TPU compiler).

  args/outputs/temps/aliased: `memory_analysis()` bytes per chip; flops, bytes_accessed:
  `cost_analysis()` per chip; seconds: compile wall time; outside: resident bytes per chip
  that are alive during this program but are not among its arguments.
  """
  name: str
  kind: str      # "update/grads", "sampler/window/reasoner", ...: the planner's key
  args: int
  outputs: int
  temps: int
  aliased: int
  flops: float
  bytes_accessed: float
  seconds: float
  outside: int = 0
  plan: int | None = None   # the planner's bytes for the same program (None: not modelled)

  @property
  def bytes(self) -> int:
    """Bytes the program holds at its peak: arguments, outputs and temporaries, donated
    arguments counted once."""
    return self.args + self.outputs + self.temps - self.aliased

  @property
  def peak(self) -> int:
    return self.bytes + self.outside

  def roofline_s(self, chip: hardware.Chip) -> float:
    """Lower-bound seconds of one run on `chip`: max of compute and HBM traffic."""
    return max(self.flops / chip.flops, self.bytes_accessed / chip.hbm_bw)


def topology_devices(layout: hardware.Layout) -> list:
  """The chips of `layout`'s TPU slice, described by libtpu (no TPU needed)."""
  topo = layout.tpu_topology
  if topo is None:
    raise CompileError(f"layout {layout.name!r} is not a TPU slice: nothing to compile for "
                       f"(the plan without --compile covers it)")
  try:
    from jax.experimental import topologies
    desc = topologies.get_topology_desc(
        platform="tpu", topology_name=topo["name"], chip_config_name=topo["chip_config"],
        chips_per_host_bounds=tuple(topo["host_bounds"]), wrap=(False, False, False))
  except Exception as e:  # libtpu missing or refusing the topology
    import importlib.util
    hint = ("" if importlib.util.find_spec("libtpu") else
            " -- the TPU compiler is not installed: `pip install libtpu==0.0.42.1` (the "
            "version jax[tpu]==0.10.2 pins)")
    raise CompileError(f"cannot describe TPU slice {layout.name} ({topo['name']}): "
                       f"{type(e).__name__}: {(str(e).splitlines() or [''])[0]}{hint}") from e
  devices = list(desc.devices)
  if len(devices) != layout.chips:
    raise CompileError(f"layout {layout.name}: topology {topo['name']} has {len(devices)} "
                       f"devices, hardware.json says {layout.chips} chips")
  return devices


def analyse(name: str, kind: str, fn: Callable[[], Any]) -> tuple[Program, Any]:
  """Runs `fn() -> jax.stages.Lowered`, compiles it, returns its Program and the compiled."""
  t0 = time.perf_counter()
  compiled = fn().compile()
  dt = time.perf_counter() - t0
  mem = compiled.memory_analysis()
  cost = compiled.cost_analysis() or {}
  if isinstance(cost, (list, tuple)):
    cost = cost[0] if cost else {}
  return Program(name, kind, args=int(mem.argument_size_in_bytes),
                 outputs=int(mem.output_size_in_bytes), temps=int(mem.temp_size_in_bytes),
                 aliased=int(mem.alias_size_in_bytes), flops=float(cost.get("flops", 0.0)),
                 bytes_accessed=float(cost.get("bytes accessed", 0.0)), seconds=dt), compiled


def abstract(tree, shardings):
  """Shape/dtype leaves of `tree` as ShapeDtypeStructs carrying `shardings`' leaves."""
  return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(np.shape(x), x.dtype, sharding=s),
                      tree, shardings)


def per_chip_bytes(tree, shardings) -> int:
  """Bytes of `tree` (arrays or ShapeDtypeStructs) on one chip under `shardings`."""
  leaves = jax.tree.leaves(tree)
  shs = jax.tree.leaves(shardings, is_leaf=lambda s: isinstance(s, jax.sharding.Sharding))
  return sum(math.prod(s.shard_shape(tuple(np.shape(x)))) * np.dtype(x.dtype).itemsize
             for x, s in zip(leaves, shs))


def abstract_params(cfg: ModelConfig, dtype=jnp.float32):
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, dtype),
                      parallel.unbox(model_lib.abstract_params(cfg)))


# ---------------------------------------------------------------------------------- update
@dataclasses.dataclass(frozen=True)
class UpdateSpec:
  """What the update's programs depend on: rows per micro-batch (all chips), the longest
  length bucket T, dtype, remat, optimizer, KL and old-log-prob settings."""
  rows: int
  T: int
  compute_dtype: str
  remat: bool
  optim: Any
  kl_beta: float
  old_logprobs: str
  accumulate: bool   # several micro-batches per minibatch: a gradient accumulator lives


def update_programs(cfg: ModelConfig, mesh, spec: UpdateSpec) -> tuple[list[Program], int]:
  """Compiles the update's pre-pass, micro-batch gradient and optimizer step on `mesh`.

  Returns (programs, resident state bytes per chip: f32 params + Adam state (+ reference))."""
  from spice_jax.rl import state as state_lib
  from spice_jax.rl import update as update_lib
  from spice_jax.spice import batch as batch_lib
  fn = update_lib.make_update_fn(cfg, mesh, spec.optim, compute_dtype=spec.compute_dtype,
                                 remat=spec.remat, kl_beta=spec.kl_beta,
                                 old_logprobs=spec.old_logprobs)
  parts = fn.compiled_parts
  params = abstract_params(cfg)
  st_sh = fn.state_shardings
  abs_state = state_lib.abstract_state(params, spec.optim, with_ref=bool(spec.kl_beta))
  state = abstract(abs_state, st_sh)
  p_sh = st_sh.params
  # A micro-batch of padding rows has the real keys, shapes and dtypes (spice.batch).
  rows_np = batch_lib.pad_rows([], [], [], spec.rows, spec.T)
  rows_np = {k: rows_np[k] for k in update_lib._ROW_KEYS} | {
      k: rows_np.get(k, np.full((spec.rows,), default, dt))
      for k, (dt, default) in getattr(update_lib, "_SAMPLING_KEYS", {}).items()}
  rows = {k: jax.ShapeDtypeStruct(v.shape, v.dtype, sharding=fn.batch_sharding)
          for k, v in rows_np.items()}
  old = jax.ShapeDtypeStruct((spec.rows, spec.T), jnp.float32, sharding=fn.batch_sharding)
  ref = state.ref_params if spec.kl_beta else None
  state_bytes = per_chip_bytes(abs_state, st_sh)
  param_bytes = per_chip_bytes(params, p_sh)
  opt_bytes = state_bytes - param_bytes * (2 if spec.kl_beta else 1)
  acc = param_bytes if spec.accumulate else 0
  with jax.set_mesh(mesh):
    pre, _ = analyse("update: pre-pass (old log-probs)", "update/prepass",
                     lambda: parts["prepass"].lower(state.params, rows))
    grads, _ = analyse("update: micro-batch gradient", "update/grads",
                       lambda: parts["grads"].lower(state.params, rows, old, np.bool_(False),
                                                    ref))
    step, _ = analyse("update: optimizer step", "update/step",
                      lambda: parts["step"].lower(state, abstract(params, p_sh),
                                                  np.float32(1.0)))
  # Alive beside each program: the state not among its arguments, the accumulated gradient.
  outside_fwd = state_bytes - param_bytes
  return [dataclasses.replace(pre, outside=outside_fwd),
          dataclasses.replace(grads, outside=outside_fwd + acc),
          dataclasses.replace(step, outside=0)], state_bytes


# --------------------------------------------------------------------------------- sampler
@dataclasses.dataclass(frozen=True)
class SamplerSpec:
  """One role's engine programs: the longest prompt, the cap (max new tokens), and the
  engine settings (an `EngineConfig`) with the KV dtype resolved for the platform."""
  role: str
  prompt: int
  cap: int
  compute_dtype: str
  engine: Any        # sampling.config.EngineConfig
  kv_dtype: str
  temperature: float = 1.0
  top_p: float = 1.0


def sampler_weights(cfg: ModelConfig, smesh, compute_dtype: str):
  """The sampler's weight copy as the trainer makes it (`parallel.hosts.to_local`): the
  params in the compute dtype laid out with the model's sharding rules on the sampler mesh.
  Returns (abstract params, their shardings)."""
  dt = jnp.dtype(compute_dtype)
  p_sh = parallel.unbox(model_lib.param_shardings(cfg, smesh))
  return abstract(abstract_params(cfg, dt), p_sh), p_sh


def sampler_programs(cfg: ModelConfig, smesh, specs: list[SamplerSpec], hbm: float,
                     resident_outside: int) -> tuple[list[Program], dict[str, int]]:
  """Compiles the weight preparation and, per role, the engine's prefill chunk and decode
  window exactly as `ContinuousEngine` builds them, on the sampler mesh `smesh`.

  The pool gets what the engine would give it: enough pages for every slot (`slots` rows at
  prompt + cap tokens, distinct prompts), no more than `engine.hbm_fraction` of `hbm` minus
  what else is resident. Returns (programs, facts: pool pages and bytes per chip,
  weight-copy bytes per chip)."""
  from spice_jax.sampling import engine as engine_lib
  from spice_jax.sampling import forward, paged, scheduler, strategies
  from spice_jax.sampling.sampler import Sampler
  eng_cfg = specs[0].engine
  dt = specs[0].compute_dtype
  weights, w_sh = sampler_weights(cfg, smesh, dt)
  copy_bytes = per_chip_bytes(weights, w_sh)
  s = Sampler(cfg, smesh, dtype=dt, **dict(eng_cfg.sampler_kwargs(), cache_dtype=specs[0].kv_dtype))
  eng = s._continuous
  with jax.set_mesh(smesh):
    prep_lowered = jax.jit(lambda p: forward.prepare(p, cfg, s._compute_dt)).lower(weights)
    prep, prep_c = analyse("sampler: prepare weights", "sampler/prepare",
                            lambda: prep_lowered)
  w = jax.tree.map(lambda x, sh: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sh),
                   jax.eval_shape(lambda p: forward.prepare(p, cfg, s._compute_dt), weights),
                   prep_c.output_shardings)
  w_bytes = per_chip_bytes(w, prep_c.output_shardings)
  PG = eng.page_size
  B = s._rows_bucket(eng.slots)
  longest = max(specs, key=lambda sp: sp.prompt + sp.cap)
  want = 1 + B * (scheduler.pages_for(longest.prompt, PG) + scheduler.pages_for(longest.cap, PG))
  one_page = per_chip_bytes(
      [jax.ShapeDtypeStruct(shp, jnp.dtype(specs[0].kv_dtype))
       for shp in paged.pool_shapes(cfg, 1, PG).values()] * cfg.n_layers,
      [sh for sh in eng._pool_shardings(1)[0].values()] * cfg.n_layers)
  # As the engine sizes it on the chip: the budget less the room its programs' copies need.
  from spice_jax.sampling.config import memory_pages, pool_share
  from spice_jax.utils.shapes import pow2_at_least
  budget = ((eng_cfg.hbm_fraction * hbm - resident_outside - copy_bytes - w_bytes)
            * pool_share("tpu", cfg.n_layers))
  # As `ContinuousEngine._pool_pages`: the wanted pages in a power-of-two bucket, capped by
  # what the budget holds (`config.memory_pages`).
  n_pages = int(eng_cfg.kv_pages or min(pow2_at_least(want, 16),
                                        memory_pages(int(budget // max(1, one_page)))))
  pool_sh = eng._pool_shardings(n_pages)
  pool = [{n: jax.ShapeDtypeStruct(shp, jnp.dtype(specs[0].kv_dtype), sharding=pool_sh[0][n])
           for n, shp in paged.pool_shapes(cfg, n_pages, PG).items()}
          for _ in range(cfg.n_layers)]
  pool_bytes = per_chip_bytes(pool, pool_sh)
  rep = NamedSharding(smesh, P())
  scal = lambda dtype: jax.ShapeDtypeStruct((), dtype, sharding=rep)
  key_shape = np.shape(jax.random.key_data(jax.random.key(0)))
  progs = [dataclasses.replace(prep, outside=resident_outside)]
  for sp in specs:
    strategy = strategies.Strategy.make(sp.temperature, 0, sp.top_p)
    bsd = lambda shape, dtype: jax.ShapeDtypeStruct(shape, dtype, sharding=eng._spec(shape, True))
    M = eng._table_pages(scheduler.pages_for(sp.prompt, PG) + scheduler.pages_for(sp.cap, PG))
    i32 = jnp.int32
    slots = engine_lib.Slots(last=bsd((B,), i32), step=bsd((B,), i32), active=bsd((B,), bool),
                             pos0=bsd((B,), i32), base=bsd((B,), i32), start=bsd((B,), i32),
                             cap=bsd((B,), i32), keys=bsd((B,) + key_shape, jnp.uint32))
    stop = jax.ShapeDtypeStruct((4,), i32, sharding=rep)
    args = (w, pool, slots, bsd((B, M), i32), scal(jnp.float32), scal(i32), scal(jnp.float32),
            stop, scal(i32))
    with jax.set_mesh(smesh):
      win, _ = analyse(f"sampler {sp.role}: decode window ({B} slots x {eng.window} steps, "
                       f"table {M * PG} slots)", f"sampler/window/{sp.role}",
                       lambda: jax.jit(eng._window_fn(strategy, pool_sh),
                                       donate_argnums=(1,)).lower(*args))
    R, C = eng.prefill_rows, eng._chunk_bucket(min(eng.prefill_chunk, sp.prompt))
    Mp = eng._table_pages(scheduler.pages_for(sp.prompt, PG))
    fn = lambda w, pool, *a: jax.lax.with_sharding_constraint(
        engine_lib.prefill_chunk(w, pool, *a, cfg=cfg, page_size=PG, block_pages=eng.block_pages),
        pool_sh)
    rsd = lambda shape: jax.ShapeDtypeStruct(shape, i32, sharding=rep)
    pargs = (w, pool, rsd((R, C)), rsd((R, C)), rsd((R, Mp)), rsd((R, C)), rsd((R, C)),
             rsd((R,)), rsd((R,)), rsd((R, C)))
    with jax.set_mesh(smesh):
      pre, _ = analyse(f"sampler {sp.role}: prefill chunk ({R} x {C} tokens, table "
                       f"{Mp * PG} slots)", f"sampler/prefill/{sp.role}",
                       lambda: jax.jit(fn, donate_argnums=(1,)).lower(*pargs))
    # Beside the engine's programs: the train state and the f32-or-compute weight copy.
    progs += [dataclasses.replace(pre, outside=resident_outside + copy_bytes),
              dataclasses.replace(win, outside=resident_outside + copy_bytes)]
  return progs, dict(pool_pages=n_pages, pool_bytes=pool_bytes, copy_bytes=copy_bytes,
                     prepared_bytes=w_bytes, page_bytes=one_page, want_pages=want)


# ---------------------------------------------------------------------------------- check
@dataclasses.dataclass(frozen=True)
class Report:
  """A config's iteration compiled for a layout: its programs, resident bytes and facts."""
  name: str
  layout: hardware.Layout
  model: ModelConfig
  programs: tuple[Program, ...]
  state_bytes: int
  facts: dict
  limit: float = 0.9    # the share of HBM a plan may use

  @property
  def largest(self) -> Program:
    return max(self.programs, key=lambda p: p.peak)

  @property
  def peak(self) -> int:
    """Per-chip peak of the iteration: the largest program plus what is resident beside it."""
    return self.largest.peak

  @property
  def hbm(self) -> float:
    return self.layout.chip.hbm_bytes

  @property
  def fits(self) -> bool:
    return self.peak <= self.limit * self.hbm


def host_devices(layout: hardware.Layout) -> list:
  """The chips of one TPU VM host of `layout`'s slice, described as a slice of their own
  (e.g. v6e:2x2 for a v6e-64 host): each host's sampler is its own program over its own
  chips. (The slice's devices of process 0 are not numbered from 0 -- on v6e:8x8 they are
  0, 1, 8, 9 -- and the TPU compiler rejects collectives over such a subset.)"""
  topo = layout.tpu_topology
  kind, dims = topo["name"].split(":")
  bounds = list(topo["host_bounds"])[:len(dims.split("x"))]
  one = dataclasses.replace(layout, chips=math.prod(bounds), tpu_topology=dict(
      topo, name=f"{kind}:{'x'.join(str(b) for b in bounds)}"))
  return topology_devices(one)


def check(config, layout: hardware.Layout, *, layers: int = 0, assume=None,
          roles: tuple[str, ...] = ("challenger", "reasoner"),
          log: Callable[[str], None] = lambda s: None) -> Report:
  """Compiles every program of one iteration of `config` for `layout` (module doc).

  layers: > 0 compiles a model of that depth at full width (tests, quick looks).
  roles: the roles whose engine programs are compiled (tests: one)."""
  from spice_jax.planning import workload as workload_lib
  from spice_jax.sampling.config import EngineConfig
  from spice_jax.rl.config import RLConfig
  from spice_jax.utils import configs
  assume = assume or workload_lib.Assumptions()
  devices = topology_devices(layout)
  w = workload_lib.from_config(config, layout.chips, assume, platform="tpu")
  cfg = w.model if not layers else w.model.replace(n_layers=layers)
  mesh = parallel.make_mesh(tuple(config.mesh.shape), devices=devices)
  rl = configs.from_section(RLConfig, config.rl, "rl")
  dtype = config.model.dtype
  shards = mesh.shape["data"] * mesh.shape["fsdp"]
  rows = shards * int(rl.micro_rows)
  spec = UpdateSpec(rows=rows, T=w.update.T, compute_dtype=dtype, remat=bool(config.model.remat),
                    optim=rl.optim(), kl_beta=float(rl.kl_beta), old_logprobs=rl.old_logprobs,
                    accumulate=w.update.minibatch > rows)
  log(f"compiling the update: {rows} rows x T={spec.T} on mesh {dict(mesh.shape)}")
  upd, state_bytes = update_programs(cfg, mesh, spec)
  eng = EngineConfig.from_config(config.get("engine"))
  kv = eng.kv_dtype if eng.kv_dtype != "auto" else "bfloat16"   # a TPU is an accelerator
  host_local = config.train.get("sampling", "global") == "host_local"
  if host_local:
    local = host_devices(layout)
    smesh = parallel.make_mesh(tuple(config.train.get("sampler_mesh", (-1, 1, 1))),
                               devices=local)
  else:
    smesh = mesh
  sp = config.spice
  doc = int(config.corpus.max_doc_tokens) if config.corpus.enabled else 0
  specs = [SamplerSpec("challenger", doc + assume.template_tokens,
                       int(sp.challenger_max_tokens), dtype, eng, kv,
                       float(sp.challenger_temperature), float(sp.top_p)),
           SamplerSpec("reasoner", assume.question_tokens, int(sp.reasoner_max_tokens), dtype,
                       eng, kv, float(sp.reasoner_temperature), float(sp.top_p))]
  log(f"compiling the sampler: engine {eng.slots} slots, page {eng.page_size}, KV {kv}, on "
      f"{'one host' if host_local else 'the training mesh'} {dict(smesh.shape)}")
  specs = [sp_ for sp_ in specs if sp_.role in roles]
  smp, facts = sampler_programs(cfg, smesh, specs, layout.chip.hbm_bytes, state_bytes)
  facts.update(T=spec.T, rows=rows, sampler_mesh=dict(smesh.shape), mesh=dict(mesh.shape),
               kv_dtype=kv, attention=_attention_name(cfg, mesh))
  # The pool and the prepared weights live through the whole sampling phase.
  name = f"{config.get('name', '') or ''}"
  return Report(name, layout, cfg, tuple(upd + smp), state_bytes, facts)


def _attention_name(cfg: ModelConfig, mesh) -> str:
  try:
    from spice_jax.models import attention
    return attention.for_mesh(cfg, mesh).attention
  except (ImportError, AttributeError):
    return cfg.attention


def render(report: Report, plan_bytes: dict[str, int] | None = None) -> str:
  """The compile table and the closing line `compiled for ...: fits` / `does not fit`."""
  chip = report.layout.chip
  f = report.facts
  L = [f"== compiled for {report.layout.name} ({report.layout.chips} x {chip.name}, "
       f"{chip.hbm_bytes / GB:.0f} GB HBM): {report.model.family} L={report.model.n_layers} "
       f"D={report.model.d_model}; update mesh {f['mesh']}, {f['rows']} rows x T={f['T']}, "
       f"attention {f['attention']}; sampler mesh {f['sampler_mesh']}, KV {f['kv_dtype']}, "
       f"pool {f['pool_pages']} pages ({f['pool_bytes'] / GB:.2f} GB/chip; "
       f"{f['want_pages']} wanted)",
       f"{'program':58s} {'compiler':>9s} {'+resident':>9s} {'plan':>7s} {'compile':>8s} "
       f"{'TFLOP':>8s} {'GB moved':>9s} {'roofline':>9s}",
       f"{'':58s} {'GB/chip':>9s} {'GB/chip':>9s} {'GB':>7s} {'s':>8s} {'/chip':>8s} "
       f"{'/chip':>9s} {'s':>9s}"]
  for p in report.programs:
    plan = (plan_bytes or {}).get(p.kind, p.plan)
    L.append(f"{p.name[:58]:58s} {p.bytes / GB:9.2f} {p.peak / GB:9.2f} "
             f"{(f'{plan / GB:7.2f}') if plan else '      -'} {p.seconds:8.1f} "
             f"{p.flops / 1e12:8.3f} {p.bytes_accessed / GB:9.2f} {p.roofline_s(chip):9.4f}")
  L.append(f"resident: train state {report.state_bytes / GB:.2f} GB/chip, sampler weight copy "
           f"{f['copy_bytes'] / GB:.2f}, prepared weights {f['prepared_bytes'] / GB:.2f}, "
           f"KV pool {f['pool_bytes'] / GB:.2f}")
  big = report.largest
  verdict = "fits" if report.fits else (
      f"does not fit ({big.name}: {big.peak / GB:.1f} GB > {report.limit:.0%} of HBM; "
      f"{_knob(big)})")
  L.append(f"compiled for {report.layout.name}: peak {report.peak / GB:.1f} GB per chip of "
           f"{chip.hbm_bytes / GB:.0f} GB: {verdict}")
  return "\n".join(L)


def _knob(p: Program) -> str:
  if p.name.startswith("update"):
    return ("lower rl.micro_rows, shorten sequences (spice.*_max_tokens, "
            "corpus.max_doc_tokens) or shard over more chips (mesh.shape)")
  if p.name.startswith("sampler"):
    return ("lower engine.slots or engine.hbm_fraction, set engine.kv_dtype='bfloat16', or "
            "split the sampler's heads (train.sampler_mesh tensor > 1)")
  return "shard over more chips"
