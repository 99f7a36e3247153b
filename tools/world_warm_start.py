r"""Produces the world's committed warm start (tests/world/warm_start/) and its fingerprint.

  python tools/world_warm_start.py                       # the full warm start (~6 min, 2 cores)
  python tools/world_warm_start.py --prefix_only --out=/tmp/ws   # the first PREFIX steps only

It runs the product's own path, exactly as `spice_jax.experiment` does for
`experiments/world_small.py`: `data.world_build.build` with the experiment's `world` config,
then `sft.train` with its `sft` config (2000 steps from scratch, tokenizer trained on the
examples). The run is cut after PREFIX steps (the optimizer's schedule is constant after its
30 warmup steps and batch i is a pure function of i, so a run resumed from step PREFIX is the
uninterrupted run): the model exported there is fingerprinted (per-tensor statistics and the
losses logged so far, `fingerprint.json`), then training resumes to the end and the final
model (`model.safetensors`, `config.json`, tokenizer files) is copied to --out.
`tests/world/test_warm_start.py` re-runs the prefix and compares it with the fingerprint, so
the committed weights are checked to come from this script and this code.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PREFIX = 40
FILES = ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json")
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "tests", "world", "warm_start")

def tensor_stats(path: str) -> dict[str, list[float]]:
  """{tensor name: [mean, rms, first 4 values]} of a safetensors file (float64 sums)."""
  import numpy as np
  from safetensors.numpy import load_file
  out = {}
  for k, v in sorted(load_file(path).items()):
    x = np.asarray(v, np.float64).ravel()
    out[k] = [float(x.mean()), float(np.sqrt((x * x).mean())), *map(float, x[:4])]
  return out


def _sha(path: str) -> str:
  with open(path, "rb") as f:
    return hashlib.sha256(f.read()).hexdigest()


def fingerprint(workdir: str) -> dict:
  """The prefix's losses, tokenizer hash and tensor statistics of the model in `workdir`."""
  with open(os.path.join(workdir, "sft_metrics.jsonl")) as f:
    losses = {int(r["step"]): r["loss"] for r in map(json.loads, f)}
  return {"prefix_steps": PREFIX, "losses": losses,
          "tokenizer_sha256": _sha(os.path.join(workdir, "tokenizer.json")),
          "model_sha256": _sha(os.path.join(workdir, "model.safetensors")),
          "tensors": tensor_stats(os.path.join(workdir, "model.safetensors"))}


def run(out: str, prefix_only: bool, workdir: str) -> dict:
  from experiments import world_small
  from spice_jax import experiment, sft
  cfg = world_small.experiment_config()
  files = experiment.build_world(cfg, workdir)
  sft_dir = os.path.join(workdir, "sft")
  c = experiment._apply(cfg.sft, {"data.examples": files.warm_examples})
  sft.train(experiment._apply(c, {"train.steps": PREFIX}), sft_dir)
  fp = fingerprint(sft_dir)
  os.makedirs(out, exist_ok=True)
  if prefix_only:
    with open(os.path.join(out, "prefix.json"), "w") as f:
      json.dump(fp, f, indent=1)
    return fp
  sft.train(c, sft_dir)                     # resumes from the prefix's checkpoint
  for name in FILES:
    shutil.copyfile(os.path.join(sft_dir, name), os.path.join(out, name))
  with open(os.path.join(sft_dir, "sft_metrics.jsonl")) as f:
    final = [json.loads(l) for l in f][-1]
  with open(os.path.join(out, "fingerprint.json"), "w") as f:
    json.dump(dict(fp, final_step=final["step"], final_loss=final["loss"],
                   steps=int(c.train.steps)), f, indent=1)
  return fp


def main(argv):
  del argv
  os.environ.setdefault("JAX_PLATFORMS", "cpu")
  with tempfile.TemporaryDirectory() as tmp:
    run(os.path.abspath(_OUT.value), _PREFIX_ONLY.value, tmp)
  print(f"warm start written to {_OUT.value}" + (" (prefix only)" if _PREFIX_ONLY.value else ""))


if __name__ == "__main__":
  _OUT = flags.DEFINE_string("out", DEFAULT_OUT, "Where the model files and fingerprint go.")
  _PREFIX_ONLY = flags.DEFINE_bool("prefix_only", False,
                                   "Stop after the prefix (writes prefix.json, no model files).")
  app.run(main)
