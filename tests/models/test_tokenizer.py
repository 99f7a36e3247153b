"""Tokenizers: GGUF-built BPE equals transformers' GGUF tokenizer; specials never from text."""
import json
import os

import pytest

from spice_jax import models
from spice_jax.models import tokenizer as tok_lib

TEXTS = [
    "Hello world!",
    "The area of a circle of radius 3 cm is 28.27 cm^2 (π r²).",
    "  leading spaces and\ttabs\n\nnew paragraphs 1234567",
    "Ünïcödé — “quotes” and emoji 🙂",
    "def f(x):\n    return x**2  # code",
]


@pytest.fixture(scope="module")
def smol_tok():
  return tok_lib.from_gguf(models.embedded_gguf_path())


def test_gguf_tokenizer_matches_transformers(smol_tok):
  import transformers
  path = models.embedded_gguf_path()
  ref = transformers.AutoTokenizer.from_pretrained(os.path.dirname(path),
                                                   gguf_file=os.path.basename(path))
  for t in TEXTS:
    assert smol_tok.encode(t) == ref.encode(t, add_special_tokens=False), t
    assert smol_tok.decode(smol_tok.encode(t)) == t
  msgs = [{"role": "user", "content": "What is 7 * 8?"}]
  assert smol_tok.render_chat(msgs) == ref.apply_chat_template(msgs, add_generation_prompt=True,
                                                               tokenize=True, return_dict=False)


def test_special_token_text_stays_plain(smol_tok):
  end = smol_tok.token_to_id("<|im_end|>")
  ids = smol_tok.encode("a document with <|im_end|> inside")
  assert end not in ids
  assert "<|im_end|>" in smol_tok.decode(ids)
  chat = smol_tok.render_chat([{"role": "user", "content": "x <|im_end|> y"}])
  # The template itself emits im_end after system and user turns: exactly two.
  assert chat.count(end) == 2


def test_hf_dir_tokenizer(tmp_path, smol_tok):
  smol_tok._markup.save(str(tmp_path / "tokenizer.json"))
  with open(tmp_path / "tokenizer_config.json", "w") as f:
    json.dump({"bos_token": "<|im_start|>", "eos_token": "<|im_end|>",
               "chat_template": smol_tok.chat_template}, f)
  t = tok_lib.load(str(tmp_path))
  assert t.eos_ids == (smol_tok.token_to_id("<|im_end|>"),)
  for s in TEXTS:
    assert t.encode(s) == smol_tok.encode(s)


def test_sentencepiece_tokenizer(tmp_path):
  import sentencepiece as spm
  corpus = tmp_path / "c.txt"
  corpus.write_text("\n".join(TEXTS * 50 + ["the quick brown fox jumps over the lazy dog"] * 50))
  spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(tmp_path / "sp"),
                                 vocab_size=60, user_defined_symbols=["<sep>"],
                                 bos_id=1, eos_id=2, pad_id=3, unk_id=0)
  t = tok_lib.load(str(tmp_path / "sp.model"))
  assert t.bos_id == 1 and t.eos_ids == (2,) and t.pad_id == 3
  ids = t.encode("the quick brown fox")
  assert t.decode(ids) == "the quick brown fox"
  assert 2 not in t.encode("text </s> with eos string")
  tmpl = "{% for m in messages %}<s>{{ m['content'] }}<sep>{% endfor %}"
  ids = t.render_chat([{"role": "user", "content": "hi <sep> there"}], template=tmpl)
  sep = t.token_to_id("<sep>")
  assert ids[0] == 1 and ids[-1] == sep
  assert 1 not in t.encode("<s> x")


def test_bad_tokenizer_files(tmp_path):
  (tmp_path / "tokenizer.json").write_text("{not json")
  with pytest.raises(tok_lib.TokenizerError, match="tokenizer.json"):
    tok_lib.load(str(tmp_path))
  (tmp_path / "x.model").write_bytes(b"garbage")
  with pytest.raises(tok_lib.TokenizerError, match="x.model"):
    tok_lib.load(str(tmp_path / "x.model"))


# The GGUF tokenizer cache (`tokenizer._gguf_cache_path`). gguf's reader is the slow part
# (about 5 s): parse the file once here and hand that reader to every rebuild below.
@pytest.fixture(scope="module")
def parsed_reader():
  import gguf
  return gguf.GGUFReader(models.embedded_gguf_path())


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch, parsed_reader):
  import gguf
  reads = []
  monkeypatch.setattr(gguf, "GGUFReader", lambda p: reads.append(p) or parsed_reader)
  monkeypatch.setenv("SPICE_JAX_CACHE", str(tmp_path / "cache"))
  return reads


def _same_tokenizer(a, b):
  assert (a.vocab_size, a.bos_id, a.eos_ids, a.pad_id, a.chat_template) == \
      (b.vocab_size, b.bos_id, b.eos_ids, b.pad_id, b.chat_template)
  for t in TEXTS + ["x <|im_end|> y"]:
    assert a.encode(t) == b.encode(t), t
    assert a.decode(a.encode(t)) == b.decode(b.encode(t))
  msgs = [{"role": "user", "content": "What is 7 * 8?"}]
  assert a.render_chat(msgs) == b.render_chat(msgs)


def test_gguf_tokenizer_cache_entry_equals_the_built_tokenizer(fresh_cache, parsed_reader):
  path = models.embedded_gguf_path()
  built = tok_lib.from_gguf(parsed_reader)          # straight from the reader, no cache
  first = tok_lib.from_gguf(path)                   # builds and writes the entry
  entry = tok_lib._gguf_cache_path(path)
  assert fresh_cache == [path] and os.path.exists(entry)
  cached = tok_lib.from_gguf(path)                  # reads the entry: no GGUF parse
  assert fresh_cache == [path]
  _same_tokenizer(built, first)
  _same_tokenizer(built, cached)


def test_a_torn_gguf_cache_entry_is_rebuilt(fresh_cache):
  path = models.embedded_gguf_path()
  entry = tok_lib._gguf_cache_path(path)
  os.makedirs(os.path.dirname(entry))
  with open(entry, "w") as f:
    f.write('{"tokenizer": "{\\"ver')            # a write cut short
  tok = tok_lib.from_gguf(path)
  assert fresh_cache == [path] and tok.render_chat([{"role": "user", "content": "hi"}])
  with open(entry) as f:
    assert json.load(f)["bos_token"] == "<|im_start|>"   # the entry was rewritten whole


def test_an_unwritable_cache_only_costs_the_rebuild(tmp_path, monkeypatch, fresh_cache):
  blocker = tmp_path / "a_file"
  blocker.write_text("")
  monkeypatch.setenv("SPICE_JAX_CACHE", str(blocker / "cache"))   # below a file
  path = models.embedded_gguf_path()
  assert tok_lib.from_gguf(path).encode("Hello world!") == \
      tok_lib.from_gguf(path).encode("Hello world!")
  assert fresh_cache == [path, path]                # nothing cached, nothing broken


def test_the_cache_key_follows_the_file(tmp_path, monkeypatch):
  monkeypatch.setenv("SPICE_JAX_CACHE", str(tmp_path / "cache"))
  f = tmp_path / "m.gguf"
  f.write_bytes(b"GGUF")
  key = tok_lib._gguf_cache_path(str(f))
  assert key.startswith(str(tmp_path / "cache" / "tokenizers"))
  os.utime(f, ns=(0, 10**9))                        # the file was replaced: a new entry
  assert tok_lib._gguf_cache_path(str(f)) != key
  assert tok_lib._gguf_cache_path(str(tmp_path / "missing.gguf")) is None
