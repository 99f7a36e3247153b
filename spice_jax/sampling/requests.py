"""What a sampling call takes and returns, engine-independent: validated prompts and caps,
shared-prompt grouping, row keys, follow-up requests and the `SampleOutput` record (host
side, numpy)."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np


class PromptError(ValueError):
  """A prompt the sampler cannot run (empty, out-of-vocabulary ids, too long)."""


@dataclasses.dataclass
class SampleOutput:
  """Sampling results, rows in input order (numpy).

  Attributes:
    tokens: [N, max(max_new_tokens)] int32, generated ids, PAD (0) after each row's end.
    logprobs: [N, max(max_new_tokens)] f32, log-prob of each sampled token under the
      distribution it was drawn from (temperature, top-k, top-p applied). Greedy decoding
      draws from a point mass, so its logprobs are 0. 0 after a row's end.
    model_logprobs: [N, max(max_new_tokens)] f32, log-prob under the unmodified model
      (temperature 1, no filtering). 0 after a row's end.
    lengths: [N] int32, generated tokens per row including the stop token if one was made.
    finish_reason: per row "stop" (produced a stop id) or "length" (hit its cap).
  """
  tokens: np.ndarray
  logprobs: np.ndarray
  model_logprobs: np.ndarray
  lengths: np.ndarray
  finish_reason: list[str]

  def completion(self, i: int) -> list[int]:
    """Generated ids of row i, up to and including its stop token."""
    return [int(t) for t in self.tokens[i, :int(self.lengths[i])]]

  def __len__(self) -> int:
    return len(self.finish_reason)


@dataclasses.dataclass(frozen=True)
class FollowUp:
  """A row queued while a call runs: returned (in a list) by the call's `on_finish`.

  prompt: token ids; max_new_tokens: its cap (>= 1); seed: its row seed: the row draws from
  key(seed) alone, as with `row_seeds`, so its tokens are those of a separate call with
  `row_seeds=[seed]`, whenever it runs. It uses the call's sampling settings and stop ids.
  """
  prompt: Sequence[int]
  max_new_tokens: int
  seed: int


def validate_follow_ups(items, vocab_size: int, max_prompt_len: int):
  """on_finish's return value (None or FollowUps) -> (prompts, caps [F] int32, seeds)."""
  items = list(items or ())
  for i, f in enumerate(items):
    if not isinstance(f, FollowUp):
      raise TypeError(f"on_finish must return None or a list of FollowUp, item {i} is "
                      f"{type(f).__name__}")
  if not items:
    return [], np.zeros((0,), np.int32), []
  prompts = validate_prompts([f.prompt for f in items], vocab_size, max_prompt_len)
  caps = validate_caps([int(f.max_new_tokens) for f in items], len(items))
  return prompts, caps, [int(f.seed) for f in items]


def finish_reason(row_tokens, stop: Sequence[int]) -> str:
  """"stop" if a row's last token is a stop id, else "length" (it hit its cap)."""
  return "stop" if len(row_tokens) and int(row_tokens[-1]) in set(map(int, stop)) else "length"


def make_output(tokens, logp, model_logp, lengths, stop: Sequence[int]) -> SampleOutput:
  """Host arrays ([N, M], [N]) -> SampleOutput with finish reasons."""
  lengths = np.asarray(lengths, np.int32)
  tokens = np.asarray(tokens, np.int32)
  reasons = [finish_reason(tokens[i, :L], stop) for i, L in enumerate(lengths)]
  return SampleOutput(tokens=tokens, logprobs=np.asarray(logp, np.float32),
                      model_logprobs=np.asarray(model_logp, np.float32), lengths=lengths,
                      finish_reason=reasons)


def concat_outputs(parts: list[SampleOutput]) -> SampleOutput:
  """Rows of several outputs, in order, padded to the widest (PAD / 0 past each end)."""
  if len(parts) == 1:
    return parts[0]
  M = max(p.tokens.shape[1] for p in parts)
  pad = lambda a: np.pad(a, ((0, 0), (0, M - a.shape[1])))
  cat = lambda f: np.concatenate([pad(getattr(p, f)) for p in parts])
  return SampleOutput(tokens=cat("tokens"), logprobs=cat("logprobs"),
                      model_logprobs=cat("model_logprobs"),
                      lengths=np.concatenate([p.lengths for p in parts]),
                      finish_reason=[f for p in parts for f in p.finish_reason])


def validate_caps(max_new_tokens, n: int) -> np.ndarray:
  """An int or N ints -> [N] int32 per-row caps (each >= 1)."""
  if isinstance(max_new_tokens, (int, np.integer)):
    caps = np.full((n,), int(max_new_tokens), np.int64)
  else:
    caps = np.asarray(max_new_tokens)
    if caps.shape != (n,) or not np.issubdtype(caps.dtype, np.integer):
      raise ValueError(f"max_new_tokens must be an int or {n} ints (one per prompt), got "
                       f"{max_new_tokens!r}")
  if n and caps.min() < 1:
    raise ValueError(f"max_new_tokens must be positive, got {max_new_tokens!r}")
  return caps.astype(np.int32)


def validate_prompts(prompts, vocab_size: int, max_prompt_len: int) -> list[np.ndarray]:
  """Token-id lists -> int32 arrays; raises PromptError naming the bad prompt."""
  if len(prompts) == 0:
    raise PromptError("prompts is empty: need at least one prompt")
  out = []
  for i, p in enumerate(prompts):
    a = np.asarray(p)
    if a.ndim != 1 or a.size == 0:
      raise PromptError(f"prompt {i}: must be a non-empty list of token ids, got shape "
                        f"{a.shape}")
    if not np.issubdtype(a.dtype, np.integer):
      raise PromptError(f"prompt {i}: token ids must be ints, got dtype {a.dtype}")
    if a.min() < 0 or a.max() >= vocab_size:
      raise PromptError(f"prompt {i}: token ids must be in [0, {vocab_size}), got range "
                        f"[{a.min()}, {a.max()}]")
    if a.size > max_prompt_len:
      raise PromptError(f"prompt {i}: {a.size} tokens exceeds max_prompt_len="
                        f"{max_prompt_len}; shorten it or raise the limit")
    out.append(a.astype(np.int32))
  return out


def group_prompts(prompts: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
  """Distinct prompts in first-seen order and src [N] int32, the distinct index of each row."""
  index: dict[bytes, int] = {}
  src = np.zeros((len(prompts),), np.int32)
  uniq = []
  for r, p in enumerate(prompts):
    k = p.tobytes()
    if k not in index:
      index[k] = len(uniq)
      uniq.append(p)
    src[r] = index[k]
  return uniq, src


def root_key(seed) -> jax.Array:
  """int seed or PRNG key (typed or raw) -> typed key."""
  key = seed if isinstance(seed, jax.Array) else jax.random.key(int(seed))
  if not jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
    key = jax.random.wrap_key_data(key)
  return key


def row_keys(key: jax.Array, n: int, row_seeds: Sequence[int] | None = None) -> jax.Array:
  """[n] keys, row r's key = fold_in(key, r) (independent of batch, schedule and mesh), or
  key(row_seeds[r]) when per-row seeds are given (rows past len(row_seeds): padding)."""
  if row_seeds is None:
    return jax.vmap(lambda r: jax.random.fold_in(key, r))(jnp.arange(n))
  if len(row_seeds) > n:
    raise ValueError(f"row_seeds has {len(row_seeds)} entries for {n} rows")
  seeds = np.zeros((n,), np.uint32)
  seeds[:len(row_seeds)] = np.asarray(row_seeds, np.uint64) % (1 << 32)
  return jax.vmap(jax.random.key)(jnp.asarray(seeds))


def seed_key_data(seeds: Sequence[int]) -> np.ndarray:
  """[n, ...] uint32 key data of key(seed) per seed (the keys of `row_keys` with row_seeds)."""
  return np.asarray(jax.random.key_data(row_keys(None, len(seeds), seeds)))
