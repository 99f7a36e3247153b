"""Prompts for both roles (SPEC §2.2, §2.3, §3), built from versioned template files.

Template files live in `spice_jax/spice/templates/` as `<name>.<version>.txt` (message
texts with `{{placeholder}}` fields) or `<name>.<version>.jinja` (chat templates). A user
directory passed as `template_dir` is searched first, file by file, so swapping one prompt
(say the authors' Challenger prompt) needs no code change; `template_version` gives the
hash of the file actually used for the audit trail. One trailing newline of a `.txt` file is
dropped (editors add one).

Names (version "v1"):
  challenger_mcq, challenger_free_form            full 8-step prompts, JSON output ({{document}})
  challenger_compact_mcq, challenger_compact_free_form   small-model line format ({{document}})
  <any of the above>_nodoc                        ungrounded variants (no_corpus, r_zero)
  format_selection                                format-selection JSON prompt ({{document}})
  reasoner, reasoner_mcq                          {{question}} + blank line + \\boxed instruction
  reasoner_grounded, reasoner_grounded_mcq        the document ({{document}}, between the
                                                  markers), then as `reasoner`: the grounded
                                                  pass of the grounding_regret reward only
  system_default                                  "You are a helpful assistant." (Qwen3 system)
  chat_qwen3 (.jinja)                             Qwen3 ChatML chat template
  plain                                           OctoThinker plain template ({{user}}), ends
                                                  in "Assistant:"

Rendering (`render`): "chat" = the tokenizer's own chat template; "qwen3" = our ChatML
template with the default system message added when the messages have none; "plain" = the
plain template. Message contents (documents, questions) are always tokenized as plain text:
a document containing `<|im_end|>` never yields the special token.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from typing import Sequence

from spice_jax.errors import SpiceError

TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
RENDER_TEMPLATES = ("chat", "qwen3", "plain")   # chat layouts (`spice.chat_layout`)
ANSWER_TYPES = ("Integer", "Expression", "String")
STYLES = ("full", "compact")
DOC_BEGIN = "[BEGINNING OF THE DOCUMENT]"
DOC_END = "[END OF THE DOCUMENT]"


class PromptError(SpiceError, ValueError):
  pass


# Lone surrogates (e.g. from a JSON "\ud800" escape in a benchmark file or a Challenger
# question) cannot be tokenized (the tokenizer raises TypeError); they become U+FFFD.
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def _encodable(messages: Sequence[dict]) -> list[dict]:
  return [dict(m, content=_SURROGATE_RE.sub("\ufffd", m["content"]))
          if isinstance(m.get("content"), str) and _SURROGATE_RE.search(m["content"]) else m
          for m in messages]


# ---------------------------------------------------------------------------- files

def template_path(name: str, version: str = "v1", template_dir: str | None = None) -> str:
  """Path of template `name` at `version`: `template_dir` first, then the built-in files."""
  dirs = ([template_dir] if template_dir else []) + [TEMPLATE_DIR]
  for d in dirs:
    for ext in (".txt", ".jinja"):
      p = os.path.join(d, f"{name}.{version}{ext}")
      if os.path.isfile(p):
        return p
  raise PromptError(f"template {name!r} version {version!r} not found "
                    f"(looked for {name}.{version}.txt/.jinja in {', '.join(dirs)})")


@functools.lru_cache(maxsize=256)
def _read(path: str, mtime: float) -> str:
  del mtime  # part of the cache key only: an edited file is re-read
  with open(path, encoding="utf-8") as f:
    text = f.read()
  if path.endswith(".txt") and text.endswith("\n"):
    text = text[:-1]
  return text


def load_template(name: str, version: str = "v1", template_dir: str | None = None) -> str:
  path = template_path(name, version, template_dir)
  return _read(path, os.path.getmtime(path))


def template_version(name: str, version: str = "v1", template_dir: str | None = None) -> str:
  """`"<name>.<version>@<first 12 hex of sha256(file)>"`, for the audit trail."""
  path = template_path(name, version, template_dir)
  with open(path, "rb") as f:
    digest = hashlib.sha256(f.read()).hexdigest()[:12]
  return f"{name}.{version}@{digest}"


def template_versions(version: str = "v1", template_dir: str | None = None) -> dict[str, str]:
  """`template_version` of every template available at `version` (built-in and user)."""
  names = set()
  for d in ([template_dir] if template_dir else []) + [TEMPLATE_DIR]:
    for f in os.listdir(d):
      m = re.fullmatch(rf"(.+)\.{re.escape(version)}\.(?:txt|jinja)", f)
      if m:
        names.add(m.group(1))
  return {n: template_version(n, version, template_dir) for n in sorted(names)}


_FIELD_RE = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def fill(template: str, optional: dict[str, str] | None = None, **values: str) -> str:
  """Replaces every `{{name}}` in `template` with `values[name]`, in one pass.

  Values are inserted verbatim and never re-scanned, so a document that contains
  `{{question}}` stays as written. A placeholder without a value, or a value without a
  placeholder, raises PromptError; `optional` values may be used or not (e.g. the format
  selection's `answer_type`, which a user template may ignore).
  """
  used = set()
  known = {**(optional or {}), **values}

  def sub(m):
    key = m.group(1)
    if key not in known:
      raise PromptError(f"template field {{{{{key}}}}} has no value (given: {sorted(known)})")
    used.add(key)
    return str(known[key])

  out = _FIELD_RE.sub(sub, template)
  unused = set(values) - used
  if unused:
    raise PromptError(f"template has no field for {sorted(unused)}")
  return out


# ------------------------------------------------------------------------- messages

def challenger_template_name(fmt: str, style: str = "full", grounded: bool = True) -> str:
  if fmt not in ("mcq", "free_form"):
    raise PromptError(f"challenger format {fmt!r}: expected 'mcq' or 'free_form'")
  if style not in STYLES:
    raise PromptError(f"challenger style {style!r}: expected one of {STYLES}")
  name = f"challenger_{'compact_' if style == 'compact' else ''}{fmt}"
  return name if grounded else name + "_nodoc"


def answer_type_hint(value) -> str | None:
  """The format selection's `best_answer_type` as one of ANSWER_TYPES, or None."""
  if not isinstance(value, str):
    return None
  v = value.strip().strip('"').lower()
  return next((t for t in ANSWER_TYPES if t.lower() == v), None)


def challenger_messages(document: str | None, fmt: str, style: str = "full",
                        version: str = "v1", template_dir: str | None = None,
                        answer_type: str | None = None) -> list[dict]:
  """The Challenger's task-generation prompt as chat messages (one user turn).

  document: the passage, inserted between the document markers; None selects the
    ungrounded `_nodoc` template (no_corpus / r_zero ablations).
  fmt: "mcq" | "free_form". style: "full" (8 steps + JSON; parse with fmt) or "compact"
    (line format; parse with `tasks.parse(text, "compact", expect=fmt)`).
  answer_type: the format selection's best answer type (SPEC §2.2); any template may use
    it as `{{answer_type}}` (None: "Integer, Expression or String, whichever fits best").
  """
  name = challenger_template_name(fmt, style, grounded=document is not None)
  text = load_template(name, version, template_dir)
  values = {} if document is None else {"document": document}
  hint = answer_type or f"{', '.join(ANSWER_TYPES[:-1])} or {ANSWER_TYPES[-1]}, whichever fits best"
  return [{"role": "user", "content": fill(text, optional={"answer_type": hint}, **values)}]


def format_selection_messages(document: str, version: str = "v1",
                              template_dir: str | None = None) -> list[dict]:
  """The format-selection prompt (SPEC §2.2); parse the reply with
  `tasks.parse_format_selection`."""
  text = load_template("format_selection", version, template_dir)
  return [{"role": "user", "content": fill(text, document=document)}]


def reasoner_messages(question: str, kind: str | None = None, version: str = "v1",
                      template_dir: str | None = None, system: str | None = None) -> list[dict]:
  """The Reasoner prompt: the question only, a blank line and the `\\boxed{}` instruction.

  kind "mcq" uses `reasoner_mcq` (asks for the option letter in the box); anything else uses
  `reasoner`. `system` adds a system message (the "qwen3" renderer adds the default one).
  """
  name = "reasoner_mcq" if kind == "mcq" else "reasoner"
  text = fill(load_template(name, version, template_dir), question=question)
  msgs = [{"role": "system", "content": system}] if system is not None else []
  return msgs + [{"role": "user", "content": text}]


def reasoner_grounded_messages(document: str, question: str, kind: str | None = None,
                               version: str = "v1", template_dir: str | None = None,
                               system: str | None = None) -> list[dict]:
  """The Reasoner prompt *with* the document: the passage between the document markers, then
  the question and the `\\boxed{}` instruction (`reasoner_grounded[_mcq]`).

  Only for the grounded pass of the `grounding_regret` Challenger reward (SPADE's hint-based
  regret, the document as the hint): those answers score the task and are never trained on;
  the Reasoner's training prompt stays `reasoner_messages` (question only, SPEC §10).
  """
  name = "reasoner_grounded_mcq" if kind == "mcq" else "reasoner_grounded"
  text = fill(load_template(name, version, template_dir), document=document, question=question)
  msgs = [{"role": "system", "content": system}] if system is not None else []
  return msgs + [{"role": "user", "content": text}]


# ------------------------------------------------------------------------ rendering

def _with_default_system(messages: Sequence[dict], version: str,
                         template_dir: str | None) -> list[dict]:
  if messages and messages[0].get("role") == "system":
    return list(messages)
  system = load_template("system_default", version, template_dir)
  return [{"role": "system", "content": system}] + list(messages)


def _plain_parts(messages: Sequence[dict], version: str,
                 template_dir: str | None) -> tuple[str, str, str]:
  """`(prefix, user content, suffix)` of the plain template (system text leads the prefix)."""
  system = [m["content"] for m in messages if m.get("role") == "system"]
  users = [m for m in messages if m.get("role") != "system"]
  if len(users) != 1 or users[0].get("role") != "user":
    raise PromptError("the plain template takes exactly one user message (plus optional "
                      f"system messages); got roles {[m.get('role') for m in messages]}")
  template = load_template("plain", version, template_dir)
  parts = _FIELD_RE.split(template)
  # _FIELD_RE.split gives [before, name, after]; exactly one {{user}} field is allowed.
  if len(parts) != 3 or parts[1] != "user":
    raise PromptError(f"{template_path('plain', version, template_dir)}: expected exactly one "
                      "{{user}} field")
  prefix, suffix = parts[0], parts[2]
  if system:
    prefix = "\n".join(system) + "\n" + prefix
  return prefix, users[0]["content"], suffix


def render_text(messages: Sequence[dict], template: str, tokenizer=None, *,
                add_generation_prompt: bool = True, version: str = "v1",
                template_dir: str | None = None) -> str:
  """The prompt as text (for logs and the audit trail); `render` gives the token ids."""
  messages = _encodable(messages)
  if template == "plain":
    prefix, user, suffix = _plain_parts(messages, version, template_dir)
    return prefix + user + suffix
  import jinja2.sandbox
  if template == "qwen3":
    messages = _with_default_system(messages, version, template_dir)
    jinja = load_template("chat_qwen3", version, template_dir)
    extra = {}
  elif template == "chat":
    if tokenizer is None or not tokenizer.chat_template:
      raise PromptError("render_text(template='chat') needs a tokenizer with a chat template")
    jinja = tokenizer.chat_template
    extra = dict(bos_token=tokenizer.bos_token, eos_token=tokenizer.eos_token)
  else:
    raise PromptError(f"render template {template!r}: expected one of {RENDER_TEMPLATES}")
  env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
  return env.from_string(jinja).render(messages=list(messages),
                                       add_generation_prompt=add_generation_prompt, **extra)


def render(tokenizer, messages: Sequence[dict], template: str = "chat", *,
           add_generation_prompt: bool = True, add_bos: bool = True, version: str = "v1",
           template_dir: str | None = None) -> list[int]:
  """Token ids of `messages` laid out with `template` ("chat" | "qwen3" | "plain").

  "chat" and "qwen3" go through `tokenizer.render_chat` (contents stay plain text; the
  template's own markup may be special tokens). "plain" encodes the template's fixed text
  and the user content separately with `tokenizer.encode`, so no special token can come
  from either; the space after "User:" is encoded with the content (as BPE would merge it),
  and the tokenizer's BOS id is prepended when `add_bos` and the tokenizer has one.
  `add_bos` only affects "plain" (chat templates write their own BOS). Lone surrogates in
  contents are replaced by U+FFFD.
  """
  messages = _encodable(messages)
  if template == "chat":
    return list(tokenizer.render_chat(messages, add_generation_prompt=add_generation_prompt))
  if template == "qwen3":
    jinja = load_template("chat_qwen3", version, template_dir)
    msgs = _with_default_system(messages, version, template_dir)
    return list(tokenizer.render_chat(msgs, add_generation_prompt=add_generation_prompt,
                                      template=jinja))
  if template == "plain":
    prefix, user, suffix = _plain_parts(messages, version, template_dir)
    stripped = prefix.rstrip(" ")
    user = prefix[len(stripped):] + user
    ids = [tokenizer.bos_id] if add_bos and tokenizer.bos_id is not None else []
    for piece in (stripped, user, suffix if add_generation_prompt else ""):
      if piece:
        ids += tokenizer.encode(piece)
    return ids
  raise PromptError(f"render template {template!r}: expected one of {RENDER_TEMPLATES}")
