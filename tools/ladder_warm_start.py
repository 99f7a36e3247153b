r"""The ladder world's warm start (experiments/world_ladder.py), and an optional short SPICE run.

  python tools/ladder_warm_start.py --out=runs/ladder_ws               # full warm start (4000 steps)
  python tools/ladder_warm_start.py --out=/tmp/lws --steps=100 --spice_iterations=4   # smoke

It runs the product's own path, as `spice_jax.experiment` does for world_ladder.py:
`data.ladder_build.build` with the experiment's `world` config, then `sft.train` with its
`sft` config (from scratch, tokenizer trained on the examples), cut after --steps if given.
The model files (`model.safetensors`, `config.json`, tokenizer files) and `fingerprint.json`
(losses, tokenizer and model hashes, per-tensor statistics: `world_warm_start.fingerprint`)
are copied to --out, with `timings.json` (wall seconds per stage) and `accuracy.json`: the
warm Reasoner's greedy accuracy on dev per depth (`dev_d1..dev_d6`), pooled over the unseen
depths 2..6 (`dev`) and on the seen facts of depth 1 (`dev_facts`) (the acceptance of
Amendment 1 reads depth 2 minus depth 6 and the facts there), and on its own warm-start
problems (`taught_d1`: facts, `taught_d2`: its depth-2 problems, `taught_d3`: their next step,
not taught: whether it fit what it was taught). With --spice_iterations=N
it then builds the corpus and runs N SPICE iterations of the `spice` variant from that warm
start (`experiment.run_variant`), writes the run's curriculum metrics and plot
(`experiment.curriculum_run`) and prints the last iteration's `curriculum/*` values: a check
that the pieces connect, not a result.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FILES = ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json")


def warm_accuracy(sft_dir: str, files, cfg, n_train: int = 100) -> dict:
  """Greedy accuracy of the warm start: dev per depth and pooled (`ladder.sets_of`: `dev`
  over depths 2..6, `dev_facts` depth 1), and `n_train` each of what it was taught:
  `taught_d1` (facts, `ladder.all_facts`, as the warm examples phrase them), `taught_d2`
  (depth 2 of its Reasoner-role warm documents) and `taught_d3` (their depth 3, not taught)."""
  import random
  from spice_jax.data import ladder, ladder_build
  from spice_jax.eval import heldout
  from spice_jax.eval.benchmarks import Item
  from spice_jax.models import model as model_lib
  items = ladder.eval_items(ladder_build.read_docs(files.dev_docs), "dev")
  w = cfg.world
  item = lambda doc_id, r, bench: Item(f"{doc_id}/d{r.difficulty}", r.question, str(r.value),
                                       "integer", bench)
  rng = random.Random(f"taught/{int(w.seed)}")
  facts = rng.sample(ladder.all_facts(), min(n_train, len(ladder.all_facts())))
  taught = [item(f"fact-{k}", ladder.fact_result(f, rng.choice(ladder.NAMES),
                                                 rng.choice(ladder.ITEMS)), "taught_d1")
            for k, f in enumerate(facts)]
  docs = [d for d in ladder.generate("warm", int(w.n_warm), int(w.seed), int(w.max_depth))
          if ladder.warm_role(d.prefix) == "reasoner"][:n_train]
  taught += [item(d.doc_id, d.results()[k - 1], f"taught_d{k}") for k in (2, 3) for d in docs]
  model = model_lib.load(sft_dir)
  return heldout.accuracy(model, items + taught,
                          max_new_tokens=int(cfg.spice.spice.reasoner_max_tokens),
                          sets_of=ladder.sets_of)


def run(out: str, workdir: str, steps: int, spice_iterations: int) -> dict:
  """Warm start (and optional SPICE run) in `workdir`; model files and timings to `out`."""
  from experiments import world_ladder
  from spice_jax import experiment, sft
  from spice_jax.data import ladder_build
  from tools import world_warm_start
  cfg = world_ladder.experiment_config()
  times = {}
  t = time.perf_counter()
  files = experiment.build_world(cfg, workdir)
  times["world"] = time.perf_counter() - t
  sft_dir = os.path.join(workdir, "sft")
  c = experiment._apply(cfg.sft, {"data.examples": files.warm_examples})
  if steps > 0:
    c = experiment._apply(c, {"train.steps": steps})
  t = time.perf_counter()
  sft.train(c, sft_dir)
  times["warm_start"] = time.perf_counter() - t
  os.makedirs(out, exist_ok=True)
  for name in FILES:
    shutil.copyfile(os.path.join(sft_dir, name), os.path.join(out, name))
  with open(os.path.join(out, "fingerprint.json"), "w") as f:
    json.dump(dict(world_warm_start.fingerprint(sft_dir), steps=int(c.train.steps)), f, indent=1)
  t = time.perf_counter()
  acc = warm_accuracy(sft_dir, files, cfg)
  times["accuracy"] = time.perf_counter() - t
  with open(os.path.join(out, "accuracy.json"), "w") as f:
    json.dump(acc, f, indent=1, sort_keys=True)
  last = {}
  if spice_iterations > 0:
    t = time.perf_counter()
    corpus_dir = experiment.build_corpus(files, sft_dir, workdir,
                                         int(cfg.spice.corpus.max_doc_tokens))
    times["corpus"] = time.perf_counter() - t
    cfg.spice.train.iterations = spice_iterations
    cfg.spice.train.checkpoint_every = spice_iterations
    run_dir, times["spice"] = experiment.run_variant(cfg, "spice", 0, sft_dir, corpus_dir,
                                                     workdir)
    recs = experiment.curriculum_run(run_dir, ladder_build.read_docs(files.spice_docs),
                                     experiment.world_kind(cfg).depth_of,
                                     int(cfg.world.max_depth))
    last = recs[-1] if recs else {}
    for name in ("metrics.jsonl", "curriculum.jsonl", os.path.join("plots", "curriculum.png")):
      if os.path.exists(os.path.join(run_dir, name)):
        shutil.copyfile(os.path.join(run_dir, name),
                        os.path.join(out, "spice_" + os.path.basename(name)))
  with open(os.path.join(out, "timings.json"), "w") as f:
    json.dump(times, f, indent=1)
  return {"times": times, "accuracy": acc, "curriculum": last}


def main(argv):
  del argv
  os.environ.setdefault("JAX_PLATFORMS", "cpu")
  with tempfile.TemporaryDirectory() as tmp:
    res = run(os.path.abspath(_OUT.value), _KEEP_DIR.value or tmp, _STEPS.value,
              _SPICE_ITERATIONS.value)
  print(json.dumps(res, indent=1))
  print(f"warm start written to {_OUT.value}")


if __name__ == "__main__":
  _OUT = flags.DEFINE_string("out", None, "Where the model files, fingerprint and timings go.",
                             required=True)
  _KEEP_DIR = flags.DEFINE_string("keep_dir", "", "Keep the world/sft/run files here (default: "
                                 "a temporary directory).")
  _STEPS = flags.DEFINE_integer("steps", 0, "Cut the warm start after this many steps "
                                "(0: the config's, world_ladder.WARM_STEPS).")
  _SPICE_ITERATIONS = flags.DEFINE_integer("spice_iterations", 0,
                                           "Then run this many SPICE iterations (0: none).")
  app.run(main)
