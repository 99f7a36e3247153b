r"""Evaluates models on the paper's benchmarks (SPEC §8) from local files.

  python -m spice_jax.evaluate --model=smollm2-135m-instruct,runs/demo \
      --benchmarks=all --data_dir=/data/benchmarks --out=runs/eval

--model takes presets, HF directories, .gguf files and training run directories
(checkpoints: `run_dir@step` or `--step` picks one, default the latest), comma-separated;
they appear side by side in one table (`--append` adds rows to an existing table). Writes, under --out:
  results.md / results.csv / results.json   per-benchmark accuracy, math avg, general avg,
                                            Overall (one row per model)
  results.png                               grouped bar chart
  <model label>/outputs.jsonl               every answer (prompt size, response, extracted
                                            answer, verdict)
  <model label>/summary.json                accuracy + throughput of that model
Protocol: zero-shot, the Reasoner template, greedy; AIME'24/'25 mean of --aime_samples
samples at --aime_temperature. Nothing is downloaded; see third_party/benchmarks/README.md.

The co-evolution probe (paper Fig. 3) over a run's checkpoints:
  python -m spice_jax.evaluate --coevolution_workdir=runs/demo --coevolution_fixed_step=2 \
      --out=runs/demo/coevolution
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from typing import Sequence

from absl import app, flags, logging

from spice_jax.errors import SpiceError
from spice_jax.eval import benchmarks as bench_lib
from spice_jax.eval import coevolution as coevo_lib
from spice_jax.eval import runner as runner_lib
from spice_jax.eval import scoring

_MODEL = flags.DEFINE_list("model", [], "Models: presets, HF dirs, .gguf files or run dirs "
                           "(run_dir@step for a given checkpoint).")
_LABELS = flags.DEFINE_list("model_labels", [], "Table labels, one per --model (optional).")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step of run-directory models (latest).")
_TOKENIZER = flags.DEFINE_string("tokenizer", None,
                                 "Tokenizer (HF dir / .gguf / .model) for models that have "
                                 "none (e.g. an HF dir without tokenizer.json).")
_BENCHMARKS = flags.DEFINE_list("benchmarks", ["all"],
                                "Benchmarks or groups: all, math, general, "
                                + ", ".join(bench_lib.BENCHMARKS))
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Directory with the benchmark files.")
_FILES = flags.DEFINE_list("benchmark_files", [],
                           "Explicit files: name=path[;path...] (overrides --data_dir).")
_OUT = flags.DEFINE_string("out", None, "Output directory.")
_APPEND = flags.DEFINE_bool("append", False,
                            "Keep the rows of models already in --out/results.json.")
_LIMIT = flags.DEFINE_integer("limit", 0, "First N items per benchmark (0 = all).")
_MAX_NEW = flags.DEFINE_integer("max_new_tokens", 4096, "Generation budget per answer.")
_BATCH = flags.DEFINE_integer("batch_size", 32, "Answers per sampler call.")
_TEMPLATE = flags.DEFINE_enum("template", "auto", ["auto", "chat", "qwen3", "plain"],
                              "Reasoner layout; auto = the run's template for run dirs, else "
                              "the model's chat template, else plain.")
_TEMPLATE_DIR = flags.DEFINE_string("template_dir", None, "User prompt template directory.")
_AIME_N = flags.DEFINE_integer("aime_samples", 32, "Samples per AIME problem.")
_AIME_T = flags.DEFINE_float("aime_temperature", 0.6, "AIME sampling temperature.")
_AIME_P = flags.DEFINE_float("aime_top_p", 1.0, "AIME nucleus mass.")
_SEED = flags.DEFINE_integer("seed", 0, "Sampling seed (AIME) and GPQA option-shuffle seed.")
_DTYPE = flags.DEFINE_enum("dtype", "float32", ["float32", "bfloat16"], "Compute dtype.")
_WORKERS = flags.DEFINE_integer("verifier_workers", 0, "math-verify processes (0 = auto).")
_VTIMEOUT = flags.DEFINE_float("verifier_timeout", 5.0, "Seconds per verification.")
_PROGRESS = flags.DEFINE_bool("progress", True, "Show a progress bar.")
_XLA_CACHE = flags.DEFINE_string(
    "compilation_cache_dir", None, "Persistent XLA compilation cache: compiled sampler "
    "programs are reused by later runs (default ~/.cache/spice_jax/xla; '' = off).")

_CO_WORKDIR = flags.DEFINE_string("coevolution_workdir", None,
                                  "Run directory: run the co-evolution probe on its checkpoints.")
_CO_STEPS = flags.DEFINE_list("coevolution_steps", [], "Steps to probe (default: all saved).")
_CO_FIXED = flags.DEFINE_integer("coevolution_fixed_step", None,
                                 "The fixed step s0 (default: the first probed step).")
_CO_DOCS = flags.DEFINE_string("coevolution_documents", None,
                               "Document pool: .jsonl with 'text' or .txt (blank-line "
                               "separated); default: passages of the run's corpus.")
_CO_NDOCS = flags.DEFINE_integer("coevolution_num_docs", 32, "Documents in the fixed pool.")
_CO_K = flags.DEFINE_integer("coevolution_answers", 8, "Reasoner answers per task (K).")
_CO_ATTEMPTS = flags.DEFINE_integer("coevolution_attempts", 0,
                                    "Challenger attempts per document (0 = the run's G).")
_CO_MAX_NEW = flags.DEFINE_integer("coevolution_max_new_tokens", 0,
                                   "Token budget of both roles (0 = the run's).")


class EvalError(SpiceError, ValueError):
  pass


# ------------------------------------------------------------------------- selection

def select_benchmarks(names: Sequence[str]) -> list[str]:
  """Registry names from a list of names / aliases / groups (all, math, general)."""
  out: list[str] = []
  for n in names:
    n = n.strip()
    if not n:
      continue
    if n.lower() == "all":
      out += list(bench_lib.BENCHMARKS)
    elif n.lower() == "math":
      out += list(bench_lib.MATH_BENCHMARKS)
    elif n.lower() == "general":
      out += list(bench_lib.GENERAL_BENCHMARKS)
    else:
      out.append(bench_lib.get(n).name)
  return list(dict.fromkeys(out))


def parse_files(specs: Sequence[str]) -> dict[str, list[str]]:
  """`name=path[;path]` entries -> {registry name: [paths]}."""
  out: dict[str, list[str]] = {}
  for s in specs:
    if "=" not in s:
      raise EvalError(f"--benchmark_files entry {s!r}: expected name=path")
    name, paths = s.split("=", 1)
    out[bench_lib.get(name).name] = [p for p in paths.split(";") if p]
  return out


def load_items(benchmarks: Sequence[str], *, data_dir: str | None = None,
               files: dict[str, list[str]] | None = None, limit: int | None = None,
               seed: int = 0) -> list[bench_lib.Item]:
  """All items of `benchmarks` (explicit files first, else found under data_dir)."""
  files = files or {}
  items: list[bench_lib.Item] = []
  for b in benchmarks:
    if b in files:
      got = bench_lib.load_file(b, files[b], seed=seed, limit=limit)
    elif data_dir:
      got = bench_lib.load(b, data_dir, seed=seed, limit=limit)
    else:
      raise EvalError(f"{b}: no --data_dir and no --benchmark_files entry")
    logging.info("benchmark %s: %d items", b, len(got))
    items += got
  return items


# ------------------------------------------------------------------------- models

def is_run_dir(source: str) -> bool:
  """A training run / checkpoint directory (not an HF model directory)."""
  if not os.path.isdir(source):
    return False
  if os.path.isdir(os.path.join(source, "checkpoints")):   # a trainer workdir
    return True
  return (not os.path.exists(os.path.join(source, "config.json"))   # HF dirs have one
          and any(d.isdigit() for d in os.listdir(source)))


def split_step(source: str) -> tuple[str, int | None]:
  """`runs/x@200` -> ("runs/x", 200) when runs/x is a run directory; else (source, None)."""
  m = re.fullmatch(r"(.+)@(\d+)", source)
  if m and is_run_dir(m.group(1)):
    return m.group(1), int(m.group(2))
  return source, None


def load_model(source: str, *, step: int | None = None, mesh=None, dtype: str = "float32",
               tokenizer: str | None = None):
  """(Model, default template, label) for a preset, HF dir, .gguf file or run directory.

  A run directory may carry its step as `dir@step` (overrides `step`), so several
  checkpoints of one run can be compared in one table.
  """
  from spice_jax import models
  template = None
  source, at_step = split_step(source)
  step = at_step if at_step is not None else step
  if is_run_dir(source):
    from spice_jax.utils import checkpointing
    model, step = checkpointing.load_params(source, step, mesh=mesh)
    _, meta, _ = checkpointing.read_meta(source, step)
    spice_section = (meta.get("config") or {}).get("spice", {})
    template = spice_section.get("chat_layout", spice_section.get("reasoner_template"))
    label = f"{os.path.basename(os.path.normpath(source))}@{step}"
  else:
    model = models.load(source, mesh=mesh, dtype=dtype)
    label = os.path.basename(os.path.normpath(source)) if os.sep in source else source
    label = re.sub(r"\.gguf$", "", label)
  if tokenizer and model.tokenizer is None:
    from spice_jax.models import tokenizer as tok_lib
    model.tokenizer = tok_lib.load(tokenizer)
  if model.tokenizer is None:
    raise EvalError(f"model {source!r} has no tokenizer; pass --tokenizer=<HF dir|.gguf|.model>")
  if model.tokenizer.vocab_size > model.config.vocab_size:
    raise EvalError(f"model {source!r}: tokenizer vocabulary ({model.tokenizer.vocab_size}) is "
                    f"larger than the model's ({model.config.vocab_size})")
  if template is None:
    template = "chat" if model.tokenizer.chat_template else "plain"
  return model, template, label


def engine_settings(source: str):
  """The sampling engine settings for `source`: a run directory's `config.engine` (as it
  trained), else the defaults (`sampling.config.EngineConfig`)."""
  from spice_jax.sampling.config import EngineConfig
  source, at_step = split_step(source)
  if not is_run_dir(source):
    return EngineConfig()
  from spice_jax.utils import checkpointing
  meta = checkpointing.read_meta(source, at_step)[1]
  return EngineConfig.from_config((meta.get("config") or {}).get("engine", {}))


def _unique_labels(labels: Sequence[str]) -> list[str]:
  seen: dict[str, int] = {}
  out = []
  for lab in labels:
    k = seen.get(lab, 0)
    seen[lab] = k + 1
    out.append(lab if k == 0 else f"{lab}#{k + 1}")
  return out


def _safe(label: str) -> str:
  return re.sub(r"[^A-Za-z0-9_.@#-]+", "_", label)


# ------------------------------------------------------------------------- evaluation

def evaluate_model(model, label: str, items: Sequence[bench_lib.Item],
                   protocol: runner_lib.Protocol, out: str, *, pool=None,
                   progress: bool = False, engine=None) -> runner_lib.EvalResult:
  """Runs `items` on a loaded model and writes `<out>/<label>/outputs.jsonl` + summary.
  engine: sampling engine settings (`sampling.config.EngineConfig`; None = defaults)."""
  from spice_jax import sampling

  def generate_fn(prompts, **kw):
    return sampling.generate(model, prompts, settings=engine, **kw)

  res = runner_lib.run_items(generate_fn, model.tokenizer, items, protocol,
                             max_seq_len=model.config.max_seq_len, pool=pool,
                             progress=progress, desc=label)
  d = os.path.join(out, _safe(label))
  os.makedirs(d, exist_ok=True)
  with open(os.path.join(d, "outputs.jsonl"), "w", encoding="utf-8") as f:
    for r in res.records:
      f.write(json.dumps(dict(r, model=label), ensure_ascii=False) + "\n")
  with open(os.path.join(d, "summary.json"), "w", encoding="utf-8") as f:
    json.dump({"model": label, "source": model.source, "template": protocol.template,
               "accuracy": res.accuracy, "stats": res.stats}, f, indent=2)
  return res


def write_results(results: dict, meta: dict, out: str, *, append: bool = False) -> dict:
  """Tables + plot for {label: accuracy dict}; `append` merges earlier rows in out."""
  prev = os.path.join(out, "results.json")
  if append and os.path.exists(prev):
    with open(prev, encoding="utf-8") as f:
      old = json.load(f)
    merged = dict(old.get("results", {}))
    merged.update(results)
    old_meta = dict(old.get("meta", {}))
    old_meta.setdefault("models", {}).update(meta.get("models", {}))
    meta = dict(meta, models=old_meta["models"])
    results = merged
  paths = scoring.write_tables(results, out, meta=meta)
  paths["png"] = scoring.plot_results(results, os.path.join(out, "results.png"))
  return paths


def run_eval(sources: Sequence[str], benchmarks: Sequence[str], out: str, *,
             data_dir: str | None = None, files: dict | None = None,
             labels: Sequence[str] = (), step: int | None = None, limit: int | None = None,
             max_new_tokens: int = 4096, batch_size: int = 32, template: str = "auto",
             template_dir: str | None = None, aime_samples: int = 32,
             aime_temperature: float = 0.6, aime_top_p: float = 1.0, seed: int = 0,
             dtype: str = "float32", tokenizer: str | None = None, verifier_workers: int = 0,
             verifier_timeout: float = 5.0, append: bool = False,
             progress: bool = False) -> dict:
  """The CLI's work as a function. Returns {"results", "stats", "paths", "table"}."""
  from spice_jax import parallel
  from spice_jax.spice import verify as verify_lib
  if not sources:
    raise EvalError("no --model given")
  if labels and len(labels) != len(sources):
    raise EvalError(f"--model_labels has {len(labels)} entries for {len(sources)} models")
  names = select_benchmarks(benchmarks)
  items = load_items(names, data_dir=data_dir, files=files, limit=limit, seed=seed)
  mesh = parallel.make_mesh((-1, 1, 1))
  results: dict[str, dict] = {}
  stats: dict[str, dict] = {}
  labs: list[str] = []
  with verify_lib.VerifierPool(verifier_workers or None, timeout=verifier_timeout) as pool:
    for k, src in enumerate(sources):
      t0 = time.perf_counter()
      model, auto_template, label = load_model(src, step=step, mesh=mesh, dtype=dtype,
                                               tokenizer=tokenizer)
      load_s = time.perf_counter() - t0
      label = labels[k] if labels else label
      label = _unique_labels(labs + [label])[-1]
      labs.append(label)
      protocol = runner_lib.paper_protocol(
          max_new_tokens=max_new_tokens, template=auto_template if template == "auto"
          else template, aime_samples=aime_samples, aime_temperature=aime_temperature,
          aime_top_p=aime_top_p, batch_size=batch_size, seed=seed, template_dir=template_dir)
      logging.info("evaluating %s (%s) on %d items, template %s", label, src, len(items),
                   protocol.template)
      res = evaluate_model(model, label, items, protocol, out, pool=pool, progress=progress,
                           engine=engine_settings(src))
      results[label] = res.accuracy
      stats[label] = dict(res.stats, load_seconds=load_s, source=src,
                          template=protocol.template)
      logging.info("%s: overall %s, %.2f items/s", label, res.accuracy.get("overall"),
                   res.stats["items_per_s"])
      del model
  meta = {"models": stats, "benchmarks": names, "limit": limit,
          "max_new_tokens": max_new_tokens, "aime_samples": aime_samples,
          "aime_temperature": aime_temperature, "seed": seed}
  paths = write_results(results, meta, out, append=append)
  with open(paths["md"], encoding="utf-8") as f:
    table = f.read()
  return {"results": results, "stats": stats, "paths": paths, "table": table}


def run_coevolution(workdir: str, out: str, *, steps: Sequence[int] = (),
                    fixed_step: int | None = None, documents: str | None = None,
                    num_docs: int = 32, num_answers: int = 8, attempts: int = 0,
                    max_new_tokens: int = 0, seed: int = 0, verifier_workers: int = 0,
                    verifier_timeout: float = 5.0) -> dict[str, str]:
  """The co-evolution probe over the checkpoints of run `workdir`; writes its table/plot."""
  from spice_jax import parallel
  from spice_jax.spice import verify as verify_lib
  mesh = parallel.make_mesh((-1, 1, 1))
  all_steps = sorted(int(s) for s in steps) or coevo_lib.checkpoint_steps(workdir)
  if not all_steps:
    raise EvalError(f"{workdir}: no checkpoints to probe")
  fixed = all_steps[0] if fixed_step is None else int(fixed_step)
  with verify_lib.VerifierPool(verifier_workers or None, timeout=verifier_timeout) as pool:
    load_params, generate_tasks, solve, documents_fn = coevo_lib.hooks_from_workdir(
        workdir, mesh=mesh, num_answers=num_answers, max_new_tokens=max_new_tokens or None,
        attempts=attempts or None, seed=seed, pool=pool, first_step=fixed)
    docs = (coevo_lib.read_documents(documents, num_docs) if documents
            else documents_fn(num_docs))
    rows = coevo_lib.probe(all_steps, docs, load_params=load_params,
                           generate_tasks=generate_tasks, solve=solve, fixed_step=fixed)
  return coevo_lib.write(rows, out, fixed_step=fixed,
                         meta={"workdir": workdir, "documents": len(docs),
                               "answers": num_answers, "seed": seed})


def main(argv):
  del argv
  if not _OUT.value:
    raise app.UsageError("--out is required")
  out = os.path.abspath(_OUT.value)
  from spice_jax.utils import cli
  log = cli.log_to_file(out)           # library INFO -> log.txt; the terminal keeps the bars
  from spice_jax.utils import runtime
  runtime.enable_compilation_cache(_XLA_CACHE.value)
  try:
    if _CO_WORKDIR.value:
      paths = run_coevolution(
          _CO_WORKDIR.value, out, steps=[int(s) for s in _CO_STEPS.value],
          fixed_step=_CO_FIXED.value, documents=_CO_DOCS.value, num_docs=_CO_NDOCS.value,
          num_answers=_CO_K.value, attempts=_CO_ATTEMPTS.value,
          max_new_tokens=_CO_MAX_NEW.value, seed=_SEED.value,
          verifier_workers=_WORKERS.value, verifier_timeout=_VTIMEOUT.value)
      with open(paths["md"], encoding="utf-8") as f:
        print(f.read())
      print(f"co-evolution table: {paths['md']}\nplot: {paths['png']}")
      if not _MODEL.value:
        return
    res = run_eval(
        _MODEL.value, _BENCHMARKS.value, out, data_dir=_DATA_DIR.value,
        files=parse_files(_FILES.value), labels=_LABELS.value, step=_STEP.value,
        limit=_LIMIT.value or None, max_new_tokens=_MAX_NEW.value, batch_size=_BATCH.value,
        template=_TEMPLATE.value, template_dir=_TEMPLATE_DIR.value,
        aime_samples=_AIME_N.value, aime_temperature=_AIME_T.value, aime_top_p=_AIME_P.value,
        seed=_SEED.value, dtype=_DTYPE.value, tokenizer=_TOKENIZER.value,
        verifier_workers=_WORKERS.value, verifier_timeout=_VTIMEOUT.value,
        append=_APPEND.value, progress=_PROGRESS.value)
  except (EvalError, bench_lib.BenchmarkError, FileNotFoundError) as e:
    cli.fail(e)
  print(res["table"])
  for label, st in res["stats"].items():
    print(f"{label}: {st['items']:.0f} items, {st['answers']:.0f} answers in "
          f"{st['seconds']:.1f}s -> {st['items_per_s']:.3f} items/s, "
          f"{st['generated_tokens_per_s']:.1f} generated tokens/s (model load "
          f"{st['load_seconds']:.1f}s)")
  print("outputs:", ", ".join(f"{k}={v}" for k, v in res["paths"].items()), f"log={log}")


if __name__ == "__main__":
  app.run(main)
