"""Writes a world's files: warm-start examples, the SPICE corpus and the held-out sets.

  paths = world_build.build(out_dir, n_warm=1200, n_spice=300, n_renamed=50, seed=0)

Files (under out_dir): `warm_examples.jsonl` (SFT examples for both roles, from the warm
split), `spice_docs.jsonl` (the corpus builder's input, SPICE split), and the held-out sets
that `world.eval_items` turns into graded tasks: `dev_docs.jsonl` and `test_docs.jsonl`
(every eval-split quantity tuple, halved by `world.heldout_part`: unseen problems, dev for
choices, test for reporting) and `train_renamed_docs.jsonl` (the corpus's problems renamed).
The warm, SPICE and eval splits are disjoint by construction (`world.split_of`).
Deterministic in `seed`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random

from spice_jax.data import world
from spice_jax.sft_data import Example, write_examples
from spice_jax.spice import prompts as prompts_lib


@dataclasses.dataclass(frozen=True)
class WorldFiles:
  warm_examples: str
  spice_docs: str
  dev_docs: str            # held-out set "dev": unseen quantities, for design choices
  test_docs: str           # held-out set "test": unseen quantities, for the headline
  train_renamed_docs: str  # the SPICE corpus's problems renamed (fitting, not transfer)


def warm_examples(docs, seed: int = 0, reasoner_difficulties=(1, 2)) -> list[Example]:
  """Challenger examples from documents whose tuple's `world.warm_role` is "challenger":
  two per document, one asking for each result (the same document, two questions, two
  answers to copy); Reasoner examples from the other documents: one per result whose
  difficulty is in `reasoner_difficulties`."""
  out = []
  for d in docs:
    results = d.results()
    if world.warm_role(d.family, d.a, d.b, d.c) == "challenger":
      msgs = tuple(prompts_lib.challenger_messages(d.text, "free_form", style="compact"))
      out += [Example("challenger", msgs, world.challenger_target(r)) for r in results]
    else:
      out += [Example("reasoner", tuple(prompts_lib.reasoner_messages(r.question)),
                      world.solution(r)) for r in results if r.difficulty in reasoner_difficulties]
  random.Random(seed).shuffle(out)
  return out


def read_docs(path: str) -> list[world.WorldDoc]:
  """WorldDocs written by `build` (the eval set's ground truth is recomputed from them)."""
  out = []
  with open(path, encoding="utf-8") as f:
    for line in f:
      r = json.loads(line)
      out.append(world.WorldDoc(**{k: r[k] for k in ("doc_id", "family", "a", "b", "c",
                                                     "name", "item")}))
  return out


def _write_docs(docs, path: str) -> str:
  with open(path, "w", encoding="utf-8") as f:
    for d in docs:
      rec = dataclasses.asdict(d)
      rec.update(id=d.doc_id, text=d.text)
      f.write(json.dumps(rec) + "\n")
  return path


def build(out_dir: str, *, n_warm: int, n_spice: int, n_renamed: int, seed: int = 0,
          reasoner_difficulties=(1, 2)) -> WorldFiles:
  """Writes the five files: dev and test hold one document per tuple of their half of the
  eval split; train_renamed holds `n_renamed` documents."""
  os.makedirs(out_dir, exist_ok=True)
  warm = world.generate("warm", n_warm, seed)
  ex = warm_examples(warm, seed, tuple(reasoner_difficulties))
  spice = world.generate("spice", n_spice, seed)
  renamed = world.train_renamed_documents(spice, n_renamed, seed)
  path = lambda name: os.path.join(out_dir, name)
  return WorldFiles(write_examples(ex, path("warm_examples.jsonl")),
                    _write_docs(spice, path("spice_docs.jsonl")),
                    _write_docs(world.heldout_documents("dev", seed), path("dev_docs.jsonl")),
                    _write_docs(world.heldout_documents("test", seed), path("test_docs.jsonl")),
                    _write_docs(renamed, path("train_renamed_docs.jsonl")))
