"""Trains a small byte-level BPE tokenizer (HF `tokenizers`) for a model built from scratch.

  tok_dir = train_tokenizer.train(texts, out_dir, vocab_size=768)
  tok = spice_jax.models.tokenizer.from_hf_dir(tok_dir)

Digits are split one per token (arithmetic stays learnable); the chat template is a
three-token layout (`<|user|>`, `<|assistant|>`, `<|end|>`), `<|end|>` is the end-of-turn
(EOS) token and `<|pad|>` pads. Writes `tokenizer.json` and `tokenizer_config.json`, the
files `tokenizer.from_hf_dir` and `models.load` read.
"""

from __future__ import annotations

import json
import os
from typing import Iterable

SPECIAL = ("<|pad|>", "<|bos|>", "<|end|>", "<|user|>", "<|assistant|>", "<|system|>")
CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n"
                 "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}")


def train(texts: Iterable[str], out_dir: str, *, vocab_size: int = 768) -> str:
  """Trains on `texts` and writes the tokenizer files into `out_dir`; returns `out_dir`."""
  from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
  tok = Tokenizer(models.BPE(unk_token=None))
  tok.pre_tokenizer = pre_tokenizers.Sequence([
      pre_tokenizers.Digits(individual_digits=True),
      pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
  tok.decoder = decoders.ByteLevel()
  trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL),
                                initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                show_progress=False)
  tok.train_from_iterator(texts, trainer=trainer)
  os.makedirs(out_dir, exist_ok=True)
  tok.save(os.path.join(out_dir, "tokenizer.json"))
  cfg = {"bos_token": None, "eos_token": "<|end|>", "pad_token": "<|pad|>",
         "chat_template": CHAT_TEMPLATE, "tokenizer_class": "PreTrainedTokenizerFast"}
  with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
    json.dump(cfg, f, indent=2)
  return out_dir
