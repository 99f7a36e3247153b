"""One small tokenizer interface over HF `tokenizer.json`, sentencepiece and GGUF vocabularies.

Invariant: text that comes from a corpus or a model is never turned into special/control
tokens. `encode` always treats its input as plain text; only the chat template's own markup
(rendered by `render_chat`) may produce special tokens.
"""

from __future__ import annotations

import json
import os
import re
from typing import Sequence

import jinja2
import jinja2.sandbox

from spice_jax.errors import SpiceError


class TokenizerError(SpiceError, ValueError):
  pass


_MARK = "\ue000{}\ue001"
_MARK_RE = re.compile("\ue000(\\d+)\ue001")


def _render(template: str, messages: Sequence[dict], add_generation_prompt: bool, **extra) -> str:
  env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)

  def raise_exception(msg):
    raise TokenizerError(f"chat template: {msg}")

  env.globals["raise_exception"] = raise_exception
  return env.from_string(template).render(
      messages=list(messages), add_generation_prompt=add_generation_prompt, **extra)


class Tokenizer:
  """Base class: subclasses implement `_encode_plain`, `_encode_markup`, `decode`."""

  vocab_size: int
  bos_id: int | None = None
  eos_ids: tuple[int, ...] = ()
  pad_id: int | None = None
  chat_template: str | None = None
  bos_token: str = ""
  eos_token: str = ""

  def encode(self, text: str) -> list[int]:
    """Plain text -> ids. Special-token strings in `text` stay ordinary text."""
    return self._encode_plain(text)

  def decode(self, ids: Sequence[int], skip_special: bool = True) -> str:
    raise NotImplementedError

  def _encode_plain(self, text: str) -> list[int]:
    raise NotImplementedError

  def _encode_markup(self, text: str) -> list[int]:
    raise NotImplementedError

  def render_chat(self, messages: Sequence[dict], add_generation_prompt: bool = True,
                  template: str | None = None) -> list[int]:
    """Renders `messages` with the chat template and tokenizes it.

    Message contents are tokenized as plain text; template markup may produce special
    tokens. Each content is tokenized on its own, so a BPE merge never spans the boundary
    between markup and content (the boundary is a newline or special token in every
    template we ship, where merges do not cross anyway).
    """
    template = template or self.chat_template
    if not template:
      raise TokenizerError("this tokenizer has no chat template; pass `template=`")
    contents = [m["content"] for m in messages]
    masked = [dict(m, content=_MARK.format(i)) for i, m in enumerate(messages)]
    text = _render(template, masked, add_generation_prompt, bos_token=self.bos_token,
                   eos_token=self.eos_token)
    ids: list[int] = []
    pos = 0
    for m in _MARK_RE.finditer(text):
      if m.start() > pos:
        ids += self._encode_markup(text[pos:m.start()])
      ids += self._encode_plain(contents[int(m.group(1))])
      pos = m.end()
    if pos < len(text):
      ids += self._encode_markup(text[pos:])
    return ids


class HFTokenizer(Tokenizer):
  """Backed by a `tokenizers.Tokenizer` (HF tokenizer.json or built from a GGUF vocabulary)."""

  def __init__(self, tok, *, bos_token=None, eos_tokens=(), pad_token=None, chat_template=None):
    import tokenizers
    self._markup = tok
    self._plain = tokenizers.Tokenizer.from_str(tok.to_str())
    self._plain.encode_special_tokens = True
    self.vocab_size = tok.get_vocab_size(with_added_tokens=True)
    self.chat_template = chat_template
    self.bos_token = bos_token or ""
    self.eos_token = eos_tokens[0] if eos_tokens else ""
    self.bos_id = tok.token_to_id(bos_token) if bos_token else None
    self.eos_ids = tuple(i for i in (tok.token_to_id(t) for t in eos_tokens) if i is not None)
    self.pad_id = tok.token_to_id(pad_token) if pad_token else None

  def _encode_plain(self, text):
    return self._plain.encode(text, add_special_tokens=False).ids

  def _encode_markup(self, text):
    return self._markup.encode(text, add_special_tokens=False).ids

  def decode(self, ids, skip_special=True):
    return self._markup.decode(list(ids), skip_special_tokens=skip_special)

  def token_to_id(self, token: str) -> int | None:
    return self._markup.token_to_id(token)


class SentencePieceTokenizer(Tokenizer):
  """Backed by a sentencepiece `.model`. Control symbols never come out of `encode`."""

  def __init__(self, path: str, chat_template: str | None = None):
    import sentencepiece as spm
    self._sp = spm.SentencePieceProcessor()
    try:
      self._sp.Load(path)
    except (OSError, RuntimeError) as e:
      raise TokenizerError(f"{path}: not a sentencepiece model ({e})") from e
    self.vocab_size = self._sp.GetPieceSize()
    self.bos_id = self._sp.bos_id() if self._sp.bos_id() >= 0 else None
    self.eos_ids = (self._sp.eos_id(),) if self._sp.eos_id() >= 0 else ()
    self.pad_id = self._sp.pad_id() if self._sp.pad_id() >= 0 else None
    self.bos_token = self._sp.IdToPiece(self.bos_id) if self.bos_id is not None else ""
    self.eos_token = self._sp.IdToPiece(self.eos_ids[0]) if self.eos_ids else ""
    self.chat_template = chat_template
    # Control symbols (<s>, </s>, <pad>, ...) only come from template markup; user-defined
    # symbols are atomic pieces that sentencepiece itself matches in any text.
    self._specials = {self._sp.IdToPiece(i): i for i in range(self.vocab_size)
                      if self._sp.IsControl(i)}
    self._special_re = (re.compile("|".join(re.escape(s) for s in sorted(
        self._specials, key=len, reverse=True))) if self._specials else None)

  def _encode_plain(self, text):
    # sentencepiece never emits control ids from text.
    return list(self._sp.EncodeAsIds(text))

  def _encode_markup(self, text):
    if self._special_re is None:
      return self._sp.EncodeAsIds(text)
    out, pos = [], 0
    for m in self._special_re.finditer(text):
      out += self._sp.EncodeAsIds(text[pos:m.start()]) if m.start() > pos else []
      out.append(self._specials[m.group(0)])
      pos = m.end()
    return out + (self._sp.EncodeAsIds(text[pos:]) if pos < len(text) else [])

  def decode(self, ids, skip_special=True):
    ids = [int(i) for i in ids]
    if skip_special:
      ids = [i for i in ids if not self._sp.IsControl(i)]
    return self._sp.DecodeIds(ids)

  def token_to_id(self, token):
    i = self._sp.PieceToId(token)
    return None if i == self._sp.unk_id() and token != self._sp.IdToPiece(i) else i


def _token_str(v):
  if isinstance(v, dict):
    return v.get("content")
  return v


def from_hf_dir(directory: str) -> Tokenizer:
  """tokenizer.json (+ tokenizer_config.json / chat_template.jinja) or tokenizer.model."""
  import tokenizers
  tj = os.path.join(directory, "tokenizer.json")
  cfg_path = os.path.join(directory, "tokenizer_config.json")
  cfg = {}
  if os.path.exists(cfg_path):
    with open(cfg_path) as f:
      cfg = json.load(f)
  template = cfg.get("chat_template")
  jinja_path = os.path.join(directory, "chat_template.jinja")
  if os.path.exists(jinja_path):
    with open(jinja_path) as f:
      template = f.read()
  if isinstance(template, list):  # named templates: take "default"
    template = {t["name"]: t["template"] for t in template}.get("default")
  if os.path.exists(tj):
    try:
      tok = tokenizers.Tokenizer.from_file(tj)
    except Exception as e:  # tokenizers raises a generic Exception on bad files
      raise TokenizerError(f"{tj}: cannot be read as an HF tokenizer ({e})") from e
    eos = _token_str(cfg.get("eos_token"))
    gen_path = os.path.join(directory, "generation_config.json")
    eos_tokens = [eos] if eos else []
    if os.path.exists(gen_path):
      with open(gen_path) as f:
        gen_eos = json.load(f).get("eos_token_id")
      gen_eos = gen_eos if isinstance(gen_eos, list) else ([gen_eos] if gen_eos is not None else [])
      eos_tokens += [tok.id_to_token(i) for i in gen_eos if tok.id_to_token(i) not in eos_tokens]
    return HFTokenizer(tok, bos_token=_token_str(cfg.get("bos_token")), eos_tokens=eos_tokens,
                       pad_token=_token_str(cfg.get("pad_token")), chat_template=template)
  sp = os.path.join(directory, "tokenizer.model")
  if os.path.exists(sp):
    return SentencePieceTokenizer(sp, chat_template=template)
  raise TokenizerError(f"{directory}: no tokenizer.json or tokenizer.model")


# Bump when what `_gguf_parts` builds changes: older cache entries are then ignored.
_GGUF_CACHE_FORMAT = 1


def _gguf_cache_path(path: str) -> str | None:
  """The cache entry of GGUF file `path`: keyed by its real path, size and mtime (as Python
  keys .pyc files on their sources), under <cache root>/tokenizers (`fs.cache_root`)."""
  import hashlib
  from spice_jax.utils import fs
  try:
    st = os.stat(path)
  except OSError:
    return None
  key = f"{os.path.realpath(path)}\0{st.st_size}\0{st.st_mtime_ns}\0{_GGUF_CACHE_FORMAT}"
  name = hashlib.sha256(key.encode()).hexdigest()[:32] + ".json"
  return os.path.join(fs.cache_root(), "tokenizers", name)


def _from_parts(parts: dict) -> "HFTokenizer":
  import tokenizers
  return HFTokenizer(tokenizers.Tokenizer.from_str(parts["tokenizer"]),
                     bos_token=parts["bos_token"], eos_tokens=parts["eos_tokens"],
                     pad_token=parts["pad_token"], chat_template=parts["chat_template"])


def from_gguf(reader_or_path) -> Tokenizer:
  """Builds the tokenizer stored in a GGUF file (BPE `gpt2` models) with `tokenizers`.

  Given a path, the built tokenizer is cached (`_gguf_cache_path`): gguf's reader parses
  every metadata field in Python, about 5 s for the 49k-token SmolLM2 vocabulary, where
  loading the cached `tokenizer.json` takes a fraction of that. An unreadable entry is
  rebuilt; an unwritable cache directory only costs the rebuild."""
  if not isinstance(reader_or_path, (str, os.PathLike)):
    return _from_parts(_gguf_parts(reader_or_path))
  path = os.fspath(reader_or_path)
  entry = _gguf_cache_path(path)
  if entry and os.path.exists(entry):
    try:
      with open(entry) as f:
        return _from_parts(json.load(f))
    except Exception:  # a torn or foreign entry: rebuild it below
      pass
  import gguf
  try:
    reader = gguf.GGUFReader(path)
  except Exception as e:
    raise TokenizerError(f"{path}: not a readable GGUF file ({e})") from e
  parts = _gguf_parts(reader)
  if entry:
    try:
      os.makedirs(os.path.dirname(entry), exist_ok=True)
      tmp = f"{entry}.{os.getpid()}.tmp"
      with open(tmp, "w") as f:
        json.dump(parts, f)
      os.replace(tmp, entry)   # atomic: a concurrent reader sees the old or the new entry
    except OSError:
      pass
  return _from_parts(parts)


def _gguf_parts(reader) -> dict:
  """The tokenizer of a parsed GGUF file as plain data: the `tokenizers` JSON and the
  special tokens' names."""
  import tokenizers
  from tokenizers import decoders, models, pre_tokenizers

  def field(name, default=None):
    f = reader.fields.get(name)
    return default if f is None else f.contents()

  kind = field("tokenizer.ggml.model")
  if kind != "gpt2":
    raise TokenizerError(f"GGUF tokenizer model {kind!r} unsupported (only BPE 'gpt2')")
  tokens = field("tokenizer.ggml.tokens")
  merges = field("tokenizer.ggml.merges")
  types = field("tokenizer.ggml.token_type")
  vocab = {t: i for i, t in enumerate(tokens)}
  merge_pairs = [tuple(m.split(" ", 1)) for m in merges]
  tok = tokenizers.Tokenizer(models.BPE(vocab, merge_pairs, fuse_unk=False, byte_fallback=False))
  pre = field("tokenizer.ggml.pre", "default")
  byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
  if pre in ("smollm", "llama3", "llama-bpe", "qwen2", "deepseek-llm"):
    # These vocabularies split digits one by one before the GPT-2 regex.
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), byte_level])
  else:
    tok.pre_tokenizer = byte_level
  tok.decoder = decoders.ByteLevel()
  # token_type 3 = control, 4 = user defined: both are atomic added tokens.
  specials = [tokenizers.AddedToken(tokens[i], special=(types[i] == 3), normalized=False)
              for i in range(len(tokens)) if types[i] in (3, 4)]
  tok.add_special_tokens([s for s in specials if s.special])
  tok.add_tokens([s for s in specials if not s.special])

  def name(key):
    i = field(key)
    return tokens[int(i)] if i is not None else None

  return {"tokenizer": tok.to_str(), "bos_token": name("tokenizer.ggml.bos_token_id"),
          "eos_tokens": [n for n in [name("tokenizer.ggml.eos_token_id")] if n],
          "pad_token": name("tokenizer.ggml.padding_token_id"),
          "chat_template": field("tokenizer.chat_template")}


def load(path: str) -> Tokenizer:
  """A tokenizer from an HF directory, a sentencepiece `.model` or a `.gguf` file."""
  if os.path.isdir(path):
    return from_hf_dir(path)
  if path.endswith(".gguf"):
    return from_gguf(path)
  if path.endswith(".model"):
    return SentencePieceTokenizer(path)
  if path.endswith(".json"):
    return from_hf_dir(os.path.dirname(path) or ".")
  raise TokenizerError(f"{path}: expected an HF directory, a .model or a .gguf file")
