"""A training run's whole config as typed, frozen sections, each validated by its owner.

`RunConfig.from_config(config)` is the one check before any heavy work: the trainer's own
sections (model, mesh, corpus, train) are defined here; `spice`, `rl` and `guard` belong to
their components (`spice.config.SpiceConfig`, `rl.config.RLConfig`, `guard.GuardConfig`).
Unknown fields anywhere raise `ConfigError` naming the nearest known field.
"""

from __future__ import annotations

import dataclasses
from typing import Any

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

  def validate(self) -> None:
    from spice_jax import models
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

  def validate(self) -> None:
    configs.need(self.iterations >= 1, "train.iterations", "must be >= 1")
    configs.need(self.checkpoint_every >= 1, "train.checkpoint_every", "must be >= 1")
    configs.need(self.sampler_batch >= 1, "train.sampler_batch", "must be >= 1")
    configs.one_of(self.sampling, SAMPLING, "train.sampling")
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
