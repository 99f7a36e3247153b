"""Held-out Reasoner accuracy of a world run's checkpoints, graded against the generator.

  acc = heldout.accuracy(model, items)   # {"test_d1": .., "test": .., "dev": .., "overall": ..}
  curve = heldout.run_curve(run_workdir, items)   # {step: accuracy dict} for every checkpoint
  acc = heldout.accuracy(model, items, sets_of=ladder.sets_of)   # a world's own pooling

Protocol: the evaluation runner's (`eval.runner.run_items`): the training Reasoner prompt in
the run's layout, greedy decoding, the last `\\boxed{}` compared with the generator's value.
"""

from __future__ import annotations

from typing import Callable, Sequence

from spice_jax.eval import runner


def accuracy(model, items: Sequence, *, template: str = "chat", max_new_tokens: int = 48,
             batch_size: int = 256, pool=None, engine=None,
             sets_of: Callable[[str], Sequence[str]] | None = None) -> dict[str, float]:
  """Greedy accuracy of `model` (a `models.Model`) on `items`, per benchmark, per held-out
  set (`_by_set`, pooled by `sets_of`) and overall.
  engine: the sampling engine's settings (`sampling.config.EngineConfig`; None: defaults)."""
  from spice_jax.sampling import Sampler
  sampler = Sampler(model.config, model.mesh, dtype=model.dtype,
                    **(engine.sampler_kwargs() if engine is not None else {}))
  stop = tuple(model.stop_ids)

  def generate_fn(prompts, **kw):
    return sampler(model.params, prompts, stop_ids=stop, **kw)

  proto = runner.Protocol(max_new_tokens=int(max_new_tokens), template=template,
                          batch_size=int(batch_size))
  res = runner.run_items(generate_fn, model.tokenizer, items, proto, pool=pool)
  return _by_set(items, [bool(r["correct"]) for r in res.records], sets_of)


def prefix_set(benchmark: str) -> tuple[str, ...]:
  """The default pooling: a benchmark `new_d1` belongs to the held-out set `new` (its name
  before the last "_")."""
  return (benchmark.rsplit("_", 1)[0],)


def _by_set(items: Sequence, correct: Sequence[bool],
            sets_of: Callable[[str], Sequence[str]] | None = None) -> dict[str, float]:
  """Accuracy per benchmark (`new_d1`), per held-out set and over every item (`overall`).
  sets_of(benchmark) -> the sets that pool it (default `prefix_set`: `new_d1` -> `new`; a
  world may pool otherwise, e.g. `data.ladder.sets_of` keeps depth 1 out of `dev`)."""
  sets_of = sets_of or prefix_set
  groups: dict[str, list[bool]] = {"overall": list(correct)}
  for it, c in zip(items, correct):
    groups.setdefault(it.benchmark, []).append(c)
    for s in sets_of(it.benchmark):
      groups.setdefault(s, []).append(c)
  return {k: sum(v) / len(v) for k, v in groups.items() if v}


def run_curve(workdir: str, items: Sequence, *, steps: Sequence[int] | None = None,
              **kw) -> dict[int, dict[str, float]]:
  """`accuracy` at every (or the given) checkpoint step of a training run directory (with
  the run's engine settings unless `engine` is given; `kw`: `accuracy`'s, e.g. sets_of)."""
  from spice_jax.eval import coevolution
  from spice_jax.sampling.config import EngineConfig
  from spice_jax.utils import checkpointing
  out = {}
  if "engine" not in kw:
    meta_config = checkpointing.read_meta(workdir)[1].get("config") or {}
    kw["engine"] = EngineConfig.from_config(meta_config.get("engine", {}))
  for s in (steps if steps is not None else coevolution.checkpoint_steps(workdir)):
    model, _ = checkpointing.load_params(workdir, s)
    out[int(s)] = accuracy(model, items, **kw)
  return out
