"""What one training iteration asks of the devices, derived from a run config.

`Workload` is a record: the model shape, the mesh, dtypes, the sampler calls of an iteration
(`SamplerCall`: rows, distinct prompts, prompt and generation lengths) and the update batch
(`UpdateShape`). Lengths the config does not fix (template and question tokens) come from
`Assumptions`, printed with every plan.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

from spice_jax.errors import SpiceError
from spice_jax.models import presets
from spice_jax.models.config import ModelConfig, read_hf_config
from spice_jax.parallel import mesh as mesh_lib
from spice_jax.utils.shapes import pow2_at_least


class WorkloadError(SpiceError, ValueError):
  pass


@dataclasses.dataclass(frozen=True)
class Assumptions:
  """Numbers the plan needs that a config does not fix (all printed in the plan).

  template_tokens: Challenger template tokens around the document.
  question_tokens: Reasoner prompt tokens (template + the Challenger's question).
  verify_seconds: host CPU seconds to verify one Reasoner answer (math-verify).
  full_length: every sampler call decodes to its max_new_tokens (static batches wait for the
    longest row; an upper bound when outputs stop early).
  chips_per_host: devices of one host (train.sampling="host_local": each host samples its
    own documents on these, with a full copy of the weights).
  """
  template_tokens: int = 512
  question_tokens: int = 512
  verify_seconds: float = 0.05
  full_length: bool = True
  chips_per_host: int = 4


@dataclasses.dataclass(frozen=True)
class SamplerCall:
  """A group of identical sampler calls: `calls` calls of `batch` rows (bucketed), each with
  `unique` distinct prompts of `prompt` slots, decoding `new` token slots."""
  role: str
  calls: int
  batch: int
  unique: int
  prompt: int
  new: int

  @property
  def rows(self) -> int:
    return self.calls * self.batch


@dataclasses.dataclass(frozen=True)
class UpdateShape:
  """The update's batch: rows (padded), T positions, minibatch and micro-batch rows."""
  rows: int
  T: int
  minibatch: int
  microbatch: int


@dataclasses.dataclass(frozen=True)
class Workload:
  model: ModelConfig
  mesh: tuple[int, int, int]      # (data, fsdp, tensor)
  compute_bytes: int              # 2 (bfloat16) or 4 (float32)
  cache_bytes: int                # the sampler's KV cache dtype
  remat: bool
  ref_params: bool                # kl_beta > 0: a frozen reference copy
  frozen_challenger: bool         # spice.challenger == "initial": a frozen params copy
  decode_phases: int
  calls: tuple[SamplerCall, ...]
  update: UpdateShape
  answers: int                    # Reasoner answers verified per iteration (all hosts)
  verify_workers: int
  hosts: int = 1                  # hosts sharing the host work (1: replicated on every host)
  sampler_shards: int = 0         # devices a sampler call's rows are split over (0: batch)
  sampler_replicated: bool = False  # host-local sampling: full weights on every device
  platform: str = "cpu"           # what "auto" settings resolve for (the layout's chips)
  attention: str = "dense"        # the update's attention, resolved for the platform
  engine: Any = None              # sampling.config.EngineConfig (None: the defaults)
  sampler_mesh: tuple[int, int, int] = (0, 0, 0)  # the sampler's mesh ((0,0,0): `mesh`)

  @property
  def sampler_batch_shards(self) -> int:
    return self.sampler_shards or self.batch_shards

  @property
  def sampler_axes(self) -> tuple[int, int, int]:
    """(data, fsdp, tensor) of the mesh the sampler runs on."""
    return self.sampler_mesh if any(self.sampler_mesh) else self.mesh

  @property
  def chips(self) -> int:
    return math.prod(self.mesh)

  @property
  def batch_shards(self) -> int:
    return self.mesh[0] * self.mesh[1]




def model_config(config) -> ModelConfig:
  """The architecture of config.model: its preset, else a preset-named source, else the HF
  checkpoint directory's config.json."""
  name = config.model.get("arch") or config.model.source
  if name in presets.PRESETS:
    return presets.get(name)
  if os.path.isdir(config.model.source):
    return read_hf_config(config.model.source)
  raise WorkloadError(
      f"config.model: cannot tell the architecture of source {config.model.source!r} (not a "
      f"preset, not a checkpoint directory here); set --config.model.arch to one of "
      f"{sorted(presets.PRESETS)}")


def _calls(role, rows, copies, prompt, new, sampler_batch, shards) -> SamplerCall:
  """Rows split into sampler calls of `sampler_batch`, bucketed like `Sampler.shapes_for`."""
  per = min(rows, sampler_batch)
  bucket = lambda n: shards * pow2_at_least(-(-n // shards))
  b = bucket(per)
  u = bucket(max(1, per // copies))
  return SamplerCall(role, calls=-(-rows // per), batch=b, unique=u if u < b else b,
                     prompt=pow2_at_least(prompt, 16), new=pow2_at_least(new, 16))


def update_length(longest: int, config) -> int:
  """The update's longest micro-batch length: the bucket `spice.batch.make_batch` puts a
  row of `longest` tokens in (targets are shifted by one; 1.5 x 2^k buckets when
  rl.geometric_buckets)."""
  from spice_jax.spice import batch as batch_lib
  return batch_lib.bucket_length(longest - 1, min_length=16,
                                 geometric=bool(config.rl.get("geometric_buckets", False)))


def from_config(config, chips: int, assume: Assumptions = Assumptions(),
                platform: str = "cpu") -> Workload:
  """The iteration of `config` on `chips` devices of `platform` (the mesh's -1 filled)."""
  from spice_jax.models import attention as attention_lib
  from spice_jax.sampling.config import EngineConfig
  cfg = model_config(config)
  shape = tuple(int(x) for x in config.mesh.shape)
  if -1 not in shape and 0 < math.prod(shape) < chips:  # as make_mesh: the first devices
    chips = math.prod(shape)
  try:
    mesh = mesh_lib.resolve_shape(shape, chips)
  except mesh_lib.MeshError as e:
    raise WorkloadError(f"config.mesh.shape on {chips} chips: {e}") from e
  dtype = config.model.dtype
  if dtype not in ("bfloat16", "float32"):
    raise WorkloadError(f"config.model.dtype: {dtype!r} is not bfloat16 or float32")
  sp = config.spice
  B, G, K = int(sp.num_docs), int(sp.group_size), int(sp.num_answers)
  shards = mesh[0] * mesh[1]
  host_local = config.train.get("sampling", "global") == "host_local"
  per_host = min(assume.chips_per_host, chips)
  hosts = max(1, chips // per_host) if host_local else 1
  B_all, B = B, -(-B // hosts)            # the sampler calls of one host
  sb = int(config.train.sampler_batch)
  grounded = bool(config.corpus.enabled)
  doc = int(config.corpus.max_doc_tokens) if grounded else 0
  chal_prompt = doc + assume.template_tokens
  calls = []
  if sp.format_selection == "model" and len(sp.formats) > 1 and grounded:
    calls.append(_calls("format", B, 1, chal_prompt, int(sp.format_selection_max_tokens), sb,
                        shards))
  first_round = max(G, int(sp.round_size))
  calls.append(_calls("challenger", B * first_round, first_round, chal_prompt,
                      int(sp.challenger_max_tokens), sb, shards))
  calls.append(_calls("reasoner", B * G * K, K, assume.question_tokens,
                      int(sp.reasoner_max_tokens), sb, shards))
  from spice_jax.spice import rewards as rewards_lib
  if grounded and rewards_lib.needs_grounded(str(sp.challenger_reward)):
    # grounding_regret: K more answers per task with the document in the prompt (untrained)
    calls.append(_calls("reasoner_grounded", B * G * K, K, doc + assume.question_tokens,
                        int(sp.reasoner_max_tokens), sb, shards))
  rows = B_all * G * K + (B_all * G if sp.train_challenger else 0)
  longest = max(chal_prompt + int(sp.challenger_max_tokens) if sp.train_challenger else 0,
                assume.question_tokens + int(sp.reasoner_max_tokens))
  mb = int(config.rl.minibatch_size)
  multiple = math.lcm(mb, shards)
  rows = -(-rows // multiple) * multiple
  mb = min(mb, rows)
  micro = shards  # make_batch's micro-batches: one row per device
  try:
    engine = EngineConfig.from_config(config.get("engine"))
  except SpiceError as e:
    raise WorkloadError(str(e)) from e
  kv = engine.kv_dtype if engine.kv_dtype != "auto" else (
      "float32" if platform == "cpu" else "bfloat16")
  sampler_mesh = (0, 0, 0)
  if host_local:
    try:
      sampler_mesh = mesh_lib.resolve_shape(
          tuple(int(x) for x in config.train.get("sampler_mesh", (-1, 1, 1))), per_host)
    except mesh_lib.MeshError as e:
      raise WorkloadError(f"config.train.sampler_mesh on {per_host} chips: {e}") from e
  return Workload(
      model=cfg, mesh=mesh, compute_bytes=2 if dtype == "bfloat16" else 4,
      cache_bytes=2 if kv == "bfloat16" else 4,
      remat=bool(config.model.remat), ref_params=float(config.rl.kl_beta) > 0,
      frozen_challenger=sp.challenger == "initial", decode_phases=3, calls=tuple(calls),
      update=UpdateShape(rows=rows, T=update_length(longest, config), minibatch=mb,
                         microbatch=micro),
      answers=B_all * G * K * (2 if any(c.role == "reasoner_grounded" for c in calls) else 1),
      verify_workers=int(sp.verify_workers), hosts=hosts,
      sampler_shards=per_host if host_local else 0, sampler_replicated=host_local,
      platform=platform, attention=attention_lib.resolve(
          config.model.get("attention", "auto"), platform),
      engine=engine, sampler_mesh=sampler_mesh)
