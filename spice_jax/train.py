r"""The SPICE trainer: config -> mesh -> model -> self-play loop -> checkpoints/metrics.

  python -m spice_jax.train --config=experiments/demo_cpu.py --workdir=runs/demo \
      [--config.rl.lr=1e-6 ...]

Everything of a run lives in --workdir: checkpoints/ (orbax), metrics.jsonl, tensorboard/,
audit/, plots/, corpus/ (when the demo corpus is built there), config.json. Re-running the
same command resumes from the newest readable checkpoint. SIGTERM / SIGINT (preemption)
finish the current iteration, save, and exit cleanly.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import sys
import time
from typing import Any

from absl import app, flags, logging
from ml_collections import config_flags

from spice_jax.utils import fs

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config (a .py file).",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (resumes if it has checkpoints).")


class ConfigError(ValueError):
  """A config that cannot run; the message names the field."""


# ------------------------------------------------------------------------ validation

def _model_source_ok(src: str) -> bool:
  from spice_jax import models
  return src in models.PRESETS or fs.path(src).is_dir() or (src.endswith(".gguf")
                                                             and fs.path(src).is_file())


def validate(config) -> None:
  """Checks every field the run depends on, before any heavy work. Raises ConfigError."""
  from spice_jax.spice import advantages, rewards
  from spice_jax.spice import prompts as prompts_lib

  def need(cond, field, msg):
    if not cond:
      raise ConfigError(f"config.{field}: {msg}")

  src = config.model.source
  need(isinstance(src, str) and src, "model.source", "empty; give a preset name, an HF "
       "checkpoint directory or a .gguf file")
  need(_model_source_ok(src), "model.source",
       f"{src!r} is not a preset, an existing directory, nor an existing .gguf file")
  need(config.model.dtype in ("float32", "bfloat16"), "model.dtype",
       f"{config.model.dtype!r}: float32 | bfloat16")
  need(len(tuple(config.mesh.shape)) == 3, "mesh.shape", "three sizes (data, fsdp, tensor)")
  sp = config.spice
  need(sp.num_docs >= 1, "spice.num_docs", "must be >= 1")
  need(sp.group_size >= 1, "spice.group_size", "must be >= 1")
  need(sp.num_answers >= 1, "spice.num_answers", "must be >= 1")
  need(len(sp.formats) >= 1 and all(f in ("mcq", "free_form") for f in sp.formats),
       "spice.formats", f"{tuple(sp.formats)}: a non-empty subset of (mcq, free_form)")
  need(sp.format_selection in ("model", "random", "fixed"), "spice.format_selection",
       f"{sp.format_selection!r}: model | random | fixed")
  need(sp.challenger_style in prompts_lib.STYLES, "spice.challenger_style",
       f"{sp.challenger_style!r}: one of {prompts_lib.STYLES}")
  need(sp.reasoner_template in prompts_lib.RENDER_TEMPLATES, "spice.reasoner_template",
       f"{sp.reasoner_template!r}: one of {prompts_lib.RENDER_TEMPLATES}")
  need(sp.challenger_reward in rewards.VARIANTS, "spice.challenger_reward",
       f"{sp.challenger_reward!r}: one of {sorted(rewards.VARIANTS)}")
  need(sp.rzero_p in ("gold", "majority"), "spice.rzero_p", f"{sp.rzero_p!r}: gold | majority")
  need(sp.pseudo_labels in ("gold", "majority"), "spice.pseudo_labels",
       f"{sp.pseudo_labels!r}: gold | majority")
  need(not (sp.rzero_p == "majority" and sp.pseudo_labels != "majority"), "spice.rzero_p",
       "'majority' needs spice.pseudo_labels='majority'")
  need(sp.challenger in ("policy", "initial") or _model_source_ok(sp.challenger),
       "spice.challenger", f"{sp.challenger!r}: policy | initial | an existing model source")
  need(not (sp.challenger != "policy" and sp.train_challenger), "spice.train_challenger",
       "must be False when the Challenger is frozen (spice.challenger != 'policy')")
  need(sp.template_dir == "" or os.path.isdir(sp.template_dir), "spice.template_dir",
       f"{sp.template_dir!r} is not a directory")
  need(sp.max_challenger_attempts >= 1 and sp.round_size >= 1, "spice.round_size",
       "round_size and max_challenger_attempts must be >= 1")
  need(sp.verify_timeout > 0, "spice.verify_timeout", "must be > 0")
  need(config.rl.advantage in advantages.names(), "rl.advantage",
       f"{config.rl.advantage!r}: one of {advantages.names()}")
  need(config.rl.old_logprobs in ("recompute", "sampler"), "rl.old_logprobs",
       f"{config.rl.old_logprobs!r}: recompute | sampler")
  need(config.rl.minibatch_size >= 1, "rl.minibatch_size", "must be >= 1")
  need(config.rl.lr >= 0, "rl.lr", "must be >= 0")
  c = config.corpus
  if c.enabled:
    need(c.build_demo or c.data_dir, "corpus.data_dir",
         "empty; build a corpus (python -m spice_jax.data.build_corpus) or set "
         "corpus.build_demo=True, or corpus.enabled=False for ungrounded self-play")
    need(c.build_demo or fs.path(c.data_dir).is_dir(), "corpus.data_dir",
         f"{c.data_dir!r} does not exist")
  from spice_jax import guard as guard_lib
  try:
    guard_lib.GuardConfig.from_config(config.guard)
  except (guard_lib.GuardError, ValueError, TypeError) as e:
    raise ConfigError(f"config.guard: {e}") from e
  need(config.train.iterations >= 1, "train.iterations", "must be >= 1")
  if config.train.eval_every > 0:
    need(fs.path(config.train.eval_data_dir).is_dir(), "train.eval_data_dir",
         f"{config.train.eval_data_dir!r} is not a directory (needed when train.eval_every > 0)")
  need(config.train.checkpoint_every >= 1, "train.checkpoint_every", "must be >= 1")


# ------------------------------------------------------------------------ helpers

def iteration_seed(seed: int, iteration: int) -> int:
  """A deterministic per-iteration seed (resume gives the same seeds)."""
  import numpy as np
  return int(np.random.SeedSequence([int(seed), int(iteration)]).generate_state(1)[0])


def measure_matmul_peak(dtype="float32", n: int = 2048, reps: int = 5) -> float:
  """FLOP/s of a large jnp.dot on the default device (the denominator of MFU)."""
  import jax
  import jax.numpy as jnp
  a = jnp.ones((n, n), dtype)
  f = jax.jit(lambda x: x @ x)
  f(a).block_until_ready()
  t = time.perf_counter()
  for _ in range(reps):
    f(a).block_until_ready()
  return 2 * n ** 3 * reps / (time.perf_counter() - t) * jax.local_device_count()


class _StopFlag:
  """SIGTERM/SIGINT -> finish the iteration, checkpoint, exit. A second SIGINT aborts."""

  def __init__(self):
    self.signum = None

  def install(self):
    def handler(signum, frame):
      if self.signum is not None and signum == signal.SIGINT:
        raise KeyboardInterrupt
      self.signum = signum
      logging.warning("signal %d: will checkpoint after this iteration and stop", signum)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)

  def __bool__(self):
    return self.signum is not None


@dataclasses.dataclass
class Run:
  """Everything a training run holds (built by `setup`)."""
  config: Any
  workdir: str
  model: Any
  state: Any
  update_fn: Any
  selfplay: Any
  stream: Any
  pool: Any
  checkpointer: Any
  writer: Any
  audit: Any
  start: int
  peak_flops: float
  guard: Any = None
  data_dir: str | None = None
  keep_previous: bool = False
  eval_items: Any = None


def _corpus_dir(config, workdir, tokenizer) -> str:
  from spice_jax import data
  from spice_jax.data import corpus as corpus_lib
  if not config.corpus.build_demo:
    return config.corpus.data_dir
  out = fs.join(workdir, "corpus")
  marker = fs.path(out) / "BUILD_OK"
  import jax
  if jax.process_index() == 0 and not marker.exists():
    corpus_lib.build([data.demo_corpus_source()], out, tokenizer,
                              max_doc_tokens=config.corpus.max_doc_tokens)
    marker.write_text("ok\n")
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils
    multihost_utils.sync_global_devices("demo_corpus_built")
  return out


def setup(config, workdir: str) -> Run:
  """Builds the run (model, state, sampler, corpus stream) and restores the latest checkpoint."""
  validate(config)
  import jax
  from spice_jax import guard as guard_lib
  from spice_jax import models, parallel
  from spice_jax.rl import state as state_lib
  from spice_jax.rl import update as update_lib
  from spice_jax.sampling import Sampler
  from spice_jax.spice import selfplay as selfplay_lib
  from spice_jax.spice import verify as verify_lib
  from spice_jax.utils import audit as audit_lib
  from spice_jax.utils import checkpointing
  from spice_jax.utils import metrics as metrics_lib

  m = config.mesh
  if m.coordinator_address or m.num_processes:
    parallel.maybe_initialize_distributed(m.coordinator_address or None,
                                          m.num_processes or None,
                                          m.process_id if m.process_id >= 0 else None)
  mesh = parallel.make_mesh(tuple(m.shape))
  fs.path(workdir).mkdir(parents=True, exist_ok=True)
  if jax.process_index() == 0:
    (fs.path(workdir) / "config.json").write_text(config.to_json_best_effort(indent=2))

  model = models.load(config.model.source, mesh=mesh, dtype=config.model.dtype,
                      seed=config.seed)
  if model.tokenizer is None:
    raise ConfigError(f"config.model.source: {config.model.source!r} has no tokenizer")
  sp = config.spice
  optim = state_lib.OptimConfig(lr=config.rl.lr, b1=config.rl.b1, b2=config.rl.b2,
                                weight_decay=config.rl.weight_decay,
                                clip_norm=config.rl.clip_norm,
                                warmup_steps=config.rl.warmup_steps)
  ref = model.params if config.rl.kl_beta > 0 else None
  state = state_lib.create(model.params, optim, ref_params=ref)
  keep_previous = _needs_previous_state(config)
  update_fn = update_lib.make_update_fn(
      model.config, mesh, optim, compute_dtype=config.model.dtype, remat=config.model.remat,
      minibatch_size=config.rl.minibatch_size, clip_eps=config.rl.clip_eps,
      kl_beta=config.rl.kl_beta, old_logprobs=config.rl.old_logprobs,
      donate=not keep_previous)

  sampler = Sampler(model.config, mesh, dtype=config.model.dtype)
  policy = selfplay_lib.Actor(sampler, model.tokenizer, sp.reasoner_template, model.stop_ids)
  if sp.challenger == "policy":
    challenger = policy
  elif sp.challenger == "initial":
    frozen = jax.tree.map(lambda x: x.copy(), model.params)
    challenger = dataclasses.replace(policy, params=frozen)
  else:
    strong = models.load(sp.challenger, mesh=mesh, dtype=config.model.dtype)
    if strong.tokenizer is None:
      raise ConfigError(f"config.spice.challenger: {sp.challenger!r} has no tokenizer")
    challenger = selfplay_lib.Actor(Sampler(strong.config, mesh, dtype=config.model.dtype),
                                    strong.tokenizer, sp.reasoner_template, strong.stop_ids,
                                    params=strong.params)
  pool = verify_lib.VerifierPool(int(sp.verify_workers), timeout=float(sp.verify_timeout))
  selfplay = selfplay_lib.SelfPlay(
      sp, policy=policy, challenger=challenger, pool=pool, grounded=config.corpus.enabled,
      train_challenger=sp.train_challenger, sampler_batch=config.train.sampler_batch,
      estimator=config.rl.advantage)

  stream = data_dir = None
  if config.corpus.enabled:
    data_dir = _corpus_dir(config, workdir, model.tokenizer)
    stream = _stream(config, data_dir, rollbacks=0)
  guard = guard_lib.Guard(guard_lib.GuardConfig.from_config(config.guard))

  ckpt = checkpointing.Checkpointer(checkpointing.checkpoint_dir(workdir),
                                    max_to_keep=config.train.keep_checkpoints,
                                    keep_period=config.train.keep_period or None)
  writer = metrics_lib.MetricsWriter(workdir)
  audit = audit_lib.AuditTrail(workdir)
  start = 0
  eval_items = None
  if config.train.eval_every > 0:
    from spice_jax import eval as eval_lib
    eval_items = eval_lib.load_subset(config.train.eval_benchmarks or "all",
                                      config.train.eval_data_dir,
                                      limit=config.train.eval_max_items or None)
  run = Run(config, workdir, model, state, update_fn, selfplay, stream, pool, ckpt, writer,
            audit, start, measure_matmul_peak(config.model.dtype), guard, data_dir,
            keep_previous, eval_items)
  restored = ckpt.restore_latest(state.params, _opt_tree(state))
  if restored is not None:
    step = _apply_checkpoint(run, restored)
    run.start = step
    writer.truncate_after(step)
    audit.truncate_after(step)
    audit.event(step, "resume", checkpoint=f"{ckpt.directory}/{restored[0]}")
    logging.info("resumed from %s/%d", ckpt.directory, restored[0])
  else:
    # The initial model is the first good checkpoint: a rollback can always land somewhere.
    ckpt.save(0, run.state.params, _opt_tree(run.state), _meta(run, 0))
    ckpt.mark_good(0)
  return run


def _stream(config, data_dir: str, rollbacks: int):
  """The document stream; a rollback reseeds it (new documents after the good step).

  Every process reads the same documents: host work is replicated so that each process
  feeds identical prompts to the (SPMD) sampler.
  """
  from spice_jax.data import pipeline
  weights = dict(config.corpus.weights) or None
  return pipeline.DocumentStream(data_dir, seed=_data_seed(config, rollbacks),
                                 weights=weights, process_index=0, process_count=1)


def _data_seed(config, rollbacks: int) -> int:
  return int(config.seed) + 1_000_003 * int(rollbacks)


def _needs_previous_state(config) -> bool:
  """skip_update keeps the pre-update state, so the update must not donate it."""
  from spice_jax import guard as guard_lib
  g = guard_lib.GuardConfig.from_config(config.guard)
  return g.enabled and any(getattr(g, d).action == "skip_update" for d in guard_lib.DETECTORS)


def _apply_checkpoint(run: Run, restored, *, rollback: bool = False) -> int:
  """Puts a restored (step, params, opt, meta) into `run`; returns its iteration.

  On resume the guard and the data stream continue exactly where the checkpoint was; on a
  rollback (the guard has already been rewound) the stream starts afresh with a new seed.
  """
  _, params, opt, meta = restored
  run.state = dataclasses.replace(run.state, params=params, opt_state=opt["opt_state"],
                                  step=opt["step"])
  if not rollback:
    run.guard.load_state_dict(meta.get("guard"))
  if run.data_dir is not None:
    run.stream = _stream(run.config, run.data_dir, run.guard.rollbacks)
    if not rollback and meta.get("data_state") is not None:
      run.stream.set_state(meta["data_state"])
  return int(meta["iteration"])


def _opt_tree(state):
  return {"opt_state": state.opt_state, "step": state.step}


def _meta(run: Run, iteration: int) -> dict:
  return {"iteration": iteration, "seed": int(run.config.seed),
          "data_state": run.stream.get_state() if run.stream is not None else None,
          "guard": run.guard.state_dict(),
          "model_source": run.config.model.source, "dtype": run.config.model.dtype,
          "config": json.loads(run.config.to_json_best_effort())}


def train_iteration(run: Run, it: int) -> dict:
  """Runs iteration `it` (0-based) and returns its metrics (also written to disk)."""
  import jax
  import numpy as np
  from spice_jax.spice import batch as batch_lib
  config, sp = run.config, run.config.spice
  t0 = time.perf_counter()
  docs = (run.stream.take(sp.num_docs) if run.stream is not None
          else [None] * int(sp.num_docs))
  seed = iteration_seed(_data_seed(config, run.guard.rollbacks), it)
  res = run.selfplay.iteration(run.state.params, docs, seed=seed, step=it + 1)
  t_selfplay = time.perf_counter() - t0

  mb = int(config.rl.minibatch_size)
  dp = math.prod(run.model.mesh.shape[a] for a in ("data", "fsdp"))
  multiple = math.lcm(mb, dp)
  batch = batch_lib.make_batch(
      res.trajectories, pad_id=run.model.tokenizer.pad_id or 0,
      role_norms={"challenger": float(sp.challenger_max_tokens),
                  "reasoner": float(sp.reasoner_max_tokens)},
      batch_multiple=multiple, shuffle_seed=seed)
  summary = batch_lib.batch_summary(batch)
  t1 = time.perf_counter()
  previous = run.state if run.keep_previous else None
  from spice_jax import parallel
  new_state, um = run.update_fn(run.state, parallel.put(batch, run.update_fn.batch_sharding))
  um = jax.device_get(um)
  t_update = time.perf_counter() - t1
  m = dict(res.metrics)
  m.update({k: float(np.asarray(v)) for k, v in um.items()})
  n_params = run.model.config.num_params()
  T = batch["tokens"].shape[1]
  flops = (6 + 2) * n_params * summary["positions"]  # recompute fwd + fwd/bwd
  m["time/update"] = t_update
  m["time/selfplay"] = t_selfplay
  m["time/iteration"] = time.perf_counter() - t0
  sample_t = sum(m.get(f"time/sample_{r}", 0.0) for r in ("format", "challenger", "reasoner"))
  m["time/other"] = max(m["time/iteration"] - sample_t - m.get("time/verify", 0.0)
                        - m.get("time/parse", 0.0) - t_update, 0.0)
  for role in ("challenger", "reasoner"):
    tk, tt = m.get(f"tokens/{role}", 0.0), m.get(f"time/sample_{role}", 0.0)
    m[f"throughput/sample_tokens_per_s_{role}"] = tk / tt if tt else 0.0
  tot_tok = m.get("tokens/challenger", 0.0) + m.get("tokens/reasoner", 0.0)
  m["throughput/sample_tokens_per_s"] = tot_tok / sample_t if sample_t else 0.0
  m["throughput/update_tokens_per_s"] = summary["positions"] / t_update if t_update else 0.0
  m["throughput/mfu"] = flops / t_update / run.peak_flops if t_update else 0.0
  m["batch/rows"] = summary["rows"]
  m["batch/real_rows"] = summary["real_rows"]
  m["batch/length"] = float(T)
  m["iteration"] = it + 1
  if run.eval_items and (it + 1) % config.train.eval_every == 0:
    from spice_jax import eval as eval_lib
    m.update(eval_lib.evaluate_params(
        run.selfplay.policy.sampler, new_state.params, run.model.tokenizer, run.eval_items,
        stop_ids=run.model.stop_ids, template=sp.reasoner_template,
        max_new_tokens=int(sp.reasoner_max_tokens), pool=run.pool))

  # Guardrails: the iteration's metrics decide whether its update is kept.
  firings = run.guard.check(it + 1, m)
  decision = run.guard.decide(firings)
  for f in firings:
    run.audit.event(it + 1, "guard", **f.to_json())
    logging.warning("guard: %s", f.message)
  m["guard/decision"] = decision
  m["guard/firings"] = len(firings)
  if decision == "skip_update":
    run.state = previous           # discard the update, keep going with the next data
  elif decision != "rollback":
    run.state = new_state
  run.writer.write(it + 1, m)
  if config.train.audit:
    run.audit.write("tasks", res.audit)
  return m


def rollback(run: Run, failed_iteration: int) -> int:
  """Restores the newest checkpoint marked good, reseeds the data; returns its iteration."""
  from spice_jax import guard as guard_lib
  run.checkpointer.wait()
  restored = run.checkpointer.restore_latest(run.state.params, _opt_tree(run.state),
                                             only_good=True)
  if restored is None:
    raise guard_lib.GuardError("guard: rollback requested but no good checkpoint is readable")
  rollbacks = run.guard.rollback_to(restored[3].get("guard"))
  it = _apply_checkpoint(run, restored, rollback=True)
  run.writer.truncate_after(it)
  run.audit.truncate_after(it, names=("tasks",))  # the events keep the evidence
  run.audit.event(failed_iteration, "rollback", to_iteration=it,
                  checkpoint=f"{run.checkpointer.directory}/{restored[0]}", rollbacks=rollbacks)
  logging.warning("guard: rolled back from iteration %d to the good checkpoint %d "
                  "(rollback #%d, new data seed)", failed_iteration, it, rollbacks)
  return it


def train(config, workdir: str) -> dict:
  """Runs (or resumes) the whole training loop. Returns the last iteration's metrics."""
  from tqdm import tqdm
  run = setup(config, workdir)
  stop = _StopFlag()
  stop.install()
  last = {}
  total = int(config.train.iterations)
  bar = tqdm(initial=run.start, total=total, desc="SPICE",
             disable=not sys.stderr.isatty() and os.environ.get("SPICE_PROGRESS") != "1",
             dynamic_ncols=True)
  it = run.start
  try:
    while it < total:
      last = train_iteration(run, it)
      bar.update(1)
      if last["guard/decision"] == "rollback":
        it = rollback(run, it + 1)
        bar.n = it
        bar.refresh()
        continue
      it += 1
      bar.set_postfix(valid=f"{last['challenger/valid_rate']:.2f}",
                      acc=f"{last['reasoner/accuracy']:.2f}",
                      r_c=f"{last['challenger/reward_mean']:.2f}",
                      tok_s=f"{last['throughput/sample_tokens_per_s']:.0f}")
      logging.info("iteration %d/%d: valid %.2f acc %.2f r_C %.3f loss %.4f (%.1fs)", it,
                   total, last["challenger/valid_rate"], last["reasoner/accuracy"],
                   last["challenger/reward_mean"], last.get("loss", float("nan")),
                   last["time/iteration"])
      done = it
      if done % config.train.checkpoint_every == 0 or done == total or stop:
        run.checkpointer.save(done, run.state.params, _opt_tree(run.state), _meta(run, done))
        if run.guard.is_good(last["guard/decision"]):
          run.checkpointer.mark_good(done)
      if stop:
        logging.warning("stopping after iteration %d on signal %s", done, stop.signum)
        break
  finally:
    bar.close()
    run.checkpointer.close()
    run.pool.close()
    run.writer.close()
  if config.train.plots and (run.start < total) and __import__("jax").process_index() == 0:
    from spice_jax.utils import plots
    try:
      plots.plot_run(workdir)
    except FileNotFoundError:
      pass
  return last


def summary_table(workdir: str) -> str:
  """A short Markdown table of a run's iterations (for the demo and the README)."""
  from spice_jax.utils import metrics as metrics_lib
  recs = metrics_lib.read(fs.join(workdir, "metrics.jsonl"))
  cols = [("iter", "step", "{:d}"), ("valid", "challenger/valid_rate", "{:.2f}"),
          ("r_C", "challenger/reward_mean", "{:.3f}"), ("acc", "reasoner/accuracy", "{:.2f}"),
          ("loss", "loss", "{:.4f}"), ("sample s", None, "{:.1f}"),
          ("verify s", "time/verify", "{:.1f}"), ("update s", "time/update", "{:.1f}"),
          ("total s", "time/iteration", "{:.1f}")]
  lines = ["| " + " | ".join(c[0] for c in cols) + " |", "|" + "---|" * len(cols)]
  for r in recs:
    cells = []
    for _, key, fmt in cols:
      v = (sum(r.get(f"time/sample_{x}", 0.0) for x in ("format", "challenger", "reasoner"))
           if key is None else r.get(key, float("nan")))
      try:
        cells.append(fmt.format(v))
      except (ValueError, TypeError):
        cells.append(str(v))
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines)


def main(argv):
  del argv
  if _CONFIG.value is None or not _WORKDIR.value:
    raise app.UsageError("--config and --workdir are required")
  workdir = _WORKDIR.value  # a URI (gs://...) stays one; a local path becomes absolute
  workdir = os.path.abspath(workdir) if fs.is_local(workdir) else workdir
  try:
    train(_CONFIG.value, workdir)
  except ConfigError as e:
    logging.error("%s", e)
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  import jax
  if jax.process_index() == 0:
    print(f"\nrun directory : {workdir}")
    print(f"checkpoints   : {fs.join(workdir, 'checkpoints')}")
    print(f"metrics       : {fs.join(workdir, 'metrics.jsonl')} (+ tensorboard/)")
    print(f"audit trail   : {fs.join(workdir, 'audit', 'tasks.jsonl')}")
    print(f"plots         : {fs.join(workdir, 'plots', 'curves.png')}\n")
    print(summary_table(workdir))


if __name__ == "__main__":
  app.run(main)
