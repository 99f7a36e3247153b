"""Sampler-vs-trainer log-prob agreement on the same tokens (issue 23 item 5).

The sampler draws completions in `--sampler_dtype` (bfloat16 by default, as on an
accelerator); the trainer (`rl.update`'s forward, float32 by default) recomputes the log-prob
of every sampled token under the same sampling distribution (temperature / top-p, rl/loss.py).
Printed per setting: mean |Δ logp|, token_mult_prob_error = mean exp(|Δ logp|) (NeMo-RL's
definition; the guard alarms above 1.05) and the share of tokens whose ratio exp(Δ) is outside
[0.9, 1.1], and the share of sampled tokens outside the trainer's truncated support (a top-p
boundary decided differently in the two dtypes; counted out of band, left out of the means),
all as the update's metrics define them (rl/loss.py). A float32 sampler is measured in the same run as the reference.

Run:  python benchmarks/logprob_agreement.py [--model=world-small] [--rows=16 --new=64]
Models: a preset (world-small is the `make demo` architecture, randomly initialised unless
an HF directory such as a demo's warm-start `runs/.../sft` is given), smollm2-135m-instruct
(real weights), or an HF checkpoint directory.
"""

import os
import subprocess

from absl import app, flags
import numpy as np

_MODEL = flags.DEFINE_string("model", "world-small", "Preset, HF directory or .gguf file.")
_ROWS = flags.DEFINE_integer("rows", 16, "Sampled rows per setting.")
_PROMPT = flags.DEFINE_integer("prompt_len", 32, "Prompt tokens per row (random ids).")
_NEW = flags.DEFINE_integer("new", 64, "Generated tokens per row (no early stop).")
_SAMPLER = flags.DEFINE_list("sampler_dtype", ["float32", "bfloat16"], "Sampler dtypes.")
_TRAINER = flags.DEFINE_enum("trainer_dtype", "float32", ["float32", "bfloat16"],
                             "The update's compute dtype.")
# (name, temperature, top_p): the world config's Challenger and Reasoner, and a nucleus.
SETTINGS = [("challenger T=0.7", 0.7, 1.0), ("reasoner T=1.0", 1.0, 1.0),
            ("T=1.0 top_p=0.9", 1.0, 0.9)]


def figures(trainer: np.ndarray, sampler: np.ndarray, cap: float, floor: float):
  """(mean |Δ|, mean exp(|Δ|), share of exp(Δ) outside [0.9, 1.1], share outside the
  trainer's truncated support) over flat arrays, defined as the update's metrics (rl/loss.py
  agreement_sums): the means over tokens inside the support, |Δ| capped at `cap` nats."""
  off = trainer <= 0.5 * floor
  d = np.clip(trainer[~off].astype(np.float64) - sampler[~off].astype(np.float64), -cap, cap)
  r = np.exp(d)
  out = ((r < 0.9) | (r > 1.1)).sum() + off.sum()
  return (float(np.abs(d).mean()), float(np.exp(np.abs(d)).mean()), float(out / trainer.size),
          float(off.mean()))


def main(argv):
  del argv
  from spice_jax import models
  from spice_jax.rl import loss as loss_lib
  from spice_jax.rl import update as update_lib
  from spice_jax.sampling import Sampler
  from spice_jax.spice import batch as batch_lib

  model = models.load(_MODEL.value, seed=0)
  cfg = model.config
  rng = np.random.default_rng(0)
  prompts = rng.integers(3, cfg.vocab_size, (_ROWS.value, _PROMPT.value)).tolist()
  upd = update_lib.make_update_fn(cfg, model.mesh, None, compute_dtype=_TRAINER.value,
                                  remat=False)
  load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
  print(f"{_MODEL.value}: {_ROWS.value} rows x {_NEW.value} sampled tokens, trainer "
        f"{_TRAINER.value}; load: {load}")
  print(f"{'sampler':9s} {'setting':18s} {'mean|dlogp|':>12s} {'mult_prob_err':>14s} "
        f"{'out[0.9,1.1]':>13s} {'tokens':>7s} {'off-support':>11s}")
  for sdt in _SAMPLER.value:
    smp = Sampler(cfg, model.mesh, dtype=sdt, engine="static")
    for name, t, p in SETTINGS:
      out = smp(model.params, prompts, max_new_tokens=_NEW.value, temperature=t, top_p=p,
                seed=1, stop_ids=())
      trajs = [batch_lib.Trajectory(pr, list(out.tokens[r, :out.lengths[r]]), "reasoner",
                                    old_logprobs=list(out.logprobs[r, :out.lengths[r]]),
                                    temperature=t, top_p=p) for r, pr in enumerate(prompts)]
      batch = batch_lib.make_batch(trajs, minibatch_size=len(trajs), micro_rows=len(trajs),
                                   role_norms={"reasoner": float(_NEW.value)})
      tr, sa = [], []
      for m in batch.micro:
        lp = np.asarray(upd.logprobs(model.params, m))
        mask = np.asarray(m["loss_mask"]) > 0
        tr.append(lp[mask])
        sa.append(np.asarray(m["old_logprobs"])[mask])
      tr, sa = np.concatenate(tr), np.concatenate(sa)
      ad, mult, band, off = figures(tr, sa, loss_lib.AGREE_CAP, loss_lib.LOGP_FLOOR)
      print(f"{sdt:9s} {name:18s} {ad:12.3e} {mult:14.6f} {band:13.4f} {tr.size:7d} "
            f"{off:11.4f}")


if __name__ == "__main__":
  os.environ.setdefault("JAX_PLATFORMS", "cpu")
  app.run(main)
