r"""Builds a corpus environment from local documents (see spice_jax.data.corpus).

  python -m spice_jax.data.build_corpus --input=/data/manuals --data_dir=runs/corpus \
      --tokenizer=smollm2-135m-instruct [--max_doc_tokens=5992]

  # several named sources with mixture weights
  python -m spice_jax.data.build_corpus --data_dir=runs/corpus --tokenizer=/ckpt/Qwen3-4B-Base \
      --input='math=/data/nemotron/4plus/*.parquet' --input='general=/data/dclm/**/*.jsonl.zst' \
      --weights=math=1,general=1

  # a source described by a third_party config, with its files under a root you downloaded
  python -m spice_jax.data.build_corpus --data_dir=runs/corpus --tokenizer=... \
      --source_config=third_party/corpora/nemotron_cc_math.json@/data/Nemotron-CC-Math-v1

  # the bundled demo corpus
  python -m spice_jax.data.build_corpus --demo --data_dir=runs/demo_corpus

--input is `PATH[,PATH...]` or `NAME=PATH[,PATH...]` (files, directories, globs); unnamed
sources are named after the first path. --tokenizer takes the preset
`smollm2-135m-instruct` or an HF directory / .gguf / .model path. Prints a report of
files, documents, passages, tokens and skipped records (by reason, with locations).
"""

from __future__ import annotations

import json
import os
import re
import sys

from absl import app, flags

from spice_jax.data import corpus as corpus_lib
from spice_jax.utils import fs



def define_flags(fv: flags.FlagValues) -> None:
  """Defines the CLI flags on `fv` (done at run time, so importing this module defines none)."""
  flags.DEFINE_multi_string("input", [], "PATH[,PATH] or NAME=PATH[,PATH] (repeatable)",
                            flag_values=fv)
  flags.DEFINE_multi_string("source_config", [],
                            "CONFIG.json@ROOT: a SourceSpec JSON whose paths use {root}",
                            flag_values=fv)
  flags.DEFINE_bool("demo", False, "add the bundled demo corpus as source 'demo'",
                    flag_values=fv)
  flags.DEFINE_string("data_dir", None, "output TFDS data dir", flag_values=fv)
  flags.DEFINE_string("tokenizer", "smollm2-135m-instruct",
                      "preset name, HF dir, .gguf or .model", flag_values=fv)
  flags.DEFINE_integer("max_doc_tokens", corpus_lib.DEFAULT_MAX_DOC_TOKENS,
                       "max tokens per passage", flag_values=fv)
  flags.DEFINE_integer("max_doc_bytes", corpus_lib.DEFAULT_MAX_DOC_BYTES,
                       "skip larger documents", flag_values=fv)
  flags.DEFINE_string("text_field", "text", "text key/column for --input sources",
                      flag_values=fv)
  flags.DEFINE_string("id_field", None, "id key/column for --input sources", flag_values=fv)
  flags.DEFINE_string("weights", "", "NAME=W,NAME=W mixture weights (default 1)",
                      flag_values=fv)
  flags.DEFINE_integer("max_docs", None, "keep at most this many documents per --input source",
                       flag_values=fv)
  flags.DEFINE_bool("dedup", True, "drop exact duplicate documents", flag_values=fv)
  flags.DEFINE_bool("overwrite", False, "rebuild if data_dir holds a corpus", flag_values=fv)
  flags.DEFINE_bool("progress", True, "show a progress bar", flag_values=fv)


_NAMED = re.compile(r"^([A-Za-z0-9_]+)=(.+)$")


def _default_name(path: str) -> str:
  head = path
  while any(c in head for c in "*?["):
    head = os.path.dirname(head)
  base = os.path.basename(os.path.normpath(head or path)) or "corpus"
  for ext in (".gz", ".zst", ".zstd", ".jsonl", ".ndjson", ".parquet", ".txt", ".md"):
    base = base.removesuffix(ext)
  name = re.sub(r"[^A-Za-z0-9_]+", "_", base).strip("_")
  return name or "corpus"


def parse_inputs(inputs: list[str], text_field: str = "text",
                 id_field: str | None = None) -> list[corpus_lib.SourceSpec]:
  specs = []
  for value in inputs:
    m = _NAMED.match(value)
    name, paths = (m.group(1), m.group(2)) if m else (None, value)
    paths = tuple(p for p in paths.split(",") if p)
    specs.append(corpus_lib.SourceSpec(name or _default_name(paths[0]), paths,
                                       text_field=text_field, id_field=id_field))
  return specs


def load_source_config(value: str) -> corpus_lib.SourceSpec:
  """`CONFIG.json@ROOT` -> SourceSpec with `{root}` in its paths replaced by ROOT."""
  path, sep, root = value.partition("@")
  if not sep or not root:
    raise corpus_lib.CorpusError(f"--source_config={value!r}: expected CONFIG.json@ROOT")
  try:
    cfg = json.loads(fs.path(path).read_text())
  except (OSError, json.JSONDecodeError) as e:
    raise corpus_lib.CorpusError(f"{path}: cannot read source config ({e})") from e
  cfg = {k: v for k, v in cfg.items() if not k.startswith("_")}  # "_comment" etc.
  cfg["paths"] = [p.replace("{root}", root) for p in cfg.get("paths", [])]
  return corpus_lib.SourceSpec.from_json(cfg)


def parse_weights(value: str) -> dict[str, float]:
  out = {}
  for part in filter(None, value.split(",")):
    name, sep, w = part.partition("=")
    if not sep:
      raise corpus_lib.CorpusError(f"--weights: {part!r} is not NAME=WEIGHT")
    out[name] = float(w)
  return out


def specs_from_flags(fv: flags.FlagValues) -> list[corpus_lib.SourceSpec]:
  import dataclasses
  from spice_jax import data
  specs = parse_inputs(fv.input, fv.text_field, fv.id_field)
  if fv.max_docs is not None:
    specs = [dataclasses.replace(s, max_docs=fv.max_docs) for s in specs]
  specs += [load_source_config(v) for v in fv.source_config]
  if fv.demo:
    specs.append(data.demo_corpus_source())
  if not specs:
    raise corpus_lib.CorpusError("give at least one --input, --source_config or --demo")
  weights = parse_weights(fv.weights)
  unknown = set(weights) - {s.name for s in specs}
  if unknown:
    raise corpus_lib.CorpusError(f"--weights names unknown sources {sorted(unknown)}")
  return [dataclasses.replace(s, weight=weights.get(s.name, s.weight)) for s in specs]


def _main(fv: flags.FlagValues, *, log_file: bool = False) -> int:
  try:
    if not fv.data_dir:
      raise corpus_lib.CorpusError("--data_dir is required")
    if log_file:   # library INFO -> <data_dir>/build_log.txt; the terminal keeps the bar
      from spice_jax.utils import cli
      cli.log_to_file(fv.data_dir, "build_log.txt")
    report = corpus_lib.build(
        specs_from_flags(fv), fv.data_dir, fv.tokenizer, max_doc_tokens=fv.max_doc_tokens,
        max_doc_bytes=fv.max_doc_bytes, dedup=fv.dedup, overwrite=fv.overwrite,
        progress=fv.progress)
  except corpus_lib.CorpusError as e:
    print(f"error: {e}", file=sys.stderr)
    return 1
  print(report)
  return 0


def run(argv: list[str]) -> int:
  """Runs the CLI on `argv` (program name first) with private flags; returns the exit code."""
  fv = flags.FlagValues()
  define_flags(fv)
  fv(argv)
  return _main(fv)


if __name__ == "__main__":
  define_flags(flags.FLAGS)
  app.run(lambda argv: _main(flags.FLAGS, log_file=True))
