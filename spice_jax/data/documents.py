"""Documents from local files: named sources, file discovery, and reading with a skip report.

A `SourceSpec` names a set of files (paths, directories walked recursively with hidden
names ignored, or globs with `**`); `discover` lists them; `DocumentReader` turns each file
into documents: JSON lines (optionally `.gz` / `.zst`), `.json`, `.csv` and Parquet records
with the text in `text_field` (a dotted path into nested objects, e.g. `metadata.text`), and
text files (`.txt` / `.md` / `.markdown`) as one document each. File formats are read by
`data.readers`, shared with the benchmark loaders.

Every record that does not become a document is counted in a `Report` under a reason (see
`SKIP_REASONS`) with the first few `file:line` locations.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
from typing import Any, Iterator

from absl import logging
import numpy as np

from spice_jax.errors import SpiceError
from spice_jax.data import readers

_MAX_LOCATIONS = 5
_NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")

SKIP_REASONS = {
    **{k: v for k, v in readers.FILE_REASONS.items() if k != "too_long"},
    **{k: v for k, v in readers.RECORD_REASONS.items() if k != "too_long"},
    "invalid_utf8": "bytes (or a JSON string) that are not valid UTF-8",
    "missing_field": "text field missing or null",
    "bad_field_type": "text field is not a string",
    "empty_text": "text is empty or whitespace only",
    "too_long": "document larger than max_doc_bytes",
    "duplicate": "exact duplicate of an earlier document (same text)",
}


class CorpusError(SpiceError, ValueError):
  pass


@dataclasses.dataclass(frozen=True)
class SourceSpec:
  """One named source of documents.

  Attributes:
    name: split name in the dataset and `source` feature; letters, digits, `_`.
    paths: files, directories or globs.
    text_field: JSON key / Parquet column of the text (dotted path for nested objects).
    id_field: optional key of a document id; default id is `relative/path:line`.
    weight: default mixture weight of this source for `pipeline.DocumentStream`
      (probability of drawing from it is weight / sum of weights).
    max_docs: keep only the first this many documents (after skips and dedup, in sorted
      file order) and stop reading; e.g. the paper's 10,000 per source. None: all.
  """
  name: str
  paths: tuple[str, ...]
  text_field: str = "text"
  id_field: str | None = None
  weight: float = 1.0
  max_docs: int | None = None

  def __post_init__(self):
    if isinstance(self.paths, (str, os.PathLike)):
      object.__setattr__(self, "paths", (os.fspath(self.paths),))
    else:
      object.__setattr__(self, "paths", tuple(os.fspath(p) for p in self.paths))
    if not _NAME_RE.match(self.name or "") or self.name == "all":
      raise CorpusError(f"source name {self.name!r}: expected letters, digits and '_' "
                        "(and not 'all')")
    if not self.paths:
      raise CorpusError(f"source {self.name!r}: no paths")
    if not self.text_field:
      raise CorpusError(f"source {self.name!r}: empty text_field")
    if not (self.weight >= 0 and np.isfinite(self.weight)):
      raise CorpusError(f"source {self.name!r}: weight must be finite and >= 0, "
                        f"got {self.weight}")
    if self.max_docs is not None and self.max_docs < 1:
      raise CorpusError(f"source {self.name!r}: max_docs must be >= 1, got {self.max_docs}")

  def to_json(self) -> dict:
    return dict(name=self.name, paths=list(self.paths), text_field=self.text_field,
                id_field=self.id_field, weight=self.weight, max_docs=self.max_docs)

  @classmethod
  def from_json(cls, d: dict) -> "SourceSpec":
    return cls(name=d["name"], paths=tuple(d["paths"]), text_field=d.get("text_field", "text"),
               id_field=d.get("id_field"), weight=float(d.get("weight", 1.0)),
               max_docs=d.get("max_docs"))


@dataclasses.dataclass
class Skips:
  count: int = 0
  locations: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Report:
  """What a build read, kept and skipped. `str(report)` is the human summary."""
  data_dir: str = ""
  files: int = 0  # input files opened (including ones skipped as a whole)
  bytes: int = 0  # on-disk size of those files
  documents: int = 0  # documents kept (after dedup)
  passages: int = 0
  tokens: int = 0  # sum of passage num_tokens
  per_source: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)
  skipped: dict[str, Skips] = dataclasses.field(default_factory=dict)
  seconds: float = 0.0
  reused: bool = False

  def skip(self, reason: str, location: str, n: int = 1):
    assert reason in SKIP_REASONS, reason
    s = self.skipped.setdefault(reason, Skips())
    s.count += n
    if len(s.locations) < _MAX_LOCATIONS:
      s.locations.append(location)

  @property
  def num_skipped(self) -> int:
    return sum(s.count for s in self.skipped.values())

  def to_json(self) -> dict:
    d = dataclasses.asdict(self)
    return d

  @classmethod
  def from_json(cls, d: dict) -> "Report":
    d = dict(d)
    d["skipped"] = {k: Skips(**v) for k, v in d.get("skipped", {}).items()}
    return cls(**d)

  def __str__(self) -> str:
    mb = self.bytes / 2**20
    lines = [f"corpus {self.data_dir}{' (reused)' if self.reused else ''}: "
             f"{self.files} files ({mb:.2f} MB), {self.documents} documents, "
             f"{self.passages} passages, {self.tokens} tokens, {self.seconds:.1f}s"]
    for name, st in self.per_source.items():
      lines.append(f"  source {name}: " + ", ".join(f"{v} {k}" for k, v in st.items()))
    if self.skipped:
      lines.append(f"  skipped {self.num_skipped}:")
      for reason, s in sorted(self.skipped.items()):
        where = ", ".join(s.locations) + (", ..." if s.count > len(s.locations) else "")
        lines.append(f"    {reason}: {s.count} ({where})")
    else:
      lines.append("  skipped: none")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Discovering files


def _walk(root: str) -> list[str]:
  out = []
  for d, dirs, files in os.walk(root):
    dirs[:] = sorted(x for x in dirs if not x.startswith("."))
    out += [os.path.join(d, f) for f in sorted(files) if not f.startswith(".")]
  return out


def discover(spec: SourceSpec) -> list[tuple[str, str]]:
  """(path, name relative to the given root) of every file of a source, sorted, unique."""
  found: dict[str, str] = {}
  for p in spec.paths:
    p = os.path.expanduser(p)
    if glob.has_magic(p):
      root = p
      while glob.has_magic(root):
        root = os.path.dirname(root)
      matches = sorted(glob.glob(p, recursive=True))
      if not matches:
        raise CorpusError(f"source {spec.name!r}: glob {p!r} matches nothing")
    elif os.path.exists(p):
      root = p if os.path.isdir(p) else os.path.dirname(p)
      matches = [p]
    else:
      raise CorpusError(f"source {spec.name!r}: {p!r} does not exist")
    for m in matches:
      for f in (_walk(m) if os.path.isdir(m) else [m]):
        found.setdefault(os.path.abspath(f), os.path.relpath(f, root or "."))
  if not found:
    raise CorpusError(f"source {spec.name!r}: no files under {list(spec.paths)}")
  return sorted(found.items())


# ---------------------------------------------------------------------------------------
# Reading documents


@dataclasses.dataclass(frozen=True)
class Doc:
  """One document: its text, id (the `id_field` value or `relative/path:line`) and location."""
  text: str
  doc_id: str
  location: str


def get_field(obj: Any, dotted: str) -> Any:
  """`obj["a"]["b"]` for `dotted` = "a.b", or None when a key is missing."""
  for key in dotted.split("."):
    if not isinstance(obj, dict) or key not in obj:
      return None
    obj = obj[key]
  return obj


class DocumentReader:
  """Yields the documents of one file of `spec`; records every skip in `report`."""

  def __init__(self, spec: SourceSpec, report: Report, max_doc_bytes: int):
    self.spec = spec
    self.report = report
    self.max_bytes = max_doc_bytes

  def read(self, path: str, rel: str) -> Iterator[Doc]:
    """The documents of the file at `path` (`rel`: its name relative to the source root)."""
    kind = readers.file_kind(path)
    try:
      if kind is None:
        raise readers.FileError("unsupported_file", path)
      if kind == "text":
        text = self._text_value(readers.text_bytes(path, self.max_bytes), path)
        if text is not None:
          yield Doc(text, rel, path)
        return
      for rec in self._records(path, kind):
        if rec.reason is not None:
          self.report.skip(rec.reason, rec.location)
          continue
        text = self._text_value(get_field(rec.value, self.spec.text_field), rec.location)
        if text is not None:
          yield Doc(text, self._doc_id(rec.value, f"{rel}:{rec.number}"), rec.location)
    except readers.FileError as e:
      if e.detail:
        logging.warning("%s", e)
      self.report.skip(e.reason, e.location)

  def _records(self, path: str, kind: str) -> Iterator[readers.Record]:
    if kind == "jsonl":
      return readers.jsonl_records(path, self.max_bytes)
    if kind == "parquet":
      top = self.spec.text_field.split(".")[0]
      id_top = self.spec.id_field.split(".")[0] if self.spec.id_field else None
      return readers.parquet_records(path, [top], optional=[id_top] if id_top else ())
    return readers.json_records(path) if kind == "json" else readers.csv_records(path)

  def _text_value(self, value, loc: str) -> str | None:
    """The validated text of a record's text field, or None (skip recorded)."""
    if value is None:
      self.report.skip("missing_field", loc)
      return None
    if isinstance(value, bytes):
      if len(value) > self.max_bytes:
        self.report.skip("too_long", loc)
        return None
      try:
        value = value.decode("utf-8")
      except UnicodeDecodeError:
        self.report.skip("invalid_utf8", loc)
        return None
    if not isinstance(value, str):
      self.report.skip("bad_field_type", loc)
      return None
    try:
      nbytes = len(value.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates from JSON "\ud800" escapes
      self.report.skip("invalid_utf8", loc)
      return None
    if nbytes > self.max_bytes:
      self.report.skip("too_long", loc)
      return None
    if not value.strip():
      self.report.skip("empty_text", loc)
      return None
    return value

  def _doc_id(self, record, default: str) -> str:
    if self.spec.id_field:
      v = get_field(record, self.spec.id_field)
      if v is not None and not isinstance(v, (dict, list)):
        return str(v)
    return default
