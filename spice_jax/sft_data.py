"""Supervised examples for the warm start: JSONL records -> length-bucketed padded batches.

An example is one role-formatted turn (`Example`): chat `messages` (the prompt, rendered with
the run's template exactly as self-play renders it) and the `completion` the model should
write. The loss covers completion tokens (and the end-of-turn token) only.

Batch arrays (all [B, T], T a bucket length): tokens, positions, targets (token t+1),
loss_mask (1.0 where targets[t] is a completion token). Rows are padded on the right.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Sequence

import numpy as np

from spice_jax.errors import SpiceError
from spice_jax.spice import prompts as prompts_lib


class SFTDataError(SpiceError, ValueError):
  pass


@dataclasses.dataclass(frozen=True)
class Example:
  """role: "challenger" | "reasoner"; messages: chat messages; completion: target text."""
  role: str
  messages: tuple
  completion: str

  def to_json(self) -> dict:
    return {"role": self.role, "messages": list(self.messages), "completion": self.completion}


def read_examples(path: str) -> list[Example]:
  """Reads a JSONL file of {role, messages, completion}; errors name the file and line."""
  out = []
  with open(path, encoding="utf-8") as f:
    for k, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        r = json.loads(line)
        out.append(Example(str(r["role"]), tuple(r["messages"]), str(r["completion"])))
      except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise SFTDataError(f"{path} line {k}: expected {{role, messages, completion}} ({e})")
  if not out:
    raise SFTDataError(f"{path}: no examples")
  return out


def write_examples(examples: Sequence[Example], path: str) -> str:
  with open(path, "w", encoding="utf-8") as f:
    for e in examples:
      f.write(json.dumps(e.to_json()) + "\n")
  return path


@dataclasses.dataclass(frozen=True)
class Encoded:
  """prompt / completion token ids of one example (completion ends with the EOS id)."""
  prompt: tuple[int, ...]
  completion: tuple[int, ...]


def encode(tokenizer, ex: Example, template: str) -> Encoded:
  prompt = prompts_lib.render(tokenizer, list(ex.messages), template)
  if not tokenizer.eos_ids:
    raise SFTDataError("the tokenizer has no EOS token; the completion cannot end")
  comp = list(tokenizer.encode(ex.completion)) + [tokenizer.eos_ids[0]]
  return Encoded(tuple(prompt), tuple(comp))


def bucket_length(n: int, multiple: int) -> int:
  return -(-n // multiple) * multiple


def pad_rows(encoded: Sequence[Encoded], T: int, pad_id: int) -> dict[str, np.ndarray]:
  """Right-padded [B, T] arrays; a row longer than T + 1 tokens raises SFTDataError."""
  B = len(encoded)
  tokens = np.full((B, T), pad_id, np.int32)
  targets = np.full((B, T), pad_id, np.int32)
  mask = np.zeros((B, T), np.float32)
  for i, e in enumerate(encoded):
    seq = list(e.prompt) + list(e.completion)
    if len(seq) - 1 > T:
      raise SFTDataError(f"example of {len(seq)} tokens does not fit length {T}")
    n = len(seq) - 1
    tokens[i, :n] = seq[:-1]
    targets[i, :n] = seq[1:]
    mask[i, len(e.prompt) - 1:n] = 1.0
  positions = np.broadcast_to(np.arange(T, dtype=np.int32), (B, T)).copy()
  return {"tokens": tokens, "positions": positions, "targets": targets, "loss_mask": mask}


class Batches:
  """Batch `i` is a pure function of (seed, i): resume replays no example order state.

  Examples are grouped into buckets by padded length (`multiple`); batch i draws a bucket
  with probability proportional to its size, then `batch_size` examples of it.
  """

  def __init__(self, encoded: Sequence[Encoded], batch_size: int, *, pad_id: int,
               multiple: int = 32, seed: int = 0):
    self.batch_size, self.pad_id, self.seed = int(batch_size), int(pad_id), int(seed)
    buckets: dict[int, list[Encoded]] = {}
    for e in encoded:
      buckets.setdefault(bucket_length(len(e.prompt) + len(e.completion) - 1, multiple),
                         []).append(e)
    self.lengths = sorted(buckets)
    self.buckets = [buckets[n] for n in self.lengths]
    sizes = np.array([len(b) for b in self.buckets], np.float64)
    self.probs = sizes / sizes.sum()

  def __call__(self, i: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([self.seed, int(i)])
    k = int(rng.choice(len(self.buckets), p=self.probs))
    rows = rng.choice(len(self.buckets[k]), self.batch_size,
                      replace=len(self.buckets[k]) < self.batch_size)
    return pad_rows([self.buckets[k][j] for j in rows], self.lengths[k], self.pad_id)
