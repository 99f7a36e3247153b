r"""Where a sampler call's time goes, op by op (XLA:CPU trace events).

  .venv/bin/python benchmarks/decode_profile.py                        # SmolLM2, B=16, static
  .venv/bin/python benchmarks/decode_profile.py --batch=64 --engine=continuous --top=30

Runs the sampler once to compile, then once under `jax.profiler` with XLA:CPU's per-op trace
events on (`--xla_cpu_enable_xprof_traceme`) and the optimised HLO dumped, and maps every
traced op back to its output shape and the JAX operation it came from (the HLO metadata).
Prints the time per program, then the top ops of one program (default: the one that took
longest, the decode loop) summed over the call, per decode step, and as a share of that
program's op time. Ops of one step can run at the same time on different threads, so summed
op time exceeds wall time: read the shares. This is the tool that found the RoPE cos/sin
being recomputed in every layer (benchmarks/README.md). CPU only.
"""

from __future__ import annotations

import collections
import glob
import os
import re
import tempfile
import time

_DUMP = tempfile.mkdtemp(prefix="decode_profile_hlo_")
# Read when the CPU backend starts (first use), so set before anything touches jax.
os.environ["XLA_FLAGS"] = " ".join([
    os.environ.get("XLA_FLAGS", ""), "--xla_cpu_enable_xprof_traceme=true",
    f"--xla_dump_to={_DUMP}", "--xla_dump_hlo_as_text"]).strip()

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

_MODEL = flags.DEFINE_string("model", "smollm2-135m-instruct",
                             "models.load source: preset, embedded name or checkpoint dir.")
_BATCH = flags.DEFINE_integer("batch", 16, "Rows.")
_PROMPT = flags.DEFINE_integer("prompt_len", 128, "Prompt tokens per row (random ids).")
_NEW = flags.DEFINE_integer("new_tokens", 128, "Generated tokens per row (no early stop).")
_ENGINE = flags.DEFINE_enum("engine", "static", ["static", "continuous"], "Sampler engine.")
_DTYPE = flags.DEFINE_enum("dtype", "bfloat16", ["float32", "bfloat16"], "Compute dtype.")
_PROGRAM = flags.DEFINE_string("program", None,
                               "HLO module to break down (default: the longest one).")
_TOP = flags.DEFINE_integer("top", 20, "Ops to print.")

_OP = re.compile(r"^\s*(?:ROOT )?%(\S+) = (\S+) ")
_OP_NAME = re.compile(r"op_name=\"([^\"]*)\"")


def hlo_ops(module: str) -> dict[str, tuple[str, str]]:
  """{instruction name: (output shape, JAX op name)} of a dumped optimised module."""
  files = glob.glob(os.path.join(_DUMP, f"*.{module}.cpu_after_optimizations.txt"))
  out = {}
  for path in files:
    with open(path) as f:
      for line in f:
        m = _OP.match(line)
        if m:
          jax_op = _OP_NAME.search(line)
          name = jax_op.group(1).split("/", 1)[-1] if jax_op else "(no JAX op: " + re.sub(
              r"\.\d+$", "", m.group(1)) + ")"
          out[m.group(1)] = (m.group(2), name)
  return out


def op_times(trace_dir: str):
  """{(module, op): (total ns, count)} over every XLA:CPU op event of the trace."""
  import jax
  path = glob.glob(os.path.join(trace_dir, "**", "*.xplane.pb"), recursive=True)[0]
  times = collections.defaultdict(lambda: [0, 0])
  for plane in jax.profiler.ProfileData.from_file(path).planes:
    for line in plane.lines:
      for ev in line.events:
        stats = dict(ev.stats)
        if "hlo_module" in stats and "hlo_op" in stats:
          t = times[(stats["hlo_module"], stats["hlo_op"])]
          t[0] += ev.duration_ns
          t[1] += 1
  return times


def main(argv):
  del argv
  import jax
  from spice_jax import models, sampling

  model = models.load(_MODEL.value, seed=0)
  cfg = model.config
  prompts = np.random.default_rng(0).integers(3, cfg.vocab_size,
                                              (_BATCH.value, _PROMPT.value)).tolist()
  smp = sampling.Sampler(cfg, model.mesh, dtype=_DTYPE.value, engine=_ENGINE.value)
  kw = dict(max_new_tokens=_NEW.value, temperature=1.0, stop_ids=())
  smp(model.params, prompts, seed=1, **kw)
  trace = tempfile.mkdtemp(prefix="decode_profile_trace_")
  jax.profiler.start_trace(trace)
  t0 = time.perf_counter()
  smp(model.params, prompts, seed=2, **kw)
  wall = time.perf_counter() - t0
  jax.profiler.stop_trace()
  times = op_times(trace)

  per_module = collections.Counter()
  for (module, _), (ns, _) in times.items():
    per_module[module] += ns
  print(f"{_MODEL.value} B={_BATCH.value} P={_PROMPT.value} N={_NEW.value} {_ENGINE.value} "
        f"{_DTYPE.value}: call {wall:.2f} s wall; op time per program (summed over threads):")
  for module, ns in per_module.most_common(6):
    print(f"  {module:40s} {ns / 1e9:8.2f} s")
  module = _PROGRAM.value or per_module.most_common(1)[0][0]
  ops = hlo_ops(module)
  grouped = collections.defaultdict(lambda: [0, 0])
  for (mod, op), (ns, n) in times.items():
    if mod == module:
      g = grouped[ops.get(op, ("?", re.sub(r"\.\d+$", "", op)))]
      g[0] += ns
      g[1] += n
  total = sum(ns for ns, _ in grouped.values())
  steps = max(_NEW.value - 1, 1)
  print(f"\ntop ops of {module} ({total / 1e9:.2f} s of op time; per step: / {steps}):")
  print(f"{'share':>6} {'ms/step':>8} {'calls':>7} {'us/call':>8}  {'shape':28s} op")
  rows = sorted(grouped.items(), key=lambda kv: -kv[1][0])[:_TOP.value]
  for (shape, name), (ns, n) in rows:
    print(f"{100 * ns / total:5.1f}% {ns / 1e6 / steps:8.2f} {n:7d} {ns / n / 1e3:8.1f}  "
          f"{shape:28s} {name[:70]}")


if __name__ == "__main__":
  app.run(main)
