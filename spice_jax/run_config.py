"""A training run's whole config as typed, frozen sections, each validated by its owner.

`RunConfig.from_config(config)` is the one check before any heavy work: the trainer's own
sections (model, mesh, corpus, train) are defined here; `spice`, `rl` and `guard` belong to
their components (`spice.config.SpiceConfig`, `rl.config.RLConfig`, `guard.GuardConfig`).
Unknown fields anywhere raise `ConfigError` naming the nearest known field.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Mapping

from spice_jax import guard as guard_lib
from spice_jax.rl.config import RLConfig
from spice_jax.sampling.config import EngineConfig
from spice_jax.spice.config import FIXED_CHALLENGERS, SpiceConfig
from spice_jax.utils import configs, fs
from spice_jax.utils.configs import ConfigError

DTYPES = ("float32", "bfloat16")
SAMPLING = ("global", "host_local")


def check_arch(section: ModelSection, cfg) -> None:
  """Raises ConfigError when the loaded model's shape differs from `model.arch`."""
  if not section.arch:
    return
  from spice_jax import models
  want = models.PRESETS[section.arch]
  fields = ("vocab_size", "d_model", "n_layers", "n_heads", "n_kv_heads", "head_dim",
            "mlp_dim", "tie_embeddings", "family")
  diff = [f"{f}={getattr(cfg, f)} (arch: {getattr(want, f)})" for f in fields
          if getattr(cfg, f) != getattr(want, f)]
  configs.need(not diff, "model.source", f"{section.source!r} is not a {section.arch} "
               f"(config.model.arch): {', '.join(diff)}")


def model_source_ok(src: str) -> bool:
  """A preset name, an existing directory (HF checkpoint or run dir) or a .gguf file."""
  from spice_jax import models
  return src in models.PRESETS or fs.path(src).is_dir() or (src.endswith(".gguf")
                                                             and fs.path(src).is_file())


@dataclasses.dataclass(frozen=True)
class ModelSection:
  source: str = "qwen3-4b"      # preset name, HF checkpoint dir, .gguf file, or a run dir
  dtype: str = "bfloat16"       # compute dtype; master weights stay float32
  remat: bool = True            # per-layer rematerialisation in the update
  # The architecture preset this source must have (""= any). Plans and shape checks use it
  # before the weights exist; the trainer refuses a source of another shape.
  arch: str = ""
  # Training attention (spice_jax/models/attention.py): "auto" picks by the mesh's platform.
  attention: str = "auto"

  def validate(self) -> None:
    from spice_jax import models
    from spice_jax.models.config import ATTENTION_IMPLS
    configs.one_of(self.attention, ATTENTION_IMPLS, "model.attention")
    configs.need(not self.arch or self.arch in models.PRESETS, "model.arch",
                 f"{self.arch!r} is not a preset: one of {sorted(models.PRESETS)}")
    configs.need(bool(self.source), "model.source", "empty; give a preset name, an HF "
                 "checkpoint directory, a .gguf file or a run directory")
    configs.need(model_source_ok(self.source), "model.source", f"{self.source!r} is not a "
                 "preset, an existing directory, nor an existing .gguf file")
    configs.one_of(self.dtype, DTYPES, "model.dtype")


@dataclasses.dataclass(frozen=True)
class MeshSection:
  shape: tuple[int, ...] = (-1, 1, 1)   # ('data', 'fsdp', 'tensor'); one -1 fills
  coordinator_address: str = ""         # multi-host: jax.distributed.initialize(...)
  num_processes: int = 0
  process_id: int = -1

  def validate(self) -> None:
    configs.need(len(self.shape) == 3, "mesh.shape", "three sizes (data, fsdp, tensor)")

  @property
  def distributed(self) -> bool:
    return bool(self.coordinator_address or self.num_processes)


@dataclasses.dataclass(frozen=True)
class CorpusSection:
  enabled: bool = True          # False = ungrounded self-play (no_corpus, r_zero)
  data_dir: str = ""            # a built corpus (python -m spice_jax.data.build_corpus)
  build_demo: bool = False      # build the bundled demo corpus into the workdir
  weights: dict[str, float] = dataclasses.field(default_factory=dict)
  max_doc_tokens: int = 5992

  def validate(self) -> None:
    if not self.enabled:
      return
    configs.need(self.build_demo or self.data_dir, "corpus.data_dir",
                 "empty; build a corpus (python -m spice_jax.data.build_corpus) or set "
                 "corpus.build_demo=True, or corpus.enabled=False for ungrounded self-play")
    configs.need(self.build_demo or fs.path(self.data_dir).is_dir(), "corpus.data_dir",
                 f"{self.data_dir!r} does not exist")
    configs.need(self.max_doc_tokens >= 1, "corpus.max_doc_tokens", "must be >= 1")


@dataclasses.dataclass(frozen=True)
class TrainSection:
  iterations: int = 640
  checkpoint_every: int = 10
  keep_checkpoints: int = 3
  keep_period: int = 100        # also keep every M-th checkpoint (0: no)
  audit: bool = True
  plots: bool = True
  eval_every: int = 0           # 0: no in-training evaluation
  eval_data_dir: str = ""
  eval_benchmarks: str = ""
  eval_max_items: int = 64
  sampler_batch: int = 256      # rows per sampler call (the sampler pads/buckets)
  # "global": one sampler over the training mesh; "host_local": every process plays its own
  # slice of the documents on its own devices (weights copied per host), only the update is
  # global (issue: pod scale).
  sampling: str = "global"
  # The host-local sampler's mesh over one process's devices ('data', 'fsdp', 'tensor'):
  # (-1, 1, 1) replicates the weights and pool on every chip; (1, 1, -1) splits heads.
  sampler_mesh: tuple = (-1, 1, 1)
  # Persistent XLA compilation cache (compiled programs reused across runs): "auto" = the
  # cache root's xla/ ($SPICE_JAX_CACHE, else ~/.cache/spice_jax), "" = off, or a directory.
  compile_cache: str = "auto"

  def validate(self) -> None:
    configs.need(self.iterations >= 1, "train.iterations", "must be >= 1")
    configs.need(self.checkpoint_every >= 1, "train.checkpoint_every", "must be >= 1")
    configs.need(self.sampler_batch >= 1, "train.sampler_batch", "must be >= 1")
    configs.one_of(self.sampling, SAMPLING, "train.sampling")
    shape = tuple(self.sampler_mesh)
    configs.need(len(shape) == 3 and all(isinstance(x, int) and (x >= 1 or x == -1)
                                         for x in shape) and shape.count(-1) <= 1,
                 "train.sampler_mesh", f"must be 3 ints >= 1 with at most one -1 "
                 f"(data, fsdp, tensor), got {self.sampler_mesh!r}")
    if self.eval_every > 0:
      configs.need(fs.path(self.eval_data_dir).is_dir(), "train.eval_data_dir",
                   f"{self.eval_data_dir!r} is not a directory (needed when "
                   "train.eval_every > 0)")


SECTIONS = {"model": ModelSection, "mesh": MeshSection, "corpus": CorpusSection,
            "spice": SpiceConfig, "rl": RLConfig, "train": TrainSection,
            "engine": EngineConfig}


@dataclasses.dataclass(frozen=True)
class RunConfig:
  seed: int
  model: ModelSection
  mesh: MeshSection
  corpus: CorpusSection
  spice: SpiceConfig
  rl: RLConfig
  train: TrainSection
  guard: Any
  engine: EngineConfig = EngineConfig()

  @classmethod
  def from_config(cls, config: Any) -> "RunConfig":
    known = ["seed", "guard", *SECTIONS]
    for k in config.keys():
      if k not in known:
        raise ConfigError(configs.unknown_field_message(
            k, configs.flat_keys(config) + known))
    parts = {name: (section.from_config(config.get(name, {})) if hasattr(section, "from_config")
                    else configs.from_section(section, config.get(name, {}), name))
             for name, section in SECTIONS.items()}
    try:
      guard = guard_lib.GuardConfig.from_config(config.get("guard"))
    except (guard_lib.GuardError, ValueError, TypeError) as e:
      raise ConfigError(f"config.guard: {e}") from e
    run = cls(seed=int(config.get("seed", 0)), guard=guard, **parts)
    sp = run.spice
    configs.need(sp.challenger in FIXED_CHALLENGERS or model_source_ok(sp.challenger),
                 "spice.challenger", f"{sp.challenger!r}: policy | initial | an existing "
                 "model source")
    return run


# ------------------------------------------------------------------------ resume

# Fields a resumed run cannot change: the checkpoint holds state that means something only
# under the value it was saved with. Everything else (learning rate, iterations, SPICE and
# guard settings, dtype, the mesh shape: orbax restores onto the new mesh's shardings) may
# change at a resume; the change is recorded (an audit event `config_changed` and the
# earlier config kept as `config.<step>.json`).
FIXED_AT_RESUME = {
    "model.source": "the checkpoint's parameters and tokenizer are this model's",
    "model.arch": "the checkpoint's parameters have this architecture",
    "corpus.enabled": "the saved data-iterator position belongs to this corpus",
    "corpus.data_dir": "the saved data-iterator position belongs to this corpus",
    "corpus.build_demo": "the saved data-iterator position belongs to this corpus",
    "corpus.weights": "the saved data-iterator position belongs to this corpus mixture",
}


def _clip_on(v) -> bool:
  return v is not None and float(v) > 0


# Fields whose value may change but not in a way that changes the optimizer state's tree:
# gradient clipping on/off adds or removes a link of the optax chain.
STRUCTURE_AT_RESUME = {
    "rl.clip_norm": (_clip_on, "switching gradient clipping on or off changes the "
                               "optimizer state's structure"),
}


def flat_dict(d: Mapping, prefix: str = "") -> dict[str, Any]:
  """{"a": {"b": 1}} -> {"a.b": 1} (mappings flattened; lists and scalars are leaves)."""
  out = {}
  for k, v in d.items():
    if isinstance(v, Mapping) and v:
      out.update(flat_dict(v, f"{prefix}{k}."))
    else:
      out[f"{prefix}{k}"] = v
  return out


def config_diff(old: Mapping, new: Mapping) -> dict[str, list]:
  """Dotted field -> [old value, new value] for every field that differs (None: absent)."""
  a, b = flat_dict(old), flat_dict(new)
  return {k: [a.get(k), b.get(k)] for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def _same_place(a, b) -> bool:
  """Two model/corpus sources naming the same local directory count as equal."""
  if a == b or not (isinstance(a, str) and isinstance(b, str)):
    return a == b
  return (fs.is_local(a) and fs.is_local(b) and os.path.exists(a)
          and os.path.realpath(a) == os.path.realpath(b))


def check_resume(old: Mapping, new: Mapping) -> dict[str, list]:
  """The diff of a resumed run's config against the one its checkpoint ran with.

  Raises ConfigError naming the first field the checkpoint cannot honour. A field the
  recorded config lacks (written before the field existed) is recorded, never refused.
  """
  diff = config_diff(old, new)
  for name, (was, now) in diff.items():
    if was is None and name not in flat_dict(old):
      continue
    if name in FIXED_AT_RESUME and not _same_place(was, now):
      raise ConfigError(f"config.{name}: {now!r} differs from {was!r} that the checkpoint "
                        f"was trained with ({FIXED_AT_RESUME[name]}); start a new workdir")
    if name in STRUCTURE_AT_RESUME:
      key, why = STRUCTURE_AT_RESUME[name]
      configs.need(key(was) == key(now), name, f"{now!r} differs from {was!r} that the "
                   f"checkpoint was trained with ({why}); start a new workdir")
  return diff


CONFIG_FILE = "config.json"


def resume_diff(config: Any, workdir: str) -> dict[str, list] | None:
  """Checks `config` against the workdir's recorded config when it has checkpoints.

  Returns the diff (maybe empty), or None for a fresh workdir. Reads only small files, so
  a refused change fails before any model is loaded.
  """
  recorded = fs.path(fs.join(workdir, CONFIG_FILE))
  ckpts = fs.path(fs.join(workdir, "checkpoints"))
  if not (recorded.exists() and ckpts.is_dir()
          and any(d.name.isdigit() for d in ckpts.iterdir())):
    return None
  return check_resume(json.loads(recorded.read_text()),
                      json.loads(config.to_json_best_effort()))


def save_config(config: Any, workdir: str, *, step: int | None = None,
                diff: Mapping | None = None) -> str | None:
  """Writes config.json; on a resume that changed it, first keeps the earlier one.

  Returns the path the earlier config was kept at (None when nothing changed).
  """
  kept = None
  if step is not None and diff:
    n, kept = 0, fs.join(workdir, f"config.{step}.json")
    while fs.path(kept).exists():
      n += 1
      kept = fs.join(workdir, f"config.{step}.{n}.json")
    fs.write_text_atomic(kept, fs.path(fs.join(workdir, CONFIG_FILE)).read_text())
  fs.write_text_atomic(fs.join(workdir, CONFIG_FILE), config.to_json_best_effort(indent=2))
  return kept
