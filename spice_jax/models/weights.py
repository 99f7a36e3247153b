"""Weight import (HF safetensors directories, GGUF files) and export (HF directories).

Each parameter of our tree has one HF tensor name and a pair of numpy transforms. Import
reads one tensor at a time and places it straight onto its target sharding with
`jax.make_array_from_callback`, so a host never holds a second full copy of the model.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Iterator

import jax
import numpy as np

from spice_jax.errors import SpiceError
from spice_jax.models.config import ModelConfig, ModelConfigError, RopeScaling, to_hf_config


class WeightsError(SpiceError, ValueError):
  """A checkpoint we cannot read: missing/truncated file, missing tensor, wrong shape."""


Transform = Callable[[np.ndarray], np.ndarray]


def _param_table(cfg: ModelConfig) -> list[tuple[tuple[str, ...], str, Transform, Transform]]:
  """(our path, HF name, hf->ours, ours->hf) for every parameter."""
  D, H, K, Dh = cfg.d_model, cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
  T = lambda a: np.ascontiguousarray(a.T)
  ident = lambda a: a

  def in_proj(n):  # HF [n*Dh, D] <-> ours [D, n, Dh]
    return (lambda a: T(a).reshape(D, n, Dh), lambda a: T(a.reshape(D, n * Dh)))

  out_proj = (lambda a: T(a).reshape(H, Dh, D), lambda a: T(a.reshape(H * Dh, D)))
  rows = [(("embed",), "model.embed_tokens.weight", ident, ident)]
  for i in range(cfg.n_layers):
    p, h = f"layers_{i}", f"model.layers.{i}"
    rows += [
        ((p, "attn_norm", "scale"), f"{h}.input_layernorm.weight", ident, ident),
        ((p, "attn", "q"), f"{h}.self_attn.q_proj.weight", *in_proj(H)),
        ((p, "attn", "k"), f"{h}.self_attn.k_proj.weight", *in_proj(K)),
        ((p, "attn", "v"), f"{h}.self_attn.v_proj.weight", *in_proj(K)),
        ((p, "attn", "o"), f"{h}.self_attn.o_proj.weight", *out_proj),
        ((p, "mlp_norm", "scale"), f"{h}.post_attention_layernorm.weight", ident, ident),
        ((p, "mlp", "gate"), f"{h}.mlp.gate_proj.weight", T, T),
        ((p, "mlp", "up"), f"{h}.mlp.up_proj.weight", T, T),
        ((p, "mlp", "down"), f"{h}.mlp.down_proj.weight", T, T),
    ]
    if cfg.qk_norm:
      rows += [((p, "attn", "q_norm", "scale"), f"{h}.self_attn.q_norm.weight", ident, ident),
               ((p, "attn", "k_norm", "scale"), f"{h}.self_attn.k_norm.weight", ident, ident)]
  rows.append((("final_norm", "scale"), "model.norm.weight", ident, ident))
  if not cfg.tie_embeddings:
    rows.append((("lm_head",), "lm_head.weight", T, T))
  return rows


def _get(tree, path):
  for k in path:
    tree = tree[k]
  return tree


def _set(tree, path, value):
  for k in path[:-1]:
    tree = tree.setdefault(k, {})
  tree[path[-1]] = value


def place(cfg: ModelConfig, abstract, shardings, read: Callable[[str], np.ndarray],
          source: str) -> dict:
  """Builds the param tree by reading each HF-named tensor and putting it on its sharding.

  Args:
    abstract: unboxed tree of `jax.ShapeDtypeStruct` (target shapes).
    shardings: matching tree of `NamedSharding`.
    read: HF tensor name -> numpy array (any float dtype).
  """
  params: dict = {}
  for path, name, to_ours, _ in _param_table(cfg):
    want = _get(abstract, path)
    arr = to_ours(read(name)).astype(np.float32)
    if arr.shape != tuple(want.shape):
      raise WeightsError(f"{source}: tensor {name!r} gives shape {arr.shape} after conversion, "
                         f"expected {tuple(want.shape)} for config {cfg.family} "
                         f"d_model={cfg.d_model}")
    sharding = _get(shardings, path)
    _set(params, path, jax.make_array_from_callback(arr.shape, sharding,
                                                    lambda idx, a=arr: a[idx]))
    del arr
  return params


# ---------------------------------------------------------------- HF safetensors directories


class SafetensorsReader:
  """Lazy reader over `model.safetensors` or an indexed set of shards."""

  def __init__(self, directory: str):
    self.directory = directory
    index = os.path.join(directory, "model.safetensors.index.json")
    if os.path.exists(index):
      try:
        with open(index) as f:
          self.where = dict(json.load(f)["weight_map"])
      except (json.JSONDecodeError, KeyError) as e:
        raise WeightsError(f"{index}: not a safetensors index ({e})") from e
    else:
      single = os.path.join(directory, "model.safetensors")
      if not os.path.exists(single):
        raise WeightsError(f"{directory}: no model.safetensors or model.safetensors.index.json")
      self.where = None
      self._single = "model.safetensors"
    self._handles: dict[str, Any] = {}

  def _open(self, fname: str):
    if fname not in self._handles:
      from safetensors import safe_open
      path = os.path.join(self.directory, fname)
      if not os.path.exists(path):
        raise WeightsError(f"{path}: missing (listed in the checkpoint index)")
      try:
        self._handles[fname] = safe_open(path, framework="numpy")
      except Exception as e:  # safetensors raises SafetensorError (not exported portably)
        raise WeightsError(f"{path}: unreadable safetensors file, truncated or corrupt ({e})") from e
    return self._handles[fname]

  def names(self) -> set[str]:
    if self.where is not None:
      return set(self.where)
    return set(self._open(self._single).keys())

  def __call__(self, name: str) -> np.ndarray:
    fname = self._single if self.where is None else self.where.get(name)
    if fname is None:
      raise WeightsError(f"{self.directory}: tensor {name!r} not in the checkpoint index")
    h = self._open(fname)
    if name not in h.keys():
      raise WeightsError(f"{os.path.join(self.directory, fname)}: tensor {name!r} missing")
    try:
      t = h.get_tensor(name)
    except Exception as e:
      raise WeightsError(f"{os.path.join(self.directory, fname)}: cannot read {name!r}, "
                         f"file truncated or corrupt ({e})") from e
    return _to_float(t)


def _to_float(t: np.ndarray) -> np.ndarray:
  if t.dtype == np.uint16:  # bf16 stored raw by some writers
    return (t.astype(np.uint32) << 16).view(np.float32)
  return np.asarray(t, dtype=np.float32) if t.dtype != np.float32 else t


# ----------------------------------------------------------------------------------- GGUF


def gguf_config(reader) -> ModelConfig:
  """ModelConfig from GGUF metadata (llama / qwen3 architectures)."""
  def f(key, default=None):
    fld = reader.fields.get(key)
    return default if fld is None else fld.contents()

  arch = f("general.architecture")
  if arch not in ("llama", "qwen3"):
    raise ModelConfigError(f"GGUF architecture {arch!r} unsupported (llama, qwen3)")
  names = {t.name for t in reader.tensors}
  d = int(f(f"{arch}.embedding_length"))
  heads = int(f(f"{arch}.attention.head_count"))
  tokens = f("tokenizer.ggml.tokens") or []
  vocab = int(f(f"{arch}.vocab_size", len(tokens)))
  key_len = f(f"{arch}.attention.key_length")
  eos = f("tokenizer.ggml.eos_token_id")
  scaling = None
  if f(f"{arch}.rope.scaling.type") == "llama3" or "rope_freqs.weight" in names:
    raise ModelConfigError("GGUF with llama3 rope_freqs: import from the HF directory instead")
  return ModelConfig(
      family="qwen3" if arch == "qwen3" else "llama",
      vocab_size=vocab, d_model=d, n_layers=int(f(f"{arch}.block_count")), n_heads=heads,
      n_kv_heads=int(f(f"{arch}.attention.head_count_kv", heads)),
      head_dim=int(key_len) if key_len else d // heads,
      mlp_dim=int(f(f"{arch}.feed_forward_length")),
      rms_eps=float(np.float32(f(f"{arch}.attention.layer_norm_rms_epsilon", 1e-5))),
      rope_theta=float(f(f"{arch}.rope.freq_base", 10000.0)), rope_scaling=scaling,
      tie_embeddings="output.weight" not in names,
      max_seq_len=int(f(f"{arch}.context_length", 8192)),
      bos_id=f("tokenizer.ggml.bos_token_id"), eos_ids=(int(eos),) if eos is not None else (),
      pad_id=f("tokenizer.ggml.padding_token_id"))


def _unpermute(w: np.ndarray, n_heads: int) -> np.ndarray:
  """Inverse of llama.cpp's Q/K row permutation (interleaved -> half-split RoPE)."""
  return (w.reshape(n_heads, w.shape[0] // n_heads // 2, 2, *w.shape[1:])
          .swapaxes(1, 2).reshape(w.shape))


class GGUFTensorReader:
  """HF tensor name -> dequantised numpy array from a GGUF file."""

  def __init__(self, reader, cfg: ModelConfig, path: str):
    self.cfg, self.path = cfg, path
    self.tensors = {t.name: t for t in reader.tensors}
    self.arch_permuted = cfg.family == "llama"

  def _hf_to_gguf(self, name: str) -> str:
    table = {
        "model.embed_tokens.weight": "token_embd.weight",
        "model.norm.weight": "output_norm.weight",
        "lm_head.weight": "output.weight",
    }
    if name in table:
      return table[name]
    parts = name.split(".")  # model.layers.{i}.<mod>.<proj>.weight
    i, rest = parts[2], ".".join(parts[3:])
    sub = {
        "input_layernorm.weight": "attn_norm", "post_attention_layernorm.weight": "ffn_norm",
        "self_attn.q_proj.weight": "attn_q", "self_attn.k_proj.weight": "attn_k",
        "self_attn.v_proj.weight": "attn_v", "self_attn.o_proj.weight": "attn_output",
        "self_attn.q_norm.weight": "attn_q_norm", "self_attn.k_norm.weight": "attn_k_norm",
        "mlp.gate_proj.weight": "ffn_gate", "mlp.up_proj.weight": "ffn_up",
        "mlp.down_proj.weight": "ffn_down",
    }[rest]
    return f"blk.{i}.{sub}.weight"

  def __call__(self, name: str) -> np.ndarray:
    from gguf import dequantize
    g = self._hf_to_gguf(name)
    t = self.tensors.get(g)
    if t is None:
      raise WeightsError(f"{self.path}: tensor {g!r} (for {name}) missing")
    try:
      w = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float32)
    except Exception as e:
      raise WeightsError(f"{self.path}: cannot dequantise {g!r} ({e})") from e
    w = w.reshape([int(s) for s in reversed(t.shape)]) if w.ndim == 1 and len(t.shape) > 1 else w
    if self.arch_permuted and g.endswith("attn_q.weight"):
      w = _unpermute(w, self.cfg.n_heads)
    elif self.arch_permuted and g.endswith("attn_k.weight"):
      w = _unpermute(w, self.cfg.n_kv_heads)
    return w


# --------------------------------------------------------------------------------- export


def gather(params) -> dict:
  """Device params -> host numpy tree (all processes must call this)."""
  from jax.experimental import multihost_utils

  def one(x):
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
      return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(jax.device_get(x))
  return jax.tree.map(one, params)


def export_hf(params, cfg: ModelConfig, out_dir: str, tokenizer=None,
              dtype: str = "float32") -> str:
  """Writes `config.json` + `model.safetensors` (+ tokenizer files) that transformers loads."""
  from safetensors.numpy import save_file
  host = gather(params)
  tensors = {}
  for path, name, _, to_hf in _param_table(cfg):
    a = to_hf(np.asarray(_get(host, path), np.float32))
    tensors[name] = np.ascontiguousarray(a.astype(np.float16 if dtype == "float16" else np.float32))
  if jax.process_index() != 0:
    return out_dir
  os.makedirs(out_dir, exist_ok=True)
  tmp = os.path.join(out_dir, "model.safetensors.tmp")
  save_file(tensors, tmp, metadata={"format": "pt"})
  os.replace(tmp, os.path.join(out_dir, "model.safetensors"))
  hf_cfg = to_hf_config(cfg)
  hf_cfg["torch_dtype"] = dtype
  with open(os.path.join(out_dir, "config.json"), "w") as f:
    json.dump(hf_cfg, f, indent=2)
  if tokenizer is not None and hasattr(tokenizer, "_markup"):
    tokenizer._markup.save(os.path.join(out_dir, "tokenizer.json"))
    tc = {"bos_token": tokenizer.bos_token or None, "eos_token": tokenizer.eos_token or None,
          "tokenizer_class": "PreTrainedTokenizerFast"}
    if tokenizer.pad_id is not None:
      tc["pad_token"] = tokenizer._markup.id_to_token(tokenizer.pad_id)
    if tokenizer.chat_template:
      tc["chat_template"] = tokenizer.chat_template
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
      json.dump(tc, f, indent=2)
  return out_dir


def hf_state_dict(params, cfg: ModelConfig) -> Iterator[tuple[str, np.ndarray]]:
  """(HF name, numpy array) pairs, e.g. to load into a transformers model in tests."""
  host = gather(params)
  for path, name, _, to_hf in _param_table(cfg):
    yield name, to_hf(np.asarray(_get(host, path), np.float32))
