"""Writes the `tiny-bpe` preset's tokenizer: a 1,024-token byte-level BPE of the demo corpus.

  python tools/tiny_tokenizer.py     # rewrites spice_jax/models/tiny_bpe/tokenizer*.json

The `tiny-bpe` preset (random weights, `spice_jax/models/presets.py`) is the model of the
trainer tests and smoke runs (`experiments/tiny_test.py`). Its vocabulary is small so that the
output head does not dominate a 2-layer d=64 model: with SmolLM2's 49,152 tokens the head is
~97 % of a tiny model's forward FLOPs. The tokenizer is trained (`models.train_tokenizer`) on
the bundled demo corpus and the SPICE prompt templates, so documents and prompts tokenize into
ordinary multi-character tokens. The output is deterministic; tests/models/test_tiny_bpe.py
checks that this script reproduces the shipped files byte for byte.
"""

from __future__ import annotations

import glob
import gzip
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)   # run as `python tools/tiny_tokenizer.py` from a checkout
VOCAB_SIZE = 1024


def texts() -> list[str]:
  """The training texts: every demo-corpus document, then every prompt template (sorted)."""
  from spice_jax import data
  from spice_jax.spice import prompts
  out = []
  for path in sorted(glob.glob(os.path.join(data.demo_corpus_dir(), "*.jsonl.gz"))):
    with gzip.open(path, "rt", encoding="utf-8") as f:
      out += [json.loads(line)["text"] for line in f if line.strip()]
  for path in sorted(glob.glob(os.path.join(prompts.TEMPLATE_DIR, "*.txt"))):
    with open(path, encoding="utf-8") as f:
      out.append(f.read())
  return out


def write(out_dir: str) -> str:
  from spice_jax.models import train_tokenizer
  return train_tokenizer.train(texts(), out_dir, vocab_size=VOCAB_SIZE)


if __name__ == "__main__":
  from spice_jax.models import presets
  print(write(presets.TINY_BPE_DIR))
