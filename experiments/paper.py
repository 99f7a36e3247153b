"""Shared builder for the paper runs (SPEC §6): model x hardware.

Hardware layouts (mesh = ('data', 'fsdp', 'tensor')):
  v5p-64   : 32 chips (64 TensorCores as 32 devices), FSDP over all chips.
  v6e-64   : 64 chips, 32 GB HBM each: FSDP 16 x data 4.
  h100x8   : one 8x H100 80 GB node: FSDP over 8 GPUs.
"""

from experiments import base

MODELS = {
    # name: (preset with the same shape, default local checkpoint path, reasoner template)
    "qwen3_4b": ("qwen3-4b", "/data/models/Qwen3-4B-Base", "qwen3"),
    "qwen3_8b": ("qwen3-8b", "/data/models/Qwen3-8B-Base", "qwen3"),
    "octothinker_3b": ("llama-3.2-3b", "/data/models/OctoThinker-3B-Hybrid-Base", "plain"),
    "octothinker_8b": ("llama-3.1-8b", "/data/models/OctoThinker-8B-Hybrid-Base", "plain"),
}

HARDWARE = {
    "v5p-64": dict(mesh=(1, -1, 1), sampler_batch=512, sampler_mesh=(1, 1, -1)),
    "v6e-64": dict(mesh=(4, -1, 1), sampler_batch=512, sampler_mesh=(1, 1, -1)),
    "h100x8": dict(mesh=(1, -1, 1), sampler_batch=256, sampler_mesh=(1, 1, -1)),
}


def paper_config(model: str, hardware: str = "v5p-64"):
  if model not in MODELS:
    raise ValueError(f"model {model!r}: one of {sorted(MODELS)}")
  if hardware not in HARDWARE:
    raise ValueError(f"hardware {hardware!r}: one of {sorted(HARDWARE)}")
  preset, path, template = MODELS[model]
  hw = HARDWARE[hardware]
  c = base.get_config()
  c.model.source = path
  c.model.arch = preset                 # the checkpoint must have this shape (plans use it)
  c.spice.chat_layout = template
  c.mesh.shape = hw["mesh"]
  c.train.sampler_batch = hw["sampler_batch"]
  c.train.sampler_mesh = hw["sampler_mesh"]   # each host samples with heads split over its chips
  # The engine's pool and its programs' copies of it within 85% of HBM: the plan and
  # `plan --compile` then leave the 10% margin their fit line asks for.
  c.engine.hbm_fraction = 0.85
  c.train.sampling = "host_local"   # each host samples its own documents; the update is global
  c.corpus.data_dir = "/data/spice_corpus"  # built with spice_jax.data.build_corpus (README)
  return c
