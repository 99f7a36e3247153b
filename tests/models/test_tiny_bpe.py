"""The `tiny-bpe` preset: its shipped tokenizer is what tools/tiny_tokenizer.py writes, and the
preset's special ids and vocabulary agree with that tokenizer."""
import importlib.util
import os

import pytest

from spice_jax import models
from spice_jax.models import presets, tokenizer as tokenizer_lib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _tool():
  spec = importlib.util.spec_from_file_location(
      "tiny_tokenizer_tool", os.path.join(ROOT, "tools", "tiny_tokenizer.py"))
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  return mod


@pytest.mark.parametrize("name", ["tokenizer.json", "tokenizer_config.json"])
def test_tool_reproduces_the_shipped_files(tmp_path, name):
  _tool().write(str(tmp_path))
  with open(os.path.join(presets.TINY_BPE_DIR, name), "rb") as f:
    shipped = f.read()
  assert (tmp_path / name).read_bytes() == shipped


def test_preset_ids_match_its_tokenizer():
  cfg, tok = models.describe("tiny-bpe")
  ref = tokenizer_lib.from_hf_dir(presets.TINY_BPE_DIR)
  assert cfg.vocab_size == ref.vocab_size == _tool().VOCAB_SIZE
  assert cfg.eos_ids == ref.eos_ids == (ref.token_to_id("<|end|>"),)
  assert cfg.pad_id == ref.pad_id == ref.token_to_id("<|pad|>")
  text = "A rectangle 12 m long and 7 m wide has an area of 84 m^2."
  assert tok.decode(tok.encode(text)) == text
  # Trained on the corpus: the commonest word is one token, digits are one token each.
  assert len(tok.encode(" the")) == 1
  assert len(tok.encode("1234")) == 4
