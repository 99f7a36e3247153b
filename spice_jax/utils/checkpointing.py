"""Orbax checkpoints of a run: params, optimizer state, and a JSON `meta` item.

Layout: `<workdir>/checkpoints/<step>/{params,opt,meta}`. `meta` holds the iteration, the
RNG seed state, the data-iterator state, the config and the model source, so a restore
needs nothing else. Saves are asynchronous; orbax commits a step atomically (temporary
directory, then rename), and `restore_latest` falls back to the previous step when the
newest one is unreadable (e.g. files damaged after the commit).
"""

from __future__ import annotations

import json
import logging as std_logging
import os
from typing import Any

import jax
import orbax.checkpoint as ocp
from absl import logging

from spice_jax.utils import fs

GOOD_FILE = "good_steps.json"


def abstract_like(tree):
  """ShapeDtypeStructs (with shardings) for restoring onto the same or another mesh."""
  return jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=getattr(x, "sharding", None)),
      tree)


class Checkpointer:
  """Thin wrapper over `ocp.CheckpointManager` with fallback restore and 'good' marks."""

  def __init__(self, directory: str, *, max_to_keep: int = 3, keep_period: int | None = None,
               async_save: bool = True):
    # Local paths absolute (orbax wants them so); URIs (gs://...) as given.
    self.directory = fs.absolute(directory)
    self.manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep, keep_period=keep_period, create=True,
            enable_async_checkpointing=async_save, cleanup_tmp_directories=True))

  # ---------------------------------------------------------------- save / restore
  def save(self, step: int, params, opt, meta: dict[str, Any], *, force: bool = True) -> bool:
    """Starts an (async) save of step `step`. `opt` is any pytree (optimizer state, step)."""
    return self.manager.save(
        step,
        args=ocp.args.Composite(params=ocp.args.StandardSave(params),
                                opt=ocp.args.StandardSave(opt),
                                meta=ocp.args.JsonSave(meta)),
        force=force)

  def wait(self):
    self.manager.wait_until_finished()

  def steps(self) -> list[int]:
    return sorted(self.manager.all_steps())

  def restore(self, step: int, params_like, opt_like):
    out = self.manager.restore(
        step,
        args=ocp.args.Composite(params=ocp.args.StandardRestore(abstract_like(params_like)),
                                opt=ocp.args.StandardRestore(abstract_like(opt_like)),
                                meta=ocp.args.JsonRestore()))
    return out["params"], out["opt"], out["meta"]

  def restore_latest(self, params_like, opt_like, *, only_good: bool = False):
    """Restores the newest readable step (optionally only steps marked good).

    Returns (step, params, opt, meta) or None when there is nothing to restore.
    """
    candidates = self.steps()
    if only_good:
      good = set(self.good_steps())
      candidates = [s for s in candidates if s in good]
    for step in reversed(candidates):
      try:
        params, opt, meta = self.restore(step, params_like, opt_like)
      except Exception as e:  # orbax/tensorstore raise many types for damaged files
        logging.error("checkpoint %s/%d is unreadable (%s: %s); trying the previous one",
                      self.directory, step, type(e).__name__, str(e)[:300])
        continue
      # The run continues from `step`: later steps (unreadable, or not good on a rollback)
      # are set aside, not deleted, so their step numbers can be written again.
      self.set_aside_after(step, "unreadable" if not only_good else "discarded")
      return step, params, opt, meta
    return None

  def set_aside_after(self, step: int, why: str) -> list[str]:
    """Renames checkpoint directories of steps > `step` to `<step>.<why>-<n>`."""
    moved = []
    if jax.process_index() == 0:
      for s in self.steps():
        if s > step:
          src = fs.join(self.directory, str(s))
          n = 0
          while fs.path(f"{src}.{why}-{n}").exists():
            n += 1
          fs.path(src).rename(f"{src}.{why}-{n}")
          moved.append(f"{src}.{why}-{n}")
          logging.warning("checkpoint %s set aside as %s.%s-%d", src, src, why, n)
    if jax.process_count() > 1:
      from jax.experimental import multihost_utils
      multihost_utils.sync_global_devices("checkpoints_set_aside")
    self.manager.reload()
    return moved

  # ---------------------------------------------------------------- good marks
  def _good_path(self):
    return fs.join(self.directory, GOOD_FILE)

  def good_steps(self) -> list[int]:
    try:
      return sorted(int(s) for s in json.loads(fs.path(self._good_path()).read_text()))
    except (FileNotFoundError, json.JSONDecodeError, ValueError):
      return []

  def mark_good(self, step: int) -> None:
    if jax.process_index() != 0:
      return
    good = sorted(set(self.good_steps()) | {int(step)})
    fs.write_text_atomic(self._good_path(), json.dumps(good))

  def close(self):
    self.manager.wait_until_finished()
    self.manager.close()


def checkpoint_dir(workdir: str) -> str:
  return fs.join(workdir, "checkpoints")


def read_meta(workdir_or_ckpt: str, step: int | None = None) -> tuple[int, dict, str]:
  """(step, meta, checkpoint root) of the newest (or given) step, without touching arrays.

  `workdir_or_ckpt` may be relative (to the working directory); the root returned is
  absolute. A missing directory, step or checkpoint is a FileNotFoundError in one line.
  """
  root = fs.path(fs.absolute(workdir_or_ckpt))
  if not root.is_dir():
    raise FileNotFoundError(f"{workdir_or_ckpt}: no such run directory ({root})")
  if (root / "checkpoints").is_dir():
    root = root / "checkpoints"
  steps = sorted(int(d.name) for d in root.iterdir() if d.name.isdigit())
  if not steps:
    raise FileNotFoundError(f"{workdir_or_ckpt}: no checkpoints found in {root}")
  step = steps[-1] if step is None else int(step)
  if step not in steps:
    raise FileNotFoundError(f"{workdir_or_ckpt}: no checkpoint of step {step} (steps: "
                            f"{', '.join(map(str, steps))})")
  meta = json.loads((root / str(step) / "meta" / "metadata").read_text())
  return step, meta, os.fspath(root)


class _ReadOnlyNotice(std_logging.Filter):
  """Drops orbax's warning that a directory we opened read-only is read-only."""

  def filter(self, record) -> bool:
    return "is read only" not in record.getMessage()


def load_params(workdir_or_ckpt: str, step: int | None = None, *, mesh=None):
  """Params of a training checkpoint as a `spice_jax.models.Model` (for eval / export).

  Returns (model, step). The model's config and tokenizer come from the run's model source.
  """
  from spice_jax import models, parallel
  step, meta, root = read_meta(workdir_or_ckpt, step)
  cfg, tok = models.describe(meta["model_source"])   # no weights are read or made
  mesh = mesh or parallel.make_mesh((-1, 1, 1))
  shard = parallel.unbox(models.param_shardings(cfg, mesh))
  abstract = jax.tree.map(lambda a, sh: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sh),
                          parallel.unbox(models.abstract_params(cfg)), shard)
  # Read-only with the settings it implies, and without orbax's notice that it is read-only:
  # an evaluation's terminal shows no warning per checkpoint it loads.
  notice = _ReadOnlyNotice()
  std_logging.getLogger("absl").addFilter(notice)
  try:
    mngr = ocp.CheckpointManager(root, options=ocp.CheckpointManagerOptions(
        read_only=True, save_interval_steps=0, create=False))
  finally:
    std_logging.getLogger("absl").removeFilter(notice)
  out = mngr.restore(step, args=ocp.args.Composite(params=ocp.args.StandardRestore(abstract)))
  mngr.close()
  return models.Model(cfg, out["params"], tok, mesh, meta.get("dtype", "float32"),
                      f"{root}/{step}"), step
