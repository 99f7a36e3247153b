r"""Rollout throughput on a SPICE-shaped workload: static path vs continuous engine vs
transformers `generate`, same random weights, same prompts, one process.

Honest by default: like the trainer, both paths get one uniform cap per role (`max_new`);
each row's actual length is a hidden stop position (`Sampler(..., stop_at=...)`: checked in
the decode loop as a stop token would be, unseen by the scheduler and the buckets), the
same for every side; transformers stops a batch when its last row has stopped. `--oracle`
restores the earlier mode (each row's length given to the engine as its cap), for
comparison.

  .venv/bin/python benchmarks/rollout.py                 # small llama shape, ~3-5 min on 2 cores
  .venv/bin/python benchmarks/rollout.py --docs=2 --attempts=4 --prompt_len=128   # quicker

Workload (two calls, like one SPICE iteration):
  1. Challenger: D documents x G attempts, the G rows of a document share its P-token prompt;
  2. Reasoner: K answers to each of the D x G tasks, short Q-token prompts.
The continuous engine runs it twice: "two-phase" (the two calls, as the static path) and,
with --pipelined (default), as one call whose Challenger row r queues the K Reasoner rows of
task r (`FollowUp`) the moment it finishes, so they fill the slots of the Challenger tail.
Per-row lengths are heavy-tailed: lognormal (median `cap_median`, sigma `cap_sigma`),
clipped to [1, max_new]; useful tokens = sum of lengths. transformers cannot stop rows
individually: it runs each call to its longest row (the others are counted at their
lengths). Pipelined mode (follow-ups) runs only with --oracle (a FollowUp has no hidden
stop).

The continuous rows run the Sampler's default engine ("auto", `--engine`): it picks the
path per call (here the engine, as rows may stop early) and the path it ran is printed.

Memory: the static path runs `static_batch` rows per call; the continuous engine gets a
page pool of the same bytes as that call's KV cache (and `slots` decode slots; admission
waits for pages). transformers runs the same `static_batch`-row calls.

Printed per side: tokens/s (useful tokens / wall time of both calls, after warm-up runs;
the fastest of --repeats timed runs), occupancy (mean live rows per slot-step: useful
tokens / (slots x decode steps); static: its batch rows; for each continuous mode also the
most any schedule of those slots could reach with these rows: per call, no fewer steps than
its longest row or its tokens over the slots), packing (useful token-steps /
row-steps of the compiled decode programs), preemptions, peak KV bytes
(static: its final cache B x (P + Nb); continuous: peak pages in use x page bytes),
compilations and compile seconds (from the warm-up run). Each continuous mode's ratio to
the static path is printed, then, for the faster mode, the last lines:
`continuous/static tokens/s: <ratio>x` and `slot occupancy: <percent>%`.
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np
from absl import app, flags

_DOCS = flags.DEFINE_integer("docs", 4, "Documents D.")
_ATTEMPTS = flags.DEFINE_integer("attempts", 8, "Challenger attempts G per document.")
_PROMPT = flags.DEFINE_integer("prompt_len", 256, "Document prompt tokens P.")
_ANSWERS = flags.DEFINE_integer("answers", 4, "Reasoner answers K per task.")
_QUESTION = flags.DEFINE_integer("question_len", 32, "Reasoner prompt tokens Q.")
_MAX_NEW = flags.DEFINE_integer("max_new", 256, "Largest per-row cap.")
_CAP_MEDIAN = flags.DEFINE_float("cap_median", 24.0, "Median per-row cap.")
_CAP_SIGMA = flags.DEFINE_float("cap_sigma", 1.0, "Lognormal sigma of the per-row caps.")
_SHAPE = flags.DEFINE_string("shape", "small", "Model shape: small | tiny-llama | <preset>.")
_DTYPE = flags.DEFINE_string("dtype", "bfloat16", "spice_jax compute dtype.")
_STATIC_BATCH = flags.DEFINE_integer("static_batch", 16, "Rows per static-path call: its KV "
                                     "cache (B x (P + Nb)) sets the memory both engines get.")
_SLOTS = flags.DEFINE_integer("slots", 64, "Continuous engine decode slots.")
_WINDOW = flags.DEFINE_integer("window", 16, "Continuous engine decode steps per window.")
_ENGINE = flags.DEFINE_enum("engine", "auto", ["auto", "continuous"], "Engine of the "
                            "'continuous' rows: auto = the Sampler's default (the path it "
                            "picks per call is printed), or the engine forced.")
_PAGE_SIZE = flags.DEFINE_integer("page_size", None, "Continuous engine tokens per KV page "
                                  "(default: the Sampler's).")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed runs per spice_jax side (the fastest is "
                                "reported: the machine is shared).")
_PIPELINED = flags.DEFINE_bool("pipelined", True, "Also run the continuous engine pipelined: "
                                "one call whose Challenger rows queue their K Reasoner rows "
                                "(FollowUp) the moment they finish.")
_TRANSFORMERS = flags.DEFINE_bool("transformers", True, "Also run transformers generate.")
_TORCH_THREADS = flags.DEFINE_integer("torch_threads", 0, "torch threads (0 = the machine's "
                                      "cores).")
_ORACLE = flags.DEFINE_bool("oracle", False, "The earlier mode: each row's length is its cap "
                            "(the engine knows every length in advance).")


def small_config():
  """A small Llama shape: big enough that matmuls, attention and sampling all matter."""
  from spice_jax import models
  return models.ModelConfig(family="llama", vocab_size=4096, d_model=256, n_layers=4,
                            n_heads=4, n_kv_heads=2, head_dim=64, mlp_dim=768,
                            max_seq_len=4096)


def spice_workload(vocab: int, docs: int, attempts: int, prompt_len: int, answers: int,
                   question_len: int, max_new: int, cap_median: float, cap_sigma: float,
                   seed: int = 0) -> list[tuple[list[list[int]], list[int]]]:
  """[(prompts, caps)] for the Challenger call and the Reasoner call (see module doc)."""
  rng = np.random.default_rng(seed)
  caps = lambda n: np.clip(np.round(rng.lognormal(np.log(cap_median), cap_sigma, n)), 1,
                           max_new).astype(int).tolist()
  lo = 3  # clear of special ids
  doc = [rng.integers(lo, vocab, prompt_len).tolist() for _ in range(docs)]
  challenger = [d for d in doc for _ in range(attempts)]
  tasks = [rng.integers(lo, vocab, question_len).tolist() for _ in range(docs * attempts)]
  reasoner = [t for t in tasks for _ in range(answers)]
  return [(challenger, caps(len(challenger))), (reasoner, caps(len(reasoner)))]


def kv_bytes_per_token(cfg, itemsize: int) -> int:
  return 2 * cfg.n_layers * cfg.n_kv_heads * cfg.head_dim * itemsize


def batched(calls, rows: int | None):
  """Splits each call into pieces of at most `rows` rows (None: whole calls)."""
  out = []
  for prompts, caps in calls:
    n = rows or len(prompts)
    out += [(prompts[i:i + n], caps[i:i + n]) for i in range(0, len(prompts), n)]
  return out


def call_job(prompts, caps, oracle: bool = True, max_new: int = 0):
  """One sampler call of `prompts` (a piece of the two-phase workload): rows of lengths
  `caps`, given as caps (oracle) or as hidden stops under the uniform cap `max_new`."""
  def job(sampler, params, seed):
    if oracle:
      return sampler(params, prompts, max_new_tokens=caps, temperature=1.0, seed=seed)
    return sampler(params, prompts, max_new_tokens=max_new, stop_at=caps, temperature=1.0,
                   seed=seed)
  return job, sum(caps)


def pipelined_job(calls, answers: int):
  """The whole workload as one call: the Challenger rows, each queueing the K Reasoner
  rows of its task (`FollowUp`, row seeds) the moment it finishes."""
  from spice_jax.sampling import FollowUp
  (ch_prompts, ch_caps), (re_prompts, re_caps) = calls

  def job(sampler, params, seed):
    def on_finish(r, *_):
      if r >= len(ch_prompts):
        return None
      rows = range(r * answers, (r + 1) * answers)
      return [FollowUp(re_prompts[i], re_caps[i], seed * 1_000_003 + i) for i in rows]
    return sampler(params, ch_prompts, max_new_tokens=ch_caps, temperature=1.0, seed=seed,
                   on_finish=on_finish)
  return job, sum(ch_caps) + sum(re_caps)


def run_ours(sampler, params, jobs, seed: int = 0, repeats: int = 1) -> dict:
  """Warm-up runs (compiles; two, as the continuous pool settles on its largest size on
  the first), then `repeats` timed runs of every job [(fn, tokens it must make)]; the
  stats of the fastest run."""
  for _ in range(2):
    for job, _ in jobs:
      job(sampler, params, seed)
  compiles, compile_s = sampler.num_compilations, sampler.compile_seconds
  runs = [timed_run(sampler, params, jobs, seed) for _ in range(repeats)]
  best = min(runs, key=lambda r: r["wall_s"])
  return {**best, "tok_s": best["tokens"] / best["wall_s"], "compiles": compiles,
          "compile_s": compile_s, "recompiles": sampler.num_compilations - compiles}


def timed_run(sampler, params, jobs, seed: int) -> dict:
  """One timed pass over `jobs`: tokens, wall, utilisation, peak KV."""
  tokens, wall, slot_steps, peak_kv, live_cap, preempt, best_cap = 0, 0.0, 0.0, 0, 0, 0, 0
  item = np.dtype(sampler.cache_dtype if sampler.cache_dtype != "bfloat16" else "float16")
  tok_bytes = kv_bytes_per_token(sampler.cfg, item.itemsize)
  decode_s, decode_steps, paths = 0.0, 0, set()
  for job, want in jobs:
    t0 = time.perf_counter()
    out = job(sampler, params, seed)
    wall += time.perf_counter() - t0
    decode_s += sampler.last_timing["decode_s"]
    decode_steps += sampler.last_timing["decode_steps"]
    made = int(out.lengths.sum())
    assert made == want, (made, want)  # every row runs to its length
    tokens += made
    t = sampler.last_timing
    paths.add(t["engine"] + (f" ({t['choice']})" if "choice" in t else ""))
    if t["engine"] == "continuous":
      slot_steps += t["slot_steps"]
      live_cap += t["slots"] * t["decode_steps"]
      # No schedule of these slots runs fewer steps than the call's longest row, or than
      # its tokens spread evenly over the slots: the most occupancy the call allows.
      best_cap += t["slots"] * max(int(out.lengths.max()), -(-made // t["slots"]))
      preempt += t["preemptions"]
      peak_kv = max(peak_kv, t["peak_pages"] * t["page_bytes"])
    else:
      sh = t["shapes"]
      slot_steps += sh.batch * t["decode_steps"]
      live_cap += sh.batch * t["decode_steps"]
      peak_kv = max(peak_kv, sh.batch * (sh.prompt + sh.new) * tok_bytes)
  return {"wall_s": wall, "tokens": tokens, "decode_s": decode_s, "decode_steps": decode_steps,
          "utilisation": tokens / slot_steps, "occupancy": tokens / live_cap,
          "occupancy_bound": tokens / best_cap if best_cap else None,
          "preemptions": preempt, "peak_kv": peak_kv, "paths": sorted(paths)}


def load_transformers(hf_dir: str, dtype: str = "float32", threads: int = 0):
  import torch
  import transformers
  torch.set_num_threads(threads or os.cpu_count())
  tdt = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
  return transformers.AutoModelForCausalLM.from_pretrained(hf_dir, dtype=tdt).eval()


def run_transformers(hf, calls, device: str = "cpu", repeats: int = 1) -> dict:
  """transformers `generate` of model `hf`, one left-padded batch per call, to the call's
  longest row; the fastest of `repeats` timed passes."""
  import torch
  hf.generation_config.eos_token_id = None
  kw = dict(do_sample=True, temperature=1.0, top_k=0, top_p=1.0, pad_token_id=0)

  def one(prompts, caps):
    P = max(len(p) for p in prompts)
    ids = torch.zeros((len(prompts), P), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, p in enumerate(prompts):
      ids[i, P - len(p):] = torch.tensor(p)
      mask[i, P - len(p):] = 1
    with torch.no_grad():
      hf.generate(ids.to(device), attention_mask=mask.to(device), max_new_tokens=max(caps), **kw)
    if device != "cpu":
      torch.cuda.synchronize()
  one([p[:8] for p in calls[0][0][:4]], [4] * 4)  # warm-up
  print(f"transformers {hf.dtype}: {len(calls)} calls, load {os.getloadavg()[0]:.1f}",
        flush=True)
  walls = []
  for _ in range(repeats):
    wall, tokens = 0.0, 0
    for prompts, caps in calls:
      t0 = time.perf_counter()
      one(prompts, caps)
      wall += time.perf_counter() - t0
      tokens += sum(caps)
    walls.append(wall)
  wall = min(walls)
  util = tokens / sum(len(c) * max(c) for _, c in calls)
  return {"tok_s": tokens / wall, "wall_s": wall, "tokens": tokens, "utilisation": util,
          "occupancy": util, "preemptions": None, "peak_kv": None, "compiles": None,
          "compile_s": None, "recompiles": None}


def table(rows: dict) -> str:
  head = (f"{'side':28s} {'tok/s':>9s} {'wall s':>8s} {'occup':>6s} {'pack':>6s} "
          f"{'preempt':>7s} {'peak KV MB':>10s} {'compiles':>8s} {'compile s':>9s}")
  lines = [head]
  for name, r in rows.items():
    kv = "-" if r["peak_kv"] is None else f"{r['peak_kv'] / 2**20:.2f}"
    comp = "-" if r["compiles"] is None else str(r["compiles"])
    cs = "-" if r["compile_s"] is None else f"{r['compile_s']:.1f}"
    pre = "-" if r["preemptions"] is None else str(r["preemptions"])
    lines.append(f"{name:28s} {r['tok_s']:9.1f} {r['wall_s']:8.2f} {100 * r['occupancy']:5.1f}%"
                 f" {100 * r['utilisation']:5.1f}% {pre:>7s} {kv:>10s} {comp:>8s} {cs:>9s}")
  return "\n".join(lines)


def main(argv):
  del argv
  import jax
  from spice_jax import models, parallel, sampling
  cfg = small_config() if _SHAPE.value == "small" else models.PRESETS[_SHAPE.value]
  mesh = parallel.make_mesh((1, 1, 1), devices=jax.devices()[:1])
  params = models.init_params(cfg, mesh, seed=0)
  oracle = _ORACLE.value
  job = lambda prompts, caps: call_job(prompts, caps, oracle, _MAX_NEW.value)
  calls = spice_workload(cfg.vocab_size, _DOCS.value, _ATTEMPTS.value, _PROMPT.value,
                         _ANSWERS.value, _QUESTION.value, _MAX_NEW.value, _CAP_MEDIAN.value,
                         _CAP_SIGMA.value)
  caps = [c for _, c in calls]
  print(f"model {cfg.family} d={cfg.d_model} L={cfg.n_layers} V={cfg.vocab_size}; "
        f"challenger {len(calls[0][0])} rows (D={_DOCS.value} x G={_ATTEMPTS.value}, "
        f"P={_PROMPT.value}), reasoner {len(calls[1][0])} rows (K={_ANSWERS.value}, "
        f"Q={_QUESTION.value}); caps median {np.median(caps[0] + caps[1]):.0f}, "
        f"mean {np.mean(caps[0] + caps[1]):.1f}, max {max(caps[0] + caps[1])}; "
        f"{'oracle caps' if oracle else f'uniform cap {_MAX_NEW.value}, hidden stops'}; "
        f"load {os.getloadavg()[0]:.1f}", flush=True)
  rows = {}
  mk = lambda side, **kw: sampling.Sampler(
      cfg, mesh, dtype=_DTYPE.value, engine=side,
      max_prompt_len=max(_PROMPT.value, _QUESTION.value), **kw)
  two_phase = [job(*c) for c in calls]
  static_name = f"spice_jax static {_DTYPE.value}"
  rows[static_name] = run_ours(mk("static"), params,
                               [job(*c) for c in batched(calls, _STATIC_BATCH.value)],
                               repeats=_REPEATS.value)
  budget = rows[static_name]["peak_kv"]
  modes = {"two-phase": two_phase}
  if _PIPELINED.value and oracle:
    modes["pipelined"] = [pipelined_job(calls, _ANSWERS.value)]
  for mode, jobs in modes.items():
    page_kw = {"page_size": _PAGE_SIZE.value} if _PAGE_SIZE.value else {}
    co = mk(_ENGINE.value, decode_slots=_SLOTS.value, window=_WINDOW.value, **page_kw)
    page = co._continuous.page_size
    co._continuous.kv_pages = 1 + budget // sampling.paged.page_bytes(cfg, page, co._cache_dt)
    print(f"KV budget {budget / 2**20:.2f} MB (static batch {_STATIC_BATCH.value}) = "
          f"{co._continuous.kv_pages - 1} pages of {page} tokens", flush=True)
    rows[f"continuous {mode} {_DTYPE.value}"] = run_ours(co, params, jobs,
                                                         repeats=_REPEATS.value)
    print(table(rows), flush=True)
  if _TRANSFORMERS.value:
    with tempfile.TemporaryDirectory(prefix="rollout_bench_") as tmp:
      models.export_hf(params, cfg, tmp)
      for dt in ("float32", "bfloat16"):
        hf = load_transformers(tmp, dt, _TORCH_THREADS.value)
        rows[f"transformers {dt}"] = run_transformers(
            hf, batched(calls, _STATIC_BATCH.value), repeats=_REPEATS.value)
  print(f"load {os.getloadavg()[0]:.1f}")
  print(table(rows))
  st = rows[static_name]
  for mode in modes:
    co = rows[f"continuous {mode} {_DTYPE.value}"]
    print(f"{mode} continuous/static tokens/s: {co['tok_s'] / st['tok_s']:.2f}x")
    bound = "-" if co["occupancy_bound"] is None else f"{100 * co['occupancy_bound']:.1f}%"
    print(f"{mode} slot occupancy: {100 * co['occupancy']:.1f}% (at most {bound} for these "
          f"rows and slots; packing {100 * co['utilisation']:.1f}%), preemptions "
          f"{co['preemptions']}; engine {_ENGINE.value} ran: {', '.join(co['paths'])}")
  best = max(modes, key=lambda m: rows[f"continuous {m} {_DTYPE.value}"]["tok_s"])
  co = rows[f"continuous {best} {_DTYPE.value}"]
  for dt in ("float32", "bfloat16"):
    if f"transformers {dt}" in rows:
      print(f"continuous ({best})/transformers {dt} tokens/s: "
            f"{co['tok_s'] / rows[f'transformers {dt}']['tok_s']:.2f}x")
  print(f"best continuous mode: {best}")
  print(f"continuous/static tokens/s: {co['tok_s'] / st['tok_s']:.2f}x")
  print(f"slot occupancy: {100 * co['occupancy']:.1f}%")


if __name__ == "__main__":
  app.run(main)
