r"""Capacity plan: per-chip memory and roofline time of one iteration of a run config.

  python -m spice_jax.plan --config=experiments/qwen3_4b.py:v5p-64
  python -m spice_jax.plan --all            # every config in experiments/
  python -m spice_jax.plan --config=experiments/qwen3_4b.py:v5p-64 --compile   # libtpu

The terminal shows the plan (or the compile table); library logs, including libtpu's own
lines on stderr, go to plan_log.txt in absl's `--log_dir` (default: the cache root,
`fs.cache_root`: $SPICE_JAX_CACHE, else ~/.cache/spice_jax).

The hardware layout comes from the config argument ("v5p-64", "qwen3_4b,h100x8") or
--layout; without one the plan is for --chips devices. Memory is per chip on the layout's
chip (and checked against every chip kind's HBM at the same chip count); time is a roofline
lower bound for v5e, v5p, v6e, H100 and H200 (spice_jax/planning/hardware.json names the
published figures). The model of each term is in spice_jax/planning/memory.py and roofline.py;
tests/test_plan.py checks it against the compiled programs' `memory_analysis()` on CPU.
"""

from __future__ import annotations

import dataclasses
import glob
import importlib.util
import os
import sys

from absl import app, flags

from spice_jax.errors import SpiceError
from spice_jax.planning import hardware, memory, roofline
from spice_jax.planning.workload import Assumptions, Workload, WorkloadError, from_config
from spice_jax.utils import cli, fs

FLAGS = flags.FLAGS


def define_flags() -> None:
  """Command-line flags (defined only when run as a program: train.py owns --config when
  both modules are imported)."""
  flags.DEFINE_string("config", None, "Config file[:arg], as for spice_jax.train.")
  flags.DEFINE_bool("all", False, "Plan every config in --experiments.")
  flags.DEFINE_string("experiments", "experiments", "Directory of configs (--all).")
  flags.DEFINE_string("layout", "", "Hardware layout (overrides the config argument).")
  flags.DEFINE_integer("chips", 1, "Devices when no layout is named.")
  flags.DEFINE_integer("template_tokens", Assumptions.template_tokens,
                       "Challenger template tokens around the document.")
  flags.DEFINE_integer("question_tokens", Assumptions.question_tokens,
                       "Reasoner prompt tokens.")
  flags.DEFINE_float("verify_seconds", Assumptions.verify_seconds,
                     "Host seconds per verified answer.")
  flags.DEFINE_bool("compile", False,
                    "Also compile every program of one iteration for the layout's TPU slice "
                    "with the TPU compiler (libtpu; no TPU needed) and check the fit.")
  flags.DEFINE_integer("compile_layers", 0,
                       "With --compile: compile a model of this depth at full width (0: the "
                       "config's depth).")


GB = 1e9
# The paper runs on the layouts of experiments/README.md; ablations on the reference layout.
ALL_ARGS = {"qwen3_4b.py": "v5p-64", "qwen3_8b.py": "v5p-64", "octothinker_3b.py": "v5p-64",
            "octothinker_8b.py": "h100x8"}
SKIP = {"__init__.py", "base.py", "paper.py"}


class PlanError(SpiceError, ValueError):
  pass


def load_config(spec: str):
  """`path.py[:arg]` -> (ConfigDict, arg); calls the file's get_config(arg)."""
  path, _, arg = spec.partition(":")
  if not os.path.isfile(path):
    raise PlanError(f"--config: {path!r} is not a file")
  root = os.path.dirname(os.path.dirname(os.path.abspath(path)))
  if root not in sys.path:  # configs import `experiments`
    sys.path.insert(0, root)
  mod_spec = importlib.util.spec_from_file_location(f"_plan_cfg_{abs(hash(path))}", path)
  mod = importlib.util.module_from_spec(mod_spec)
  mod_spec.loader.exec_module(mod)
  if not hasattr(mod, "get_config"):
    raise PlanError(f"{path}: has no get_config()")
  return (mod.get_config(arg) if arg else mod.get_config()), arg


@dataclasses.dataclass(frozen=True)
class Plan:
  name: str
  layout: hardware.Layout | None
  chips: int
  workload: Workload
  update: memory.UpdateMemory
  sampler: tuple[memory.SamplerMemory, ...]
  times: dict[str, roofline.Times]
  assume: Assumptions
  engine: memory.EngineMemory | None = None   # the continuous engine (the trainer's default)

  @property
  def sampler_peak(self) -> memory.SamplerMemory:
    return max(self.sampler, key=lambda s: s.working)

  @property
  def sampler_working(self) -> int:
    return self.engine.working if self.engine else self.sampler_peak.working

  @property
  def peak(self) -> int:
    """Per-chip bytes: the train state plus the larger of the update's and sampler's work."""
    return self.update.state + max(self.update.working, self.sampler_working)


def make_plan(config, name: str, layout: hardware.Layout | None, chips: int,
              assume: Assumptions = Assumptions()) -> Plan:
  n = layout.chips if layout else chips
  w = from_config(config, n, assume, platform=layout.chip.platform if layout else "cpu")
  times = {c.name: roofline.iteration_times(w, c, assume) for c in hardware.chips().values()}
  u = memory.update_memory(w)
  engine = None
  if w.engine is None or w.engine.engine != "static":   # "auto": continuous where rows stop
    engine = memory.engine_memory(w, layout.chip.hbm_bytes if layout else None, u.state)
  return Plan(name, layout, w.chips, w, u, tuple(memory.sampler_memory(w, c) for c in w.calls),
              times, assume, engine)


def _gb(x: float) -> str:
  return f"{x / GB:8.2f}"


def advice(plan: Plan, hbm: float) -> list[str]:
  """Which knob to turn when `plan` does not fit `hbm` bytes per chip."""
  w, u, s = plan.workload, plan.update, plan.sampler_peak
  out = []
  if u.state >= hbm:
    out.append(f"the train state alone ({u.state / GB:.1f} GB/chip) does not fit: shard over "
               f"more chips (mesh.shape fsdp, now {w.mesh[1]}) or use a larger chip")
    return out
  room = hbm - u.state
  if u.working > room:
    r = max(1, w.update.microbatch // w.batch_shards)
    one_row = dataclasses.replace(w, update=dataclasses.replace(
        w.update, minibatch=w.batch_shards, microbatch=w.batch_shards))
    fits_one = memory.update_memory(one_row).working <= room
    msg = (f"update needs {u.working / GB:.1f} GB/chip of work with {room / GB:.1f} GB free: "
           f"its attention is materialised, [{r} rows/chip, H, T={w.update.T}, T] per layer")
    if r > 1 and fits_one:
      msg += (f"; lower rl.minibatch_size to {w.batch_shards} (1 row/chip), which fits")
    else:
      T = w.update.T
      while T > 16 and memory.update_memory(dataclasses.replace(one_row, update=dataclasses.replace(
          one_row.update, T=T))).working > room:
        T //= 2
      msg += (f"; even 1 row/chip does not fit: shorten sequences to T <= {T} "
              f"(corpus.max_doc_tokens, spice.challenger_max_tokens, spice.reasoner_max_tokens), "
              f"split heads with mesh.shape tensor > 1, or use a memory-efficient attention")
    out.append(msg)
  e = plan.engine
  if e is not None:
    if e.working > room:
      out.append(f"sampler (engine) needs {e.working / GB:.1f} GB/chip with {room / GB:.1f} "
                 f"GB free (weight copy {e.copy / GB:.1f}, prepared {e.prepared / GB:.1f}): "
                 f"split the sampler's heads over more chips (train.sampler_mesh tensor) or "
                 f"lower engine.hbm_fraction / set engine.kv_pages")
    return out
  if s.working > room:
    call = next(c for c in w.calls if c.role == s.call)
    sb = call.batch
    while sb > w.batch_shards and memory.sampler_memory(w, dataclasses.replace(
        call, batch=sb, unique=min(call.unique, sb))).working > room:
      sb //= 2
    out.append(f"sampler ({s.call}) needs {s.working / GB:.1f} GB/chip with {room / GB:.1f} GB "
               f"free (KV cache {s.decode_cache / GB:.1f} GB): lower train.sampler_batch to "
               f"{sb} or keep the KV cache in bfloat16")
  return out


def _decode_bound(t: roofline.Times) -> str:
  kinds = sorted({v for k, v in t.bound.items() if k.startswith("decode/")})
  return "/".join(kinds)


def render(plan: Plan) -> str:
  w, u = plan.workload, plan.update
  cfg = w.model
  where = (f"{plan.layout.name} ({plan.chips} x {plan.layout.chip.name}; {plan.layout.note})"
           if plan.layout else f"{plan.chips} device(s), no layout named")
  L = [f"== {plan.name} on {where}",
       f"model: {cfg.family}, {cfg.num_params() / 1e9:.2f} B params, L={cfg.n_layers} "
       f"D={cfg.d_model} H={cfg.n_heads}/{cfg.n_kv_heads} V={cfg.vocab_size}; mesh "
       f"data={w.mesh[0]} fsdp={w.mesh[1]} tensor={w.mesh[2]}; compute "
       f"{'bfloat16' if w.compute_bytes == 2 else 'float32'}, KV cache "
       f"{'bfloat16' if w.cache_bytes == 2 else 'float32'}, "
       f"remat={w.remat}"]
  for c in w.calls:
    L.append(f"sampler {c.role:10s}: {c.calls} call(s) x {c.batch} rows ({c.unique} distinct "
             f"prompts), prompt {c.prompt} + {c.new} new slots")
  L.append(f"update: {w.update.rows} rows x T={w.update.T}, minibatch {w.update.minibatch} "
           f"({max(1, w.update.microbatch // w.batch_shards)} rows/chip per micro-batch)")
  s = plan.sampler_peak
  L += ["", "per-chip memory (GB)",
        f"  params (f32 master)      {_gb(u.params)}",
        f"  optimizer state (Adam)   {_gb(u.opt_state)}",
        f"  reference / frozen copy  {_gb(u.ref_params + u.frozen_copy)}",
        f"  update: gradients        {_gb(u.gradients)}",
        f"  update: batch            {_gb(u.batch)}",
        f"  update: activations      {_gb(u.activations)}   (remat={w.remat}, attention "
        f"{w.attention})"]
  e = plan.engine
  if e is not None:
    L += [f"  engine: weight copy      {_gb(e.copy)}   (sampler mesh {w.sampler_axes})",
          f"  engine: prepared weights {_gb(e.prepared)}",
          f"  engine: KV pool          {_gb(e.pool)}   ({e.pool_pages} pages, "
          f"{min(1.0, e.pool_pages / max(1, e.want_pages)):.0%} of what "
          f"{(w.engine.slots if w.engine else 64)} slots at the longest call want; KV "
          f"{'bfloat16' if w.cache_bytes == 2 else 'float32'})",
          f"  engine: program temps    {_gb(max(e.window_temps, e.prefill_temps))}"]
  else:
    L += [f"  sampler: weights copy    {_gb(s.weights)}   (largest call: {s.call})",
          f"  sampler: KV cache        {_gb(max(s.decode_cache, s.prefill_cache))}",
          f"  sampler: activations     {_gb(max(s.decode_work, s.prefill_work))}"]
  L += [f"  peak = state + max(update {u.working / GB:.2f}, sampler "
        f"{plan.sampler_working / GB:.2f}) = {plan.peak / GB:.2f} GB"]
  L += ["", "roofline seconds per iteration (lower bound) and per-chip fit on each chip kind",
        "chip    HBM GB  fits   prefill s  decode s  update s   host s   total s  "
        "bounds: decode, update"]
  warnings = []
  for name, chip in hardware.chips().items():
    t = plan.times[name]
    fits = plan.peak <= chip.hbm_bytes
    L.append(f"{name:6s} {chip.hbm_bytes / GB:7.0f}  {'yes' if fits else 'NO ':5s}"
             f"{t.prefill:10.1f}{t.decode:10.1f}{t.update:10.1f}{t.host:9.1f}{t.total:10.1f}"
             f"  {_decode_bound(t)}, {t.bound['update']}")
    if not fits and (plan.layout is None or name == plan.layout.chip.name):
      warnings += [f"does not fit {name} ({plan.peak / GB:.1f} > {chip.hbm_bytes / GB:.0f} GB)"
                   f": {a}" for a in advice(plan, chip.hbm_bytes)]
  if warnings:
    L += [""] + [f"WARNING: {x}" for x in warnings]
  a = plan.assume
  L += ["", "assumptions:",
        f"  - Challenger prompts = corpus.max_doc_tokens + {a.template_tokens} template tokens;"
        f" Reasoner prompts {a.question_tokens} tokens; one Challenger round per document, every"
        f" kept task valid (B x G x K answers)",
        "  - every sampler call decodes all max_new_tokens (a static batch waits for its longest"
        " row); the decode counts the input, next-to-last and last phase caches (upper bound)",
        "  - update micro-batches of one row per device, each padded to the longest row's"
        " length bucket (the longest sequence bounds the plan; spice.batch.make_batch)",
        "  - memory: the continuous engine (engine.* settings): weight copy and prepared"
        " weights in the compute dtype on the sampler mesh, a KV pool of engine.hbm_fraction"
        " of the chip less the rest, with the pool copies XLA:TPU keeps in its programs"
        " (planning/memory.py POOL_TEMPS, measured with `--compile`); times: the static path"
        " (every row decodes its whole cap: an upper bound)",
        f"  - the update's attention: {w.attention} ("
        + ("[T, T] scores materialised, 22 bytes per score in one layer's backward"
           if w.attention == "dense" else "memory linear in T") + ")",
        "  - roofline: peak dense bf16 FLOP/s, HBM and interconnect bandwidth from"
        " spice_jax/planning/hardware.json, perfect overlap within a phase; FSDP all-gathers the"
        " weights once per decode step and per update pass",
        f"  - host: {a.verify_seconds * 1e3:.0f} ms per answer on spice.verify_workers="
        f"{w.verify_workers} processes; "
        + (f"train.sampling='host_local': {w.hosts} hosts of {a.chips_per_host} chips, each "
           "plays its own documents on its own chips with a full copy of the weights"
           if w.sampler_replicated else "global sampling: every host verifies every answer")]
  return "\n".join(L)


def plan_spec(spec: str, assume: Assumptions, layout_name: str = "", chips: int = 1) -> str:
  config, arg = load_config(spec)
  layout = hardware.layout(layout_name) if layout_name else hardware.find_layout(arg)
  return render(make_plan(config, spec, layout, chips, assume))


def all_specs(directory: str) -> list[str]:
  out = []
  for path in sorted(glob.glob(os.path.join(directory, "*.py")) +
                     glob.glob(os.path.join(directory, "ablations", "*.py"))):
    base = os.path.basename(path)
    if base in SKIP:
      continue
    arg = ALL_ARGS.get(base) if os.path.dirname(path) == directory.rstrip("/") else None
    if "ablations" in path:
      arg = "qwen3_4b,v5p-64"
    out.append(f"{path}:{arg}" if arg else path)
  return out


def compile_spec(spec: str, assume: Assumptions, layout_name: str = "", layers: int = 0,
                 log=print) -> tuple[str, bool]:
  """Compiles `spec`'s iteration for its TPU layout; returns (table, fits)."""
  from spice_jax.planning import compile as compile_lib
  config, arg = load_config(spec)
  layout = hardware.layout(layout_name) if layout_name else hardware.find_layout(arg)
  if layout is None:
    raise PlanError(f"{spec}: names no hardware layout; give one (FILE:v5p-64) or --layout")
  report = compile_lib.check(config, layout, layers=layers, assume=assume, log=log)
  w = from_config(config, layout.chips, assume, platform=layout.chip.platform)
  if layers:
    w = dataclasses.replace(w, model=w.model.replace(n_layers=layers))
  plan = memory.program_bytes(w, report.facts)
  return compile_lib.render(report, plan), report.fits


def main(argv):
  del argv
  f = FLAGS
  assume = Assumptions(template_tokens=f.template_tokens, question_tokens=f.question_tokens,
                       verify_seconds=f.verify_seconds)
  specs = all_specs(f.experiments) if f.all else [f.config]
  if not specs or specs == [None]:
    raise app.UsageError("give --config=FILE[:ARG] or --all")
  log = cli.log_to_file(f.log_dir or fs.cache_root(), "plan_log.txt")
  # libtpu (installed for --compile; JAX probes it as a backend) writes its start-up lines
  # to fd 2 itself: they go to the log with the rest. The plan is printed on stdout.
  with cli.stderr_to(log):
    ok = _plan_or_compile(specs, assume, f)
  if f.compile:
    print(f"library logs: {log}")
    sys.exit(0 if ok else 1)


def _plan_or_compile(specs: list[str], assume: Assumptions, f) -> bool:
  """Prints each spec's plan (or compile table); returns whether every compiled one fits."""
  if f.compile:
    fits_all = True
    for spec in specs:
      try:
        table, fits = compile_spec(spec, assume, f.layout, f.compile_layers,
                                   log=lambda m: print(f"  {m}", flush=True))
      except (PlanError, WorkloadError, hardware.HardwareError, SpiceError) as e:
        print(f"== {spec}: cannot compile: {e}")
        fits_all = False
        continue
      print(table + "\n", flush=True)
      fits_all &= fits
    return fits_all
  for spec in specs:
    try:
      print(plan_spec(spec, assume, f.layout, f.chips) + "\n")
    except (PlanError, WorkloadError, hardware.HardwareError) as e:
      print(f"== {spec}: cannot plan: {e}\n")
  return True


if __name__ == "__main__":
  # A CPU host with libtpu installed must not try to open a TPU: the TPU compiler is reached
  # through jax.experimental.topologies, not a device. libtpu's own logs stay quiet.
  os.environ.setdefault("JAX_PLATFORMS", "cpu")
  os.environ.setdefault("TPU_STDERR_LOG_LEVEL", "3")
  os.environ.setdefault("TPU_MIN_LOG_LEVEL", "3")
  os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")
  define_flags()
  app.run(main)
