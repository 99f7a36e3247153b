r"""Sampler throughput: spice_jax's jitted sampler vs transformers' `generate` (PyTorch, CPU).

  .venv/bin/python benchmarks/sampler.py                      # full table (~15-30 min on 2 cores)
  .venv/bin/python benchmarks/sampler.py --workloads=tiny:64 --new_tokens=64   # quick look
  .venv/bin/python benchmarks/sampler.py --engines=static                      # one engine

Same weights (our params exported with `export_hf` and loaded by transformers), same random
prompts, same number of generated tokens (no early stop), temperature 1.0 sampling with no
top-k/top-p on both sides. Each side runs in its own subprocess (so peak memory is its own):
one untimed call to compile/warm up, then one timed call. Printed per workload:
  * tokens/s end to end (prefill + decode, generated tokens / wall time) for spice_jax and
    transformers, and their ratio;
  * spice_jax decode-only tokens/s and its FLOP/s as a % of this machine's matmul peak
    (a large `jnp.dot` in the compute dtype, measured in the same run); model FLOPs count
    2 x matmul params per token plus attention over the actual context;
  * peak RSS of each process (and the part added by generation), compile seconds.
Workloads are `name:batch`; names: `smollm2` (the embedded SmolLM2-135M-Instruct) or a preset
(`tiny-llama`, `tiny` = tiny-llama, ...; random init, seed 0).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from absl import app, flags

_WORKLOADS = flags.DEFINE_list("workloads", ["smollm2:16", "smollm2:64", "tiny:64"],
                               "name:batch entries.")
_PROMPT = flags.DEFINE_integer("prompt_len", 256, "Prompt tokens per row.")
_NEW = flags.DEFINE_integer("new_tokens", 256, "Generated tokens per row.")
_DTYPE = flags.DEFINE_enum("dtype", "bfloat16", ["float32", "bfloat16"],
                           "spice_jax compute dtype.")
_CACHE_DTYPE = flags.DEFINE_enum("cache_dtype", "float32", ["float32", "bfloat16"],
                                 "spice_jax KV cache dtype.")
_TORCH_DTYPES = flags.DEFINE_list("torch_dtypes", ["float32"],
                                  "transformers dtypes to run (float32, bfloat16).")
_SIDES = flags.DEFINE_list("sides", ["jax", "torch"], "Which sides to run.")
_ENGINES = flags.DEFINE_list("engines", ["static", "continuous", "auto"],
                             "spice_jax engines to run (each in its own worker); auto = the "
                             "Sampler's default (the path it picks per call is printed).")
_WORKER = flags.DEFINE_string("worker", None, "Internal: run one side and print JSON.")
_SPEC = flags.DEFINE_string("spec", None, "Internal: JSON job spec for a worker.")

EMBEDDED_ALIASES = {"smollm2": "smollm2-135m-instruct"}
PRESET_ALIASES = {"tiny": "tiny-llama"}


def _rss_mb() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _current_rss_mb() -> float:
  with open("/proc/self/status") as f:
    for line in f:
      if line.startswith("VmRSS:"):
        return float(line.split()[1]) / 1024.0
  return float("nan")


def _prompts(batch: int, length: int, vocab: int, seed: int = 0) -> list[list[int]]:
  import numpy as np
  rng = np.random.default_rng(seed)
  lo = 3 if vocab > 8 else 0  # keep clear of special ids on small vocabularies
  return rng.integers(lo, vocab, (batch, length)).tolist()


def _load_model(name: str):
  from spice_jax import models
  source = EMBEDDED_ALIASES.get(name, PRESET_ALIASES.get(name, name))
  return models.load(source, seed=0)


def _matmul_peak(dtype_name: str, n: int = 2048, reps: int = 5) -> float:
  """Best FLOP/s of an n x n x n jnp.dot (f32 accumulation) over `reps` runs."""
  import jax
  import jax.numpy as jnp
  dt = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}[dtype_name]
  a = jnp.ones((n, n), dt)
  b = jnp.ones((n, n), dt)
  f = jax.jit(lambda a, b: jnp.dot(a, b, preferred_element_type=jnp.float32))
  f(a, b).block_until_ready()
  best = float("inf")
  for _ in range(reps):
    t0 = time.perf_counter()
    f(a, b).block_until_ready()
    best = min(best, time.perf_counter() - t0)
  return 2 * n ** 3 / best


def _flops(cfg, batch: int, prompt: int, new: int) -> tuple[float, float]:
  """(prefill FLOPs, decode FLOPs) of the workload, attention over the actual context."""
  pre = batch * sum(cfg.flops_per_token(c) for c in range(1, prompt + 1))
  dec = batch * sum(cfg.flops_per_token(prompt + i) for i in range(1, new))
  return pre, dec


def worker_jax(spec: dict) -> dict:
  from spice_jax import sampling
  model = _load_model(spec["name"])
  cfg = model.config
  prompts = _prompts(spec["batch"], spec["prompt"], cfg.vocab_size)
  peaks = {d: _matmul_peak(d) for d in ("float32", "bfloat16")}
  rss0 = _current_rss_mb()
  sampler = sampling.Sampler(cfg, model.mesh, dtype=spec["dtype"],
                             cache_dtype=spec["cache_dtype"], engine=spec["engine"])
  kw = dict(max_new_tokens=spec["new"], temperature=1.0, stop_ids=())
  t0 = time.perf_counter()
  sampler(model.params, prompts, seed=1, **kw)
  first = time.perf_counter() - t0
  t0, c0 = time.perf_counter(), time.process_time()
  out = sampler(model.params, prompts, seed=2, **kw)
  total, cpu = time.perf_counter() - t0, time.process_time() - c0
  assert (out.lengths == spec["new"]).all(), out.lengths
  timing = sampler.last_timing
  pre_f, dec_f = _flops(cfg, spec["batch"], spec["prompt"], spec["new"])
  dec_tokens = spec["batch"] * (spec["new"] - 1)
  return {
      "tok_s": spec["batch"] * spec["new"] / total, "total_s": total, "cpu_s": cpu,
      "prefill_s": timing["prefill_s"], "decode_s": timing["decode_s"],
      "decode_tok_s": dec_tokens / timing["decode_s"],
      "decode_flops_s": dec_f / timing["decode_s"],
      "e2e_flops_s": (pre_f + dec_f) / total,
      "prefill_flops_s": pre_f / timing["prefill_s"],
      "compile_s": sampler.compile_seconds, "first_call_s": first,
      "num_compilations": sampler.num_compilations,
      "path": timing["engine"], "choice": timing.get("choice", ""),
      "peak_f32": peaks["float32"], "peak_bf16": peaks["bfloat16"],
      "rss_peak_mb": _rss_mb(), "rss_before_mb": rss0,
  }


def worker_torch(spec: dict) -> dict:
  import numpy as np
  import torch
  import transformers
  dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[spec["torch_dtype"]]
  hf = transformers.AutoModelForCausalLM.from_pretrained(spec["hf_dir"], dtype=dtype)
  hf.eval()
  hf.generation_config.eos_token_id = None  # generate exactly new_tokens, like our side
  vocab = hf.config.vocab_size
  prompts = torch.tensor(np.asarray(_prompts(spec["batch"], spec["prompt"], vocab)))
  rss0 = _current_rss_mb()
  kw = dict(do_sample=True, temperature=1.0, top_k=0, top_p=1.0, pad_token_id=0)
  probe = prompts[:, :32]
  with torch.no_grad():
    t0 = time.perf_counter()
    hf.generate(probe, attention_mask=torch.ones_like(probe), max_new_tokens=4, **kw)
    first = time.perf_counter() - t0
    # Thread count: torch's OpenMP threads spin-wait, which collapses (10x+) when another
    # process holds a core; probe 1 and all threads on a short decode, keep the faster.
    best = None
    for n in sorted({1, os.cpu_count() or 1}):
      torch.set_num_threads(n)
      t0 = time.perf_counter()
      hf.generate(probe, attention_mask=torch.ones_like(probe), max_new_tokens=12, **kw)
      dt = time.perf_counter() - t0
      if best is None or dt < best[1]:
        best = (n, dt)
    torch.set_num_threads(best[0])
    torch.manual_seed(2)
    t0, c0 = time.perf_counter(), time.process_time()
    out = hf.generate(prompts, attention_mask=torch.ones_like(prompts),
                      max_new_tokens=spec["new"], **kw)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
  assert out.shape[1] == spec["prompt"] + spec["new"], out.shape
  return {"tok_s": spec["batch"] * spec["new"] / total, "total_s": total, "cpu_s": cpu,
          "first_call_s": first, "rss_peak_mb": _rss_mb(), "rss_before_mb": rss0,
          "threads": torch.get_num_threads()}


def _run_worker(kind: str, spec: dict) -> dict:
  cmd = [sys.executable, os.path.abspath(__file__), f"--worker={kind}",
         f"--spec={json.dumps(spec)}"]
  env = dict(os.environ, TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1")
  res = subprocess.run(cmd, capture_output=True, text=True, env=env)
  for line in res.stdout.splitlines()[::-1]:
    if line.startswith("RESULT "):
      return json.loads(line[len("RESULT "):])
  raise RuntimeError(f"{kind} worker failed (exit {res.returncode}):\n{res.stderr[-3000:]}")


def _export(name: str, out_dir: str) -> str:
  from spice_jax import models
  model = _load_model(name)
  models.export_hf(model.params, model.config, out_dir, model.tokenizer)
  return out_dir


def main(argv):
  del argv
  if _WORKER.value:
    spec = json.loads(_SPEC.value)
    res = worker_jax(spec) if _WORKER.value == "jax" else worker_torch(spec)
    print("RESULT " + json.dumps(res), flush=True)
    return
  rows = []
  with tempfile.TemporaryDirectory(prefix="sampler_bench_") as tmp:
    exported: dict[str, str] = {}
    for wl in _WORKLOADS.value:
      name, batch = wl.split(":")
      spec = {"name": name, "batch": int(batch), "prompt": _PROMPT.value, "new": _NEW.value,
              "dtype": _DTYPE.value, "cache_dtype": _CACHE_DTYPE.value}
      row = {"workload": f"{name} B={batch} P={_PROMPT.value} N={_NEW.value}"}
      for engine in (_ENGINES.value if "jax" in _SIDES.value else ()):
        print(f"[{wl}] spice_jax {engine}: starting, load {os.getloadavg()[0]:.1f}",
              flush=True)
        row[f"jax_{engine}"] = _run_worker("jax", dict(spec, engine=engine))
        print(f"[{wl}] spice_jax {engine}: {json.dumps(row[f'jax_{engine}'])}", flush=True)
      if "torch" in _SIDES.value:
        if name not in exported:
          exported[name] = _export(name, os.path.join(tmp, name))
        for td in _TORCH_DTYPES.value:
          row[f"torch_{td}"] = _run_worker("torch", dict(spec, hf_dir=exported[name],
                                                        torch_dtype=td))
          print(f"[{wl}] transformers {td}: {json.dumps(row[f'torch_{td}'])}", flush=True)
      rows.append(row)
  _print_table(rows)


def _print_table(rows):
  dt = _DTYPE.value
  print()
  print(f"spice_jax compute dtype {dt}, KV cache {_CACHE_DTYPE.value}; transformers "
        f"{'/'.join(_TORCH_DTYPES.value)}; temperature 1.0 sampling, no early stop; "
        f"cpu_count={os.cpu_count()}")
  head = (f"{'workload':<28} {'side':<26} {'tok/s':>7} {'ratio':>6} {'tok/cpu-s':>9} "
          f"{'dec tok/s':>9} {'dec GF/s':>8} {'%pk f32':>7} {'%pk bf16':>8} {'RSS MB':>7} {'+gen MB':>7} "
          f"{'compile s':>9}")
  print(head)
  print("-" * len(head))
  for r in rows:
    torches = [(k, v) for k, v in r.items() if k.startswith("torch_")]
    ref = torches[0][1]["tok_s"] if torches else None
    for key, j in ((k, v) for k, v in r.items() if k.startswith("jax_")):
      ratio = f"{j['tok_s'] / ref:6.2f}" if ref else "     -"
      ntok = j["tok_s"] * j["total_s"]
      side = f"spice_jax {key[4:]} {dt}"
      print(f"{r['workload']:<28} {side:<26} {j['tok_s']:7.1f} {ratio} "
            f"{ntok / j['cpu_s']:9.1f} {j['decode_tok_s']:9.1f} "
            f"{j['decode_flops_s'] / 1e9:8.1f} {100 * j['decode_flops_s'] / j['peak_f32']:6.1f}% "
            f"{100 * j['decode_flops_s'] / j['peak_bf16']:7.1f}% "
            f"{j['rss_peak_mb']:7.0f} {j['rss_peak_mb'] - j['rss_before_mb']:7.0f} "
            f"{j['compile_s']:9.1f}")
    for k, v in torches:
      ratio = v["tok_s"] / ref
      ntok = v["tok_s"] * v["total_s"]
      side = f"transformers {k[6:]} {v['threads']}thr"
      print(f"{r['workload']:<28} {side:<26} {v['tok_s']:7.1f} "
            f"{ratio:6.2f} {ntok / v['cpu_s']:9.1f} {'-':>9} {'-':>8} {'-':>7} {'-':>8} "
            f"{v['rss_peak_mb']:7.0f} {v['rss_peak_mb'] - v['rss_before_mb']:7.0f} {'-':>9}")
  jax_runs = [(r["workload"], k[4:], v) for r in rows for k, v in r.items()
              if k.startswith("jax_")]
  if jax_runs:
    j = jax_runs[0][2]
    print(f"matmul peak (2048^3 jnp.dot, f32 accumulate): float32 {j['peak_f32'] / 1e9:.0f} "
          f"GFLOP/s, bfloat16 {j['peak_bf16'] / 1e9:.0f} GFLOP/s. ratio = spice_jax tok/s / "
          f"transformers {_TORCH_DTYPES.value[0]} tok/s (end to end). "
          f"%pk = spice_jax decode model FLOP/s / that matmul peak. tok/cpu-s = "
          f"generated tokens per CPU-second of the process (less sensitive to other load).")
  for wl, engine, j in jax_runs:
    ran = f" (ran {j['path']}: {j['choice']})" if engine == "auto" else ""
    print(f"  {wl} {engine}{ran}: spice_jax prefill {j['prefill_s']:.1f}s "
          f"({j['prefill_flops_s'] / 1e9:.0f} GFLOP/s), decode {j['decode_s']:.1f}s "
          f"({j['decode_flops_s'] / 1e9:.0f} GFLOP/s), {j['num_compilations']} programs "
          f"compiled in {j['compile_s']:.1f}s, first call {j['first_call_s']:.1f}s")
  for r in rows:
    st = r.get("jax_static")
    for key in ("jax_continuous", "jax_auto"):
      if st and key in r:
        print(f"  {r['workload']} {key[4:]}/static tokens/s: "
              f"{r[key]['tok_s'] / st['tok_s']:.2f}x")
  print(f"load average at the end: {os.getloadavg()[0]:.1f}")

if __name__ == "__main__":
  app.run(main)
