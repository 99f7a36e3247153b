"""Writes the ladder world's files: warm-start examples, the SPICE corpus, held-out sets.

  files = ladder_build.build(out_dir, n_warm=1200, n_spice=300, n_renamed=50, seed=0,
                             max_depth=6, reasoner_depths=(1, 2))   # -> world_build.WorldFiles

The same five files as `data.world_build` (`world_build.WorldFiles`), from `data.ladder`.
Warm start: Challenger examples teach asking at *every* depth 1..max_depth (one example per
depth of each Challenger-role document: the same document, D questions, D answers to copy).
Reasoner examples cover only `reasoner_depths` (default depths 1 and 2), so the Reasoner
starts weak on deep chains and its frontier can move during self-play: depth 1 is *every*
arithmetic fact of the world (`ladder.all_facts`, so a held-out depth-1 problem is a seen
fact), depths >= 2 the results of the Reasoner-role documents. The two roles' warm documents
have disjoint prefixes (`ladder.warm_role`), so no problem at depth >= 2 is taught to both.
Deterministic in `seed`.
"""

from __future__ import annotations

import dataclasses
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


def _reasoner_example(result: ladder.Result) -> Example:
  return Example("reasoner", tuple(prompts_lib.reasoner_messages(result.question)),
                 ladder.solution(result))


def warm_examples(docs: Sequence[ladder.LadderDoc], seed: int = 0,
                  reasoner_depths: Sequence[int] = (1, 2),
                  reasoner_repeat: int = 1) -> list[Example]:
  """Challenger examples (documents of Challenger-role prefixes): one per depth, the compact
  free-form reply asking for that result. Reasoner examples, each `reasoner_repeat` times
  (the example mix: more passes over the arithmetic), the steps then the boxed value: with
  depth 1 in `reasoner_depths`, every fact (`ladder.all_facts`: 266), each time under a name
  and item drawn with `seed`; for each depth k >= 2 in it, the depth-k result of every
  Reasoner-role document, first under its own name and item, then under drawn ones (the
  documents' own depth-1 results are facts, taught once per fact instead). Shuffled."""
  if int(reasoner_repeat) < 1:
    raise ValueError(f"reasoner_repeat {reasoner_repeat}: expected >= 1")
  rng = random.Random(f"ladder-warm/{seed}")
  rename = lambda d: dataclasses.replace(d, name=rng.choice(ladder.NAMES),
                                         item=rng.choice(ladder.ITEMS))
  out = []
  if 1 in reasoner_depths:
    out += [_reasoner_example(ladder.fact_result(f, rng.choice(ladder.NAMES),
                                                 rng.choice(ladder.ITEMS)))
            for f in ladder.all_facts() for _ in range(int(reasoner_repeat))]
  deeper = [k for k in reasoner_depths if k >= 2]
  for d in docs:
    if ladder.warm_role(d.prefix) == "challenger":
      msgs = tuple(prompts_lib.challenger_messages(d.text, "free_form", style="compact"))
      out += [Example("challenger", msgs, ladder.challenger_target(r)) for r in d.results()]
    else:
      for r in range(int(reasoner_repeat)):
        results = (d if r == 0 else rename(d)).results()
        out += [_reasoner_example(results[k - 1]) for k in deeper]
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
          reasoner_repeat: int = 1, n_heldout: int = ladder.HELDOUT_DOCS) -> WorldFiles:
  """Writes the five files; dev and test hold one document per prefix of their held-out set
  (`n_heldout` each, the same problems for every seed), train_renamed `n_renamed` documents."""
  ds = _check_depths(reasoner_depths, int(max_depth))
  os.makedirs(out_dir, exist_ok=True)
  warm = ladder.generate("warm", n_warm, seed, max_depth)
  spice = ladder.generate("spice", n_spice, seed, max_depth)
  renamed = ladder.train_renamed_documents(spice, n_renamed, seed)
  path = lambda name: os.path.join(out_dir, name)
  held = lambda part: ladder.heldout_documents(part, seed, max_depth, int(n_heldout))
  return WorldFiles(
      write_examples(warm_examples(warm, seed, ds, reasoner_repeat),
                     path("warm_examples.jsonl")),
      _write_docs(spice, path("spice_docs.jsonl")),
      _write_docs(held("dev"), path("dev_docs.jsonl")),
      _write_docs(held("test"), path("test_docs.jsonl")),
      _write_docs(renamed, path("train_renamed_docs.jsonl")))
