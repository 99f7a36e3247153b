r"""Warm start: supervised fine-tuning on role-formatted examples (completion tokens only).

  python -m spice_jax.sft --config=experiments/world_small.py:sft --workdir=runs/sft \
      [--config.train.steps=600 ...]

The examples file (`config.data.examples`, JSONL of {role, messages, completion}, see
`spice_jax.sft_data`) holds Challenger examples (a document -> a task in the template's
format) and Reasoner examples (a question -> a short solution ending in \boxed{}).
With `config.model.source == ""` the model is built from scratch: a byte-level BPE tokenizer
is trained on the examples (`models.train_tokenizer`, as many tokens as the preset's
vocabulary) and a model of preset `config.model.preset` is initialised; otherwise `models.load(config.model.source)`.

The workdir is both a run directory and a model source: `tokenizer.json`,
`tokenizer_config.json` and `config.json` are written at the start, orbax checkpoints of the
TrainState go to `checkpoints/` (re-running resumes), and at the end the weights are exported
as `model.safetensors`, so `python -m spice_jax.train --config.model.source=<workdir>` loads it.
"""

from __future__ import annotations

import json
import os
import sys
import time

from absl import app, flags, logging
from ml_collections import config_flags

from spice_jax.errors import SpiceError

# The CLI flags are defined only when this module runs as a program (see the bottom), so
# importing it (as `spice_jax.experiment` does) defines no flags.
_CONFIG = _WORKDIR = None


class SFTConfigError(SpiceError, ValueError):
  """A config that cannot run; the message names the field."""


# ------------------------------------------------------------------ the pure step

def sft_loss(module, params, batch):
  """Mean negative log-likelihood over completion positions (batch["loss_mask"] == 1)."""
  import jax.numpy as jnp
  from spice_jax.rl import loss as loss_lib
  logp, _ = loss_lib.token_logprobs(module, params, batch["tokens"], batch["positions"],
                                    batch["targets"], loss_mask=batch["loss_mask"])
  m = batch["loss_mask"].astype(jnp.float32)
  return -jnp.sum(logp * m) / jnp.maximum(jnp.sum(m), 1.0)


def make_step(module):
  """`step(state, batch) -> (state, {loss, grad_norm})`: one AdamW step (`rl.state`), jitted,
  the state donated."""
  import jax
  import optax

  def step(state, batch):
    loss, grads = jax.value_and_grad(lambda p: sft_loss(module, p, batch))(state.params)
    updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    return (state.replace(step=state.step + 1, params=params, opt_state=opt_state),
            {"loss": loss, "grad_norm": optax.global_norm(grads)})
  return jax.jit(step, donate_argnums=0)


# ------------------------------------------------------------------ model set-up

def _tokenizer_texts(examples, template: str):
  from spice_jax.spice import prompts as prompts_lib
  for e in examples:
    yield prompts_lib.render_text(list(e.messages), "qwen3" if template == "chat" else template)
    yield e.completion


def _build_model(config, workdir: str, examples, mesh):
  """(model config, params, tokenizer): from scratch (tokenizer trained here) or a source."""
  from spice_jax import models
  from spice_jax.models import config as config_lib
  from spice_jax.models import presets
  from spice_jax.models import tokenizer as tokenizer_lib
  from spice_jax.models import train_tokenizer
  if config.model.source:
    m = models.load(config.model.source, mesh=mesh, dtype=config.model.dtype, seed=config.seed)
    if m.tokenizer is None:
      raise SFTConfigError(f"config.model.source: {config.model.source!r} has no tokenizer")
    return m.config, m.params, m.tokenizer
  arch = presets.get(config.model.preset)
  if not os.path.exists(os.path.join(workdir, "tokenizer.json")):
    train_tokenizer.train(_tokenizer_texts(examples, config.data.template), workdir,
                          vocab_size=arch.vocab_size)
  tok = tokenizer_lib.from_hf_dir(workdir)
  if tok.vocab_size != arch.vocab_size:
    raise SFTConfigError(
        f"config.model.preset: {config.model.preset!r} has vocab_size {arch.vocab_size} but "
        f"the tokenizer trained on {config.data.examples} has {tok.vocab_size} tokens "
        "(too little text for that many merges); use a preset with that vocabulary")
  cfg = arch.replace(eos_ids=tuple(tok.eos_ids), pad_id=tok.pad_id)
  with open(os.path.join(workdir, "config.json"), "w") as f:
    json.dump(config_lib.to_hf_config(cfg), f, indent=2)
  return cfg, models.init_params(cfg, mesh, int(config.seed)), tok


def validate(config) -> None:
  def need(cond, field, msg):
    if not cond:
      raise SFTConfigError(f"config.{field}: {msg}")
  need(os.path.isfile(config.data.examples), "data.examples",
       f"{config.data.examples!r} is not a file (JSONL of {{role, messages, completion}})")
  need(config.train.steps >= 1, "train.steps", "must be >= 1")
  need(config.train.batch_size >= 1, "train.batch_size", "must be >= 1")
  need(config.model.dtype in ("float32", "bfloat16"), "model.dtype", "float32 | bfloat16")


# ------------------------------------------------------------------ the loop

def train(config, workdir: str) -> dict:
  """Runs (or resumes) the warm start; returns {"loss": last loss, "steps": steps done}."""
  validate(config)
  import jax
  import numpy as np
  from tqdm import tqdm
  from spice_jax import models, parallel, sft_data
  from spice_jax.models import weights
  from spice_jax.rl import state as state_lib
  from spice_jax.utils import checkpointing

  os.makedirs(workdir, exist_ok=True)
  examples = sft_data.read_examples(config.data.examples)
  mesh = parallel.make_mesh(tuple(config.mesh.shape))
  cfg, params, tok = _build_model(config, workdir, examples, mesh)
  t = config.train
  optim = state_lib.OptimConfig(lr=t.lr, b1=0.9, b2=0.95, weight_decay=t.weight_decay,
                                clip_norm=t.clip_norm, warmup_steps=t.warmup_steps)
  state = state_lib.create(params, optim)
  ckpt = checkpointing.Checkpointer(checkpointing.checkpoint_dir(workdir),
                                    max_to_keep=t.keep_checkpoints)
  opt_tree = lambda s: {"opt_state": s.opt_state, "step": s.step}
  start = 0
  restored = ckpt.restore_latest(state.params, opt_tree(state))
  if restored is not None:
    start, p, opt, _ = restored
    state = state.replace(params=p, opt_state=opt["opt_state"], step=opt["step"])
    logging.info("sft: resumed from step %d", start)
  encoded = [sft_data.encode(tok, e, config.data.template) for e in examples]
  pad = tok.pad_id if tok.pad_id is not None else 0
  batches = sft_data.Batches(encoded, t.batch_size, pad_id=pad, multiple=t.bucket_multiple,
                             seed=int(config.seed))
  module = models.Model(cfg, None, tok, mesh, config.model.dtype).module()
  step_fn = make_step(module)
  batch_sh = parallel.batch_sharding(mesh, 2, int(t.batch_size))
  log = open(os.path.join(workdir, "sft_metrics.jsonl"), "a")
  bar = tqdm(initial=start, total=int(t.steps), desc="warm start", dynamic_ncols=True,
             disable=not sys.stderr.isatty() and os.environ.get("SPICE_PROGRESS") != "1")
  last = {}
  t0 = time.perf_counter()
  try:
    with jax.set_mesh(mesh):
      for i in range(start, int(t.steps)):
        state, m = step_fn(state, parallel.put(batches(i), batch_sh))
        if (i + 1) % t.log_every == 0 or i + 1 == t.steps:
          last = {k: float(np.asarray(v)) for k, v in m.items()}
          last.update(step=i + 1, seconds=time.perf_counter() - t0)
          log.write(json.dumps(last) + "\n")
          log.flush()
          bar.set_postfix(loss=f"{last['loss']:.3f}")
        bar.update(1)
        if (i + 1) % t.checkpoint_every == 0 or i + 1 == t.steps:
          ckpt.save(i + 1, state.params, opt_tree(state),
                    {"step": i + 1, "model_source": workdir, "dtype": config.model.dtype})
  finally:
    bar.close()
    log.close()
    ckpt.close()
  weights.export_hf(state.params, cfg, workdir, tokenizer=tok)
  return {"loss": last.get("loss", float("nan")), "steps": int(t.steps)}


def main(argv):
  del argv
  if _CONFIG.value is None or not _WORKDIR.value:
    raise app.UsageError("--config and --workdir are required")
  workdir = os.path.abspath(_WORKDIR.value)
  from spice_jax.utils import cli
  log = cli.log_to_file(workdir)       # library INFO -> log.txt; the terminal keeps the bar
  try:
    out = train(_CONFIG.value, workdir)
  except SFTConfigError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  print(f"warm start: {out['steps']} steps, final loss {out['loss']:.4f}; model source: "
        f"{workdir} (log: {log})")


if __name__ == "__main__":
  _CONFIG = config_flags.DEFINE_config_file("config", None, "SFT config (a .py file).",
                                            lock_config=True)
  _WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (resumes if it has checkpoints).")
  app.run(main)
