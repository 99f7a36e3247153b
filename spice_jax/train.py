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
import sys
import time
from typing import Any

import jax
import numpy as np
from absl import app, flags, logging
from ml_collections import config_flags
from tqdm import tqdm

from spice_jax import data, models, parallel
from spice_jax import guard as guard_lib
from spice_jax.data import corpus as corpus_lib
from spice_jax.data import pipeline
from spice_jax.errors import ConfigError
from spice_jax.parallel import hosts
from spice_jax.rl import state as state_lib
from spice_jax.rl import update as update_lib
from spice_jax import run_config
from spice_jax.run_config import RunConfig
from spice_jax.sampling import Sampler
from spice_jax.spice import batch as batch_lib
from spice_jax.spice import selfplay as selfplay_lib
from spice_jax.spice import verify as verify_lib
from spice_jax.utils import audit as audit_lib
from spice_jax.utils import checkpointing, cli, runtime
from spice_jax.utils import metrics as metrics_lib
from spice_jax.utils import fs, plots
from spice_jax import eval as eval_lib


_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config (a .py file).",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (resumes if it has checkpoints).")

__all__ = ["ConfigError", "validate", "setup", "train", "train_iteration"]


def validate(config) -> RunConfig:
  """Checks every field of the run before any heavy work (each section by its owner).
  Returns the typed config; raises ConfigError naming the field."""
  return RunConfig.from_config(config)


# ------------------------------------------------------------------------ helpers

def iteration_seed(seed: int, iteration: int) -> int:
  """A deterministic per-iteration seed (resume gives the same seeds)."""
  return int(np.random.SeedSequence([int(seed), int(iteration)]).generate_state(1)[0])


@dataclasses.dataclass
class Run:
  """Everything a training run holds (built by `setup`)."""
  config: Any                     # the ConfigDict as given (saved with checkpoints)
  rc: RunConfig                   # the same, typed and validated
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
  sample_mesh: Any = None          # the sampler's mesh (this host's devices when host-local)

  @property
  def host_local(self) -> bool:
    return self.rc.train.sampling == "host_local"

  @property
  def gathered(self) -> bool:
    """Each process played its own documents: records are gathered, rows assembled."""
    return self.host_local and jax.process_count() > 1


def _corpus_dir(config: RunConfig, workdir, tokenizer) -> str:
  if not config.corpus.build_demo:
    return config.corpus.data_dir
  out = fs.join(workdir, "corpus")
  marker = fs.path(out) / "BUILD_OK"
  if jax.process_index() == 0 and not marker.exists():
    corpus_lib.build([data.demo_corpus_source()], out, tokenizer,
                              max_doc_tokens=config.corpus.max_doc_tokens)
    marker.write_text("ok\n")
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils
    multihost_utils.sync_global_devices("demo_corpus_built")
  return out


def compile_cache(setting: str) -> str | None:
  """JAX's persistent compilation cache for the run (config.train.compile_cache): "auto" =
  $XDG_CACHE_HOME/spice_jax/xla (~/.cache/...) unless the process already chose a directory
  (tests, the experiment driver), "" = off, else that directory. Returns the one in use."""
  if setting == "auto" and jax.config.jax_compilation_cache_dir:
    return jax.config.jax_compilation_cache_dir
  return runtime.enable_compilation_cache(None if setting == "auto" else setting)


def setup(config, workdir: str) -> Run:
  """Builds the run (model, state, sampler, corpus stream) and restores the latest checkpoint."""
  rc = validate(config)
  compile_cache(rc.train.compile_cache)
  m = rc.mesh
  if m.distributed:
    parallel.maybe_initialize_distributed(m.coordinator_address or None,
                                          m.num_processes or None,
                                          m.process_id if m.process_id >= 0 else None)
  mesh = parallel.make_mesh(m.shape)
  fs.path(workdir).mkdir(parents=True, exist_ok=True)
  # A resume checks the config against the recorded one (refusing what the checkpoint
  # cannot honour) before any heavy work; config.json is written once the start is known.
  changes = run_config.resume_diff(config, workdir)

  dtype = rc.model.dtype
  model = models.load(rc.model.source, mesh=mesh, dtype=dtype, seed=rc.seed)
  model.config = model.config.replace(attention=rc.model.attention)
  if model.tokenizer is None:
    raise ConfigError(f"config.model.source: {rc.model.source!r} has no tokenizer")
  run_config.check_arch(rc.model, model.config)
  sp, rl = rc.spice, rc.rl
  optim = rl.optim()
  state = state_lib.create(model.params, optim,
                           ref_params=model.params if rl.kl_beta > 0 else None)
  keep_previous = _needs_previous_state(rc)
  update_fn = update_lib.make_update_fn(
      model.config, mesh, optim, compute_dtype=dtype, remat=rc.model.remat,
      clip_eps=rl.clip_eps, kl_beta=rl.kl_beta, old_logprobs=rl.old_logprobs,
      donate=not keep_previous)

  if rc.train.sampling == "host_local" and sp.num_docs % jax.process_count():
    raise ConfigError(f"config.spice.num_docs: {sp.num_docs} documents do not split evenly "
                      f"over {jax.process_count()} processes (train.sampling='host_local')")
  sample_mesh = (hosts.local_mesh(rc.train.sampler_mesh) if rc.train.sampling == "host_local"
                 else mesh)
  sampler = Sampler(model.config, sample_mesh, dtype=dtype, **rc.engine.sampler_kwargs())
  policy = selfplay_lib.Actor(sampler, model.tokenizer, sp.chat_layout, model.stop_ids)
  if sp.challenger == "policy":
    challenger = policy
  elif sp.challenger == "initial":
    frozen = (local_params(model.params, model.config, sample_mesh, dtype)
              if sample_mesh is not mesh
              else jax.tree.map(lambda x: x.copy(), model.params))
    challenger = dataclasses.replace(policy, params=frozen)
  else:
    strong = models.load(sp.challenger, mesh=sample_mesh, dtype=dtype)
    if strong.tokenizer is None:
      raise ConfigError(f"config.spice.challenger: {sp.challenger!r} has no tokenizer")
    challenger = selfplay_lib.Actor(Sampler(strong.config, sample_mesh, dtype=dtype,
                                            **rc.engine.sampler_kwargs()),
                                    strong.tokenizer, sp.chat_layout, strong.stop_ids,
                                    params=strong.params)
  pool = verify_lib.VerifierPool(sp.verify_workers, timeout=sp.verify_timeout)
  selfplay = selfplay_lib.SelfPlay(
      sp, policy=policy, challenger=challenger, pool=pool, grounded=rc.corpus.enabled,
      sampler_batch=rc.train.sampler_batch, estimator=rl.advantage,
      num_docs=sp.num_docs)

  stream = data_dir = None
  if rc.corpus.enabled:
    data_dir = _corpus_dir(rc, workdir, model.tokenizer)
    stream = _stream(rc, data_dir, rollbacks=0)
  guard = guard_lib.Guard(rc.guard)

  tr = rc.train
  ckpt = checkpointing.Checkpointer(checkpointing.checkpoint_dir(workdir),
                                    max_to_keep=tr.keep_checkpoints,
                                    keep_period=tr.keep_period or None)
  writer = metrics_lib.MetricsWriter(workdir)
  audit = audit_lib.AuditTrail(workdir)
  eval_items = None
  if tr.eval_every > 0:
    eval_items = eval_lib.load_subset(tr.eval_benchmarks or "all", tr.eval_data_dir,
                                      limit=tr.eval_max_items or None)
  run = Run(config, rc, workdir, model, state, update_fn, selfplay, stream, pool, ckpt,
            writer, audit, 0, runtime.measure_matmul_peak(dtype), guard, data_dir,
            keep_previous, eval_items, sample_mesh)
  restored = ckpt.restore_latest(state.params, _opt_tree(state))
  if restored is not None:
    step = _apply_checkpoint(run, restored)
    run.start = step
    writer.truncate_after(step)
    audit.truncate_after(step)
    if jax.process_index() == 0:
      kept = run_config.save_config(config, workdir, step=step, diff=changes)
      if changes:
        audit.event(step, "config_changed", changes=changes, previous=kept)
        logging.warning("config changed at the resume from iteration %d: %s (earlier "
                        "config kept as %s)", step, ", ".join(changes), kept)
    audit.event(step, "resume", checkpoint=f"{ckpt.directory}/{restored[0]}")
    logging.info("resumed from %s/%d", ckpt.directory, restored[0])
  else:
    if jax.process_index() == 0:
      run_config.save_config(config, workdir)
    # The initial model is the first good checkpoint: a rollback can always land somewhere.
    ckpt.save(0, run.state.params, _opt_tree(run.state), _meta(run, 0))
    ckpt.mark_good(0)
  return run


def _stream(config, data_dir: str, rollbacks: int):
  """The document stream; a rollback reseeds it (new documents after the good step).

  Every process reads the same documents: host work is replicated so that each process
  feeds identical prompts to the (SPMD) sampler.
  """
  weights = dict(config.corpus.weights) or None
  return pipeline.DocumentStream(data_dir, seed=_data_seed(config, rollbacks),
                                 weights=weights, process_index=0, process_count=1)


def _data_seed(config, rollbacks: int) -> int:
  return int(config.seed) + 1_000_003 * int(rollbacks)


def local_params(params, cfg, sample_mesh, dtype: str):
  """The host-local sampler's weights: the global params gathered onto this host's mesh with
  the model's sharding rules there (heads split when train.sampler_mesh has tensor > 1),
  matrices in the compute dtype the sampler uses anyway (norm scales stay float32)."""
  return hosts.to_local(params, sample_mesh, dtype=update_lib.DTYPES[dtype],
                        shardings=parallel.unbox(models.param_shardings(cfg, sample_mesh)))


def _needs_previous_state(config: RunConfig) -> bool:
  """skip_update keeps the pre-update state, so the update must not donate it."""
  g = config.guard
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
    run.stream = _stream(run.rc, run.data_dir, run.guard.rollbacks)
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


def _update(run: Run, trajectories, seed: int):
  """The update on this iteration's trajectories -> (new state, metrics).

  With no trainable trajectory (e.g. a frozen Challenger and no valid task) the update is
  skipped: the state stays, `update/skipped` is 1 and an audit event says why.
  """
  sp, rl = run.rc.spice, run.rc.rl
  row_multiple = math.prod(run.model.mesh.shape[a] for a in ("data", "fsdp"))
  try:
    batch = batch_lib.make_batch(
        trajectories, minibatch_size=rl.minibatch_size, pad_id=run.model.tokenizer.pad_id or 0,
        row_multiple=row_multiple, micro_rows=rl.micro_rows * row_multiple,
        role_norms={"challenger": float(sp.challenger_max_tokens),
                    "reasoner": float(sp.reasoner_max_tokens)},
        geometric=rl.geometric_buckets, shuffle_seed=seed)
  except batch_lib.EmptyBatchError:
    logging.warning("no trainable trajectory this iteration: update skipped")
    return run.state, {"update/skipped": 1.0, "time/update": 0.0}
  summary = batch_lib.batch_summary(batch)
  t1 = time.perf_counter()
  new_state, um = run.update_fn(run.state, parallel.put(batch, run.update_fn.batch_sharding))
  um = jax.device_get(um)
  t_update = time.perf_counter() - t1
  m = {k: float(np.asarray(v)) for k, v in um.items()}
  flops = (6 + 2) * run.model.config.num_params() * summary["positions"]  # recompute + fwd/bwd
  m.update({"update/skipped": 0.0, "time/update": t_update,
            "throughput/update_tokens_per_s": summary["positions"] / t_update,
            "throughput/mfu": flops / t_update / run.peak_flops,
            **{f"batch/{k}": v for k, v in summary.items()}})
  return new_state, m


def _play(run: Run, it: int, seed: int):
  """Self-play for iteration `it`: this process's documents (all of them unless
  host-local); records gathered from every process so process 0 reports them all."""
  rc = run.rc
  B = rc.spice.num_docs
  docs = run.stream.take(B) if run.stream is not None else [None] * B
  part = hosts.process_slice(B) if run.host_local else slice(0, B)
  params = (local_params(run.state.params, run.model.config, run.sample_mesh, rc.model.dtype)
            if run.host_local
            else run.state.params)
  res = run.selfplay.iteration(params, docs[part], seed=seed, step=it + 1,
                               doc_offset=part.start, report_results=not run.gathered)
  if run.gathered:
    # Host work is done. Every process needs every process's training rows (the update is
    # global) and the same metrics (guardrail decisions must agree), which only need the
    # plays' numbers; process 0 alone writes the audit, so it alone receives the records.
    received = hosts.BYTES_RECEIVED["bytes"]
    every = hosts.allgather_objects(
        (res.trajectories, selfplay_lib.for_metrics(res.plays), dict(res.counters)))
    res.trajectories, plays, counters = selfplay_lib.merge_parts(every)
    res.metrics = run.selfplay.metrics(plays, counters)
    everyone = hosts.BYTES_RECEIVED["bytes"] - received   # the same on every process
    records = run.selfplay.audit(res.plays, it + 1) if rc.train.audit else []
    audits = hosts.gather_to_first(records, f"audit/{it + 1}/{run.guard.rollbacks}")
    res.audit = [r for recs in audits for r in recs] if audits is not None else []
    # What this process received from the others this iteration (process 0's is recorded):
    # rows and metric records, which every process receives, then the audit records.
    res.metrics["host/bytes_received"] = hosts.BYTES_RECEIVED["bytes"] - received
    res.metrics["host/bytes_received_by_every_process"] = everyone
  return res


def train_iteration(run: Run, it: int) -> dict:
  """Runs iteration `it` (0-based) and returns its metrics (also written to disk)."""
  rc, sp = run.rc, run.rc.spice
  t0 = time.perf_counter()
  seed = iteration_seed(_data_seed(rc, run.guard.rollbacks), it)
  res = _play(run, it, seed)
  t_selfplay = time.perf_counter() - t0
  previous = run.state if run.keep_previous else None
  new_state, um = _update(run, res.trajectories, seed)
  if um["update/skipped"]:
    run.audit.event(it + 1, "update_skipped", reason="no trainable trajectory")
  m = {**res.metrics, **um, "time/selfplay": t_selfplay,
       "time/iteration": time.perf_counter() - t0, "iteration": it + 1}
  metrics_lib.add_throughput(m)
  if run.eval_items and (it + 1) % rc.train.eval_every == 0:
    m.update(eval_lib.evaluate_params(
        run.selfplay.policy.sampler, new_state.params, run.model.tokenizer, run.eval_items,
        stop_ids=run.model.stop_ids, template=sp.chat_layout,
        max_new_tokens=sp.reasoner_max_tokens, pool=run.pool))

  # Guardrails: the iteration's metrics decide whether its update is kept.
  firings = run.guard.check(it + 1, m)
  decision = run.guard.decide(firings)
  for f in firings:
    run.audit.event(it + 1, "guard", **f.to_json())
    (logging.warning if f.announce else logging.info)("guard: %s", f.message)
  m["guard/decision"] = decision
  m["guard/firings"] = len(firings)
  if decision == "skip_update":
    run.state = previous           # discard the update, keep going with the next data
  elif decision != "rollback":
    run.state = new_state
  run.writer.write(it + 1, m)
  if rc.train.audit:
    run.audit.write("tasks", res.audit)
  return m


def rollback(run: Run, failed_iteration: int) -> int:
  """Restores the newest checkpoint marked good, reseeds the data; returns its iteration."""
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
  run = setup(config, workdir)
  stop = runtime.StopFlag()
  stop.install()
  last = {}
  total = run.rc.train.iterations
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
      if done % run.rc.train.checkpoint_every == 0 or done == total or stop:
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
  if run.rc.train.plots and (run.start < total) and jax.process_index() == 0:
    try:
      plots.plot_run(workdir)
    except FileNotFoundError:
      pass
  return last


def main(argv):
  del argv
  if _CONFIG.value is None or not _WORKDIR.value:
    raise app.UsageError("--config and --workdir are required")
  workdir = _WORKDIR.value  # a URI (gs://...) stays one; a local path becomes absolute
  workdir = os.path.abspath(workdir) if fs.is_local(workdir) else workdir
  pid = int(_CONFIG.value.mesh.get("process_id", -1))
  log = cli.log_to_file(workdir, "log.txt" if pid <= 0 else f"log.p{pid}.txt")
  try:
    train(_CONFIG.value, workdir)
  except ConfigError as e:
    cli.fail(e)
  if jax.process_index() == 0:
    print(f"\nrun directory : {workdir}")
    print(f"checkpoints   : {fs.join(workdir, 'checkpoints')}")
    print(f"metrics       : {fs.join(workdir, 'metrics.jsonl')} (+ tensorboard/)")
    print(f"audit trail   : {fs.join(workdir, 'audit', 'tasks.jsonl')}")
    print(f"plots         : {fs.join(workdir, 'plots', 'curves.png')}")
    print(f"log           : {log}\n")
    print(metrics_lib.summary_table(workdir))
  if jax.process_count() > 1:
    # Leave the distributed service now, not from interpreter teardown (where the other
    # processes may wait on atexit handlers past the shutdown barrier's deadline).
    jax.distributed.shutdown()


if __name__ == "__main__":
  cli.run(main)
