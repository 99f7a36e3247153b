"""Writes the ladder world's files: warm-start examples, the SPICE corpus, held-out sets.

  files = ladder_build.build(out_dir, n_warm=1200, n_spice=300, n_renamed=50, seed=0,
                             max_depth=6, reasoner_depths=(1, 2))   # -> world_build.WorldFiles

The same five files as `data.world_build` (`world_build.WorldFiles`), from `data.ladder`.
Warm start: Challenger examples teach asking at *every* depth 1..max_depth (one example per
depth of each Challenger-role document: the same document, D questions, D answers to copy);
Reasoner examples cover only `reasoner_depths` (default depths 1 and 2), so the Reasoner
starts weak on deep chains and its frontier can move during self-play. The two roles' warm
documents have disjoint roots (`ladder.warm_role`), so no problem, at any depth, is taught to
both. Deterministic in `seed`.
"""

from __future__ import annotations

import json
import os
import random
from typing import Sequence

from spice_jax.data import ladder
from spice_jax.data.world_build import WorldFiles, _write_docs  # one JSONL writer for both worlds
from spice_jax.sft_data import Example, write_examples
from spice_jax.spice import prompts as prompts_lib

__all__ = ["WorldFiles", "warm_examples", "read_docs", "eval_items", "build"]

eval_items = ladder.eval_items


def _check_depths(reasoner_depths: Sequence[int], max_depth: int) -> tuple[int, ...]:
  ds = tuple(int(d) for d in reasoner_depths)
  if not ds or any(not 1 <= d <= max_depth for d in ds):
    raise ValueError(f"reasoner_depths {ds}: expected a non-empty subset of 1..{max_depth}")
  return ds


def warm_examples(docs: Sequence[ladder.LadderDoc], seed: int = 0,
                  reasoner_depths: Sequence[int] = (1, 2),
                  reasoner_repeat: int = 1) -> list[Example]:
  """Challenger examples (documents of Challenger-role roots): one per depth, the compact
  free-form reply asking for that result. Reasoner examples (the other documents): one per
  result whose depth is in `reasoner_depths`, the steps then the boxed value, each
  `reasoner_repeat` times (the example mix: more passes over the arithmetic). Shuffled."""
  if int(reasoner_repeat) < 1:
    raise ValueError(f"reasoner_repeat {reasoner_repeat}: expected >= 1")
  out = []
  for d in docs:
    results = d.results()
    if ladder.warm_role(d.root) == "challenger":
      msgs = tuple(prompts_lib.challenger_messages(d.text, "free_form", style="compact"))
      out += [Example("challenger", msgs, ladder.challenger_target(r)) for r in results]
    else:
      out += [Example("reasoner", tuple(prompts_lib.reasoner_messages(r.question)),
                      ladder.solution(r)) for r in results if r.difficulty in reasoner_depths
              for _ in range(int(reasoner_repeat))]
  random.Random(seed).shuffle(out)
  return out


_FIELDS = ("doc_id", "q0", "ops", "operands", "name", "item")


def read_docs(path: str) -> list[ladder.LadderDoc]:
  """LadderDocs written by `build` (ground truth is recomputed from them)."""
  out = []
  with open(path, encoding="utf-8") as f:
    for line in f:
      r = json.loads(line)
      out.append(ladder.LadderDoc(r["doc_id"], int(r["q0"]), tuple(r["ops"]),
                                  tuple(int(y) for y in r["operands"]), r["name"], r["item"]))
  return out


def build(out_dir: str, *, n_warm: int, n_spice: int, n_renamed: int, seed: int = 0,
          max_depth: int = ladder.MAX_DEPTH, reasoner_depths: Sequence[int] = (1, 2),
          reasoner_repeat: int = 1) -> WorldFiles:
  """Writes the five files; dev and test hold one document per root of their half of the
  eval split (the same problems for every seed), train_renamed `n_renamed` documents."""
  ds = _check_depths(reasoner_depths, int(max_depth))
  os.makedirs(out_dir, exist_ok=True)
  warm = ladder.generate("warm", n_warm, seed, max_depth)
  spice = ladder.generate("spice", n_spice, seed, max_depth)
  renamed = ladder.train_renamed_documents(spice, n_renamed, seed)
  path = lambda name: os.path.join(out_dir, name)
  return WorldFiles(
      write_examples(warm_examples(warm, seed, ds, reasoner_repeat),
                     path("warm_examples.jsonl")),
      _write_docs(spice, path("spice_docs.jsonl")),
      _write_docs(ladder.heldout_documents("dev", seed, max_depth), path("dev_docs.jsonl")),
      _write_docs(ladder.heldout_documents("test", seed, max_depth), path("test_docs.jsonl")),
      _write_docs(renamed, path("train_renamed_docs.jsonl")))
