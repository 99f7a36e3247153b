r"""One command for the world experiment: world -> warm start -> SPICE runs -> evaluation ->
co-evolution probe -> Markdown report + PNG plots.

  python -m spice_jax.experiment --config=experiments/world_small.py:experiment --workdir=runs/world
  python -m spice_jax.experiment --config=experiments/world_small.py:demo --workdir=runs/demo

It only sequences the product's own paths: `data.world_build` + `data.corpus.build` (the
corpus), `sft.train` (the warm start), `train.train` with one config per variant and seed,
`eval.heldout` (held-out Reasoner accuracy per checkpoint, graded by the generator) and
`eval.coevolution` (the probe). Each stage is skipped when its output is already there (world/
files, the warm-start model, the built corpus, finished runs), so
re-running resumes. Library INFO logs go to `<workdir>/log.txt`; the terminal shows progress
bars and summary lines. The last line printed is the headline, accuracy on the held-out
*test* set (problems whose quantities no role has seen, `data.world.heldout_part`):
`held-out reasoner accuracy on unseen problems: <start>% -> <end>% (lr=0 control: <control>%)`;
the lines before it give the dev set (used for every design choice) and train_renamed (the
corpus's own problems renamed: fitting, not generalisation).

`cfg.warm_start` (optional): a model directory to use as the warm start instead of training
one (tests/world/warm_start/, made by tools/world_warm_start.py with the same configs).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from typing import Any, Callable, NamedTuple

from absl import app, logging

# The trainer's --config / --workdir flags (defined when spice_jax.train is imported) are
# this command's too: the experiment runs train in-process.
from spice_jax.train import _CONFIG, _WORKDIR


def _apply(config, overrides):
  """A copy of `config` with `overrides` (nested dicts, or "a.b" keys) merged in."""
  c = config.copy_and_resolve_references()

  def merge(node, over, where):
    for key, value in dict(over).items():
      *path, leaf = key.split(".")
      n = node
      for p in path:
        n = n[p]
      if hasattr(value, "items") and hasattr(n[leaf], "items"):
        merge(n[leaf], value, f"{where}{key}.")
      else:
        n[leaf] = value
  merge(c, overrides, "")
  return c


def _done(path: str) -> bool:
  return os.path.exists(path)


def _mark(path: str, payload) -> None:
  with open(path, "w") as f:
    json.dump(payload, f, indent=2)


class WorldKind(NamedTuple):
  """What the experiment needs of a world. builder: has `build` and `read_docs`;
  eval_items(docs, set) -> graded Items; depth_of(doc, gold) -> depth | None (None for a
  world without depths); sets_of(benchmark) -> the held-out sets that pool it
  (`eval.heldout._by_set`; None: the default, the benchmark's prefix)."""
  builder: Any
  eval_items: Callable
  depth_of: Callable | None
  sets_of: Callable | None


def world_kind(cfg) -> WorldKind:
  """The `WorldKind` of `cfg.world.kind`: "world" (`data.world_build`, the default) or
  "ladder" (`data.ladder_build`, depths 1..max_depth; depth 1 pooled apart, `ladder.sets_of`)."""
  kind = cfg.world.get("kind", "world")
  if kind == "world":
    from spice_jax.data import world, world_build
    return WorldKind(world_build, world.eval_items, None, None)
  if kind == "ladder":
    from spice_jax.data import ladder, ladder_build
    return WorldKind(ladder_build, ladder.eval_items, ladder.depth_of, ladder.sets_of)
  raise ValueError(f"config.world.kind: {kind!r}, expected 'world' or 'ladder'")


def build_world(cfg, workdir: str):
  from spice_jax.data import world_build
  w = cfg.world
  files = world_build.WorldFiles(*(os.path.join(workdir, "world", f) for f in (
      "warm_examples.jsonl", "spice_docs.jsonl", "dev_docs.jsonl", "test_docs.jsonl",
      "train_renamed_docs.jsonl")))
  if all(_done(p) for p in dataclasses.astuple(files)):
    return files                      # written by an earlier (or a concurrent) invocation
  extra = {k: v for k, v in w.items() if k not in ("kind", "n_warm", "n_spice", "n_renamed",
                                                   "seed")}
  return world_kind(cfg)[0].build(os.path.join(workdir, "world"), n_warm=w.n_warm,
                                  n_spice=w.n_spice, n_renamed=w.n_renamed, seed=w.seed,
                                  **extra)


def curriculum_run(run_dir: str, docs, depth_of, max_depth: int) -> list:
  """Per-iteration curriculum metrics of a run from its audit trail (`eval.curriculum`):
  written to <run>/curriculum.jsonl and plotted to <run>/plots/curriculum.png."""
  from spice_jax.eval import curriculum
  recs = curriculum.from_audit(os.path.join(run_dir, "audit", "tasks.jsonl"),
                               {d.doc_id: d for d in docs}, depth_of, max_depth)
  curriculum.write_jsonl(recs, os.path.join(run_dir, "curriculum.jsonl"))
  curriculum.plot(recs, os.path.join(run_dir, "plots", "curriculum.png"))
  return recs


def build_corpus(files, sft_dir: str, workdir: str, max_doc_tokens: int = 128) -> str:
  from spice_jax.data import corpus as corpus_lib
  out = os.path.join(workdir, "corpus")
  marker = os.path.join(out, "BUILD_OK")
  if _done(marker):
    return out
  spec = corpus_lib.SourceSpec(name="world", paths=(files.spice_docs,), text_field="text",
                               id_field="id")
  corpus_lib.build([spec], out, sft_dir, max_doc_tokens=max_doc_tokens, progress=False)
  _mark(marker, {"source": files.spice_docs})
  return out


def run_variant(cfg, name: str, seed: int, sft_dir: str, corpus_dir: str, workdir: str):
  """One SPICE run (train.train) of variant `name`; returns (run dir, wall seconds)."""
  from spice_jax import train as train_lib
  run_dir = os.path.join(workdir, "runs", f"{name}_s{seed}")
  config = _apply(cfg.spice, cfg.variants[name].to_dict())
  config = _apply(config, {"seed": seed, "model.source": sft_dir, "corpus.data_dir": corpus_dir})
  t0 = time.perf_counter()
  train_lib.train(config, run_dir)
  return run_dir, time.perf_counter() - t0


def evaluate_run(run_dir: str, items, cfg, sets_of=None) -> dict:
  """Held-out accuracy per checkpoint (`eval.heldout.run_curve`, sets pooled by `sets_of`),
  cached in <run>/heldout.json."""
  from spice_jax.eval import heldout
  path = os.path.join(run_dir, "heldout.json")
  if _done(path):
    with open(path) as f:
      return {int(k): v for k, v in json.load(f).items()}
  kw = {} if sets_of is None else {"sets_of": sets_of}
  curve = heldout.run_curve(run_dir, items, max_new_tokens=cfg.spice.spice.reasoner_max_tokens,
                            **kw)
  _mark(path, curve)
  return curve


def probe_run(run_dir: str, eval_docs, cfg) -> list:
  """The co-evolution probe of one run on the first `cfg.probe.num_docs` of `eval_docs`
  (the dev set's documents: a diagnostic, never the reported test set)."""
  from spice_jax.eval import coevolution
  out_dir = os.path.join(run_dir, "probe")
  if _done(os.path.join(out_dir, "coevolution.json")):
    with open(os.path.join(out_dir, "coevolution.json")) as f:
      return [coevolution.ProbeRow(**r) for r in json.load(f)["rows"]]
  steps = coevolution.checkpoint_steps(run_dir)
  load, gen, solve, _ = coevolution.hooks_from_workdir(
      run_dir, num_answers=cfg.probe.num_answers, attempts=cfg.probe.attempts,
      seed=cfg.probe.seed, first_step=steps[0])
  docs = [{"text": d.text, "doc_id": d.doc_id} for d in eval_docs[:cfg.probe.num_docs]]
  rows = coevolution.probe(steps, docs, load_params=load, generate_tasks=gen, solve=solve)
  coevolution.write(rows, out_dir, meta={"run": run_dir, "seed": cfg.probe.seed})
  return rows


def run(cfg, workdir: str, command: str = "") -> dict:
  """Runs every stage (resuming finished ones) and writes report.md; returns the summary.
  command: how it was launched (the accuracy plot's title names it)."""
  from spice_jax import sft as sft_lib
  from spice_jax import report
  builder, eval_items, depth_of, sets_of = world_kind(cfg)
  os.makedirs(workdir, exist_ok=True)
  from spice_jax.utils import runtime
  # Every run compiles the same sampler/update shapes: a disk cache makes that once.
  runtime.enable_compilation_cache(os.path.join(workdir, "xla_cache"))
  times = {}
  t0 = time.perf_counter()
  files = build_world(cfg, workdir)
  sft_dir = cfg.get("warm_start") or os.path.join(workdir, "sft")
  if cfg.get("warm_start") and not _done(os.path.join(sft_dir, "model.safetensors")):
    raise FileNotFoundError(f"config.warm_start: {sft_dir!r} has no model.safetensors "
                            "(make it with tools/world_warm_start.py)")
  if not _done(os.path.join(sft_dir, "model.safetensors")):
    t = time.perf_counter()
    sft_lib.train(_apply(cfg.sft, {"data.examples": files.warm_examples}), sft_dir)
    times["warm start"] = time.perf_counter() - t
  corpus_dir = build_corpus(files, sft_dir, workdir, int(cfg.spice.corpus.max_doc_tokens))
  dev_docs = builder.read_docs(files.dev_docs)
  items = (eval_items(dev_docs, "dev")
           + eval_items(builder.read_docs(files.test_docs), "test")
           + eval_items(builder.read_docs(files.train_renamed_docs), "train_renamed"))
  spice_docs = builder.read_docs(files.spice_docs) if depth_of else []
  curves, runs = {}, {}
  for seed in cfg.seeds:      # seed-major: every variant's first seed comes first
    for name in cfg.order:
      if name not in cfg.main and seed not in cfg.ablation_seeds:
        continue
      run_dir, secs = run_variant(cfg, name, seed, sft_dir, corpus_dir, workdir)
      times[f"{name} s{seed}"] = secs
      t = time.perf_counter()
      curves[(name, seed)] = evaluate_run(run_dir, items, cfg, sets_of)
      times[f"{name} s{seed} eval"] = time.perf_counter() - t
      runs[(name, seed)] = run_dir
      if depth_of is not None:
        curriculum_run(run_dir, spice_docs, depth_of, int(cfg.world.max_depth))
  probes = {}
  for seed in cfg.probe.seeds:
    t = time.perf_counter()
    probes[seed] = probe_run(runs[("spice", seed)], dev_docs, cfg)
    times[f"probe s{seed}"] = time.perf_counter() - t
  times["total"] = time.perf_counter() - t0
  max_depth, grade_gold, sets = 0, None, None  # world: no depths, report's defaults
  if depth_of is not None:
    from spice_jax.data import ladder
    max_depth, grade_gold, sets = int(cfg.world.max_depth), ladder.gold_is_true, ladder.SETS
  return report.write(workdir, curves=curves, runs=runs, probes=probes, times=times,
                      n_items=len(items), command=command, max_depth=max_depth,
                      grade_gold=grade_gold, sets=sets)


def _log_to_file(workdir: str) -> None:
  """absl/orbax/TFDS INFO chatter -> <workdir>/log.txt; the terminal keeps warnings."""
  from spice_jax.utils import cli
  cli.log_to_file(workdir)


def main(argv):
  del argv
  if _CONFIG.value is None or not _WORKDIR.value:
    raise app.UsageError("--config and --workdir are required")
  workdir = os.path.abspath(_WORKDIR.value)
  _log_to_file(workdir)
  os.environ.setdefault("SPICE_PROGRESS", "1")
  config_arg = next((a for a in sys.argv[1:] if a.startswith("--config=")), "")
  summary = run(_CONFIG.value, workdir, command=f"spice_jax.experiment {config_arg}".strip())
  print(summary["table"])
  print(f"\nreport: {os.path.join(workdir, 'report.md')}  (logs: {workdir}/log.txt)")
  print("\n".join(summary["lines"]))
  sys.stdout.flush()


if __name__ == "__main__":
  app.run(main)
