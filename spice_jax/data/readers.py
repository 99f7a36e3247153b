"""File readers shared by the corpus builder (`data.corpus`) and the benchmark loaders
(`eval.benchmarks`): the one place that knows the input file formats.

Formats, by file name:
  jsonl    `.jsonl` / `.ndjson`, optionally compressed (`.gz`, `.zst`, `.zstd`): one JSON
           object per line, streamed (a line longer than `max_bytes` is never held whole).
  json     `.json`: a list of objects, an object holding such a list under one of
           `JSON_LIST_KEYS`, or a dict of equal-length columns.
  parquet  `.parquet`: one row per record, read in batches (optionally only some columns).
  csv      `.csv`: a header row, then one record per row (values are strings).
  text     `.txt` / `.md` / `.markdown`: the whole file is one document.

Record readers yield `Record`s in file order, one per line / element / row, each with its
1-based `number` and a `path:number` location. A record that cannot be read carries a
`reason` (one of `RECORD_REASONS`) instead of a value: the caller decides whether to count
it (the corpus) or to raise (the benchmarks). A file that cannot be read at all (or not past
some point) raises `FileError` with a reason (one of `FILE_REASONS`) and a location.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import json
import os
import zlib
from typing import Any, Iterator, NamedTuple, Sequence

from spice_jax.errors import SpiceError

RECORD_REASONS = {
    "blank_line": "blank line in a JSON-lines file",
    "too_long": "record larger than the size limit",
    "invalid_utf8": "bytes that are not valid UTF-8",
    "malformed_json": "line is not valid JSON",
    "not_an_object": "JSON value is not an object",
}
FILE_REASONS = {
    "unsupported_file": "file extension is not a supported input format",
    "empty_file": "file (after decompression) is empty",
    "binary_file": "file contains NUL bytes: not text",
    "too_long": "file larger than the size limit",
    "unreadable_file": "I/O, decompression or Parquet error (rest of the file skipped)",
    "missing_column": "Parquet file has no column for a required field",
    "bad_layout": "JSON or CSV file not in a tabular layout",
}
JSON_LIST_KEYS = ("examples", "data", "rows", "test")
SNIFF_BYTES = 8192
_JSONL_EXT = (".jsonl", ".ndjson")
_COMPRESSED = ("", ".gz", ".zst", ".zstd")
_TEXT_EXT = (".txt", ".md", ".markdown")


class FileError(SpiceError, ValueError):
  """A file that cannot be read (further): `reason` (FILE_REASONS), `location`, `detail`."""

  def __init__(self, reason: str, location: str, detail: str = ""):
    assert reason in FILE_REASONS, reason
    self.reason, self.location, self.detail = reason, location, detail
    super().__init__(f"{location}: {FILE_REASONS[reason]}" + (f" ({detail})" if detail else ""))


@dataclasses.dataclass(frozen=True)
class Record:
  """One line / element / row: `value` (a dict for jsonl, json, parquet, csv) or `reason`."""
  number: int
  location: str
  value: Any = None
  reason: str | None = None
  detail: str = ""


def file_kind(path: str) -> str | None:
  """"jsonl" | "json" | "parquet" | "csv" | "text" by file name, else None."""
  low = path.lower()
  if any(low.endswith(ext + comp) for ext in _JSONL_EXT for comp in _COMPRESSED):
    return "jsonl"
  for kind, exts in (("json", (".json",)), ("parquet", (".parquet",)), ("csv", (".csv",)),
                     ("text", _TEXT_EXT)):
    if low.endswith(exts):
      return kind
  return None


def open_binary(path: str):
  """A buffered binary reader of `path`, decompressing `.gz` / `.zst` / `.zstd`."""
  low = path.lower()
  if low.endswith(".gz"):
    return gzip.open(path, "rb")
  if low.endswith((".zst", ".zstd")):
    import zstandard
    raw = open(path, "rb")
    reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True,
                                                        closefd=True)
    return io.BufferedReader(reader, buffer_size=1 << 20)
  return open(path, "rb", buffering=1 << 20)


def _read_errors() -> tuple[type[BaseException], ...]:
  errs = [OSError, EOFError, zlib.error]
  try:
    import zstandard
    errs.append(zstandard.ZstdError)
  except ImportError:  # pragma: no cover
    pass
  return tuple(errs)


def _sniff(f, path: str) -> None:
  head = f.peek(SNIFF_BYTES)[:SNIFF_BYTES] or f.peek(1)
  if not head:
    raise FileError("empty_file", path)
  if b"\x00" in head:
    raise FileError("binary_file", path)


def jsonl_records(path: str, max_bytes: int | None = None) -> Iterator[Record]:
  """The lines of a JSON-lines file (see the module docstring); lines over `max_bytes` are
  skipped as `too_long` without being held in memory."""
  limit = -1 if max_bytes is None else max_bytes + 1
  try:
    f = open_binary(path)
  except OSError as e:
    raise FileError("unreadable_file", path, str(e)) from e
  n = 0
  with f:
    try:
      _sniff(f, path)
      while True:
        line = f.readline(limit)
        if not line:
          return
        n += 1
        loc = f"{path}:{n}"
        if max_bytes is not None and len(line) > max_bytes and not line.endswith(b"\n"):
          while line and not line.endswith(b"\n"):  # drain the rest of the line
            line = f.readline(1 << 20)
          yield Record(n, loc, reason="too_long")
          continue
        yield _json_line(line, n, loc)
    except _read_errors() as e:
      raise FileError("unreadable_file", f"{path}:{n + 1}", str(e)) from e


def _json_line(line: bytes, n: int, loc: str) -> Record:
  if not line.strip():
    return Record(n, loc, reason="blank_line")
  try:
    s = line.decode("utf-8-sig" if n == 1 else "utf-8")
  except UnicodeDecodeError as e:
    return Record(n, loc, reason="invalid_utf8", detail=str(e))
  try:
    value = json.loads(s)
  except (json.JSONDecodeError, RecursionError) as e:
    return Record(n, loc, reason="malformed_json", detail=str(e))
  if not isinstance(value, dict):
    return Record(n, loc, reason="not_an_object", detail=type(value).__name__)
  return Record(n, loc, value)


class JsonRows(NamedTuple):
  rows: list
  key: str | None  # the JSON_LIST_KEYS entry the list was under, None for a bare list


def json_rows(path: str) -> JsonRows:
  """The row list of a `.json` file (see the module docstring)."""
  try:
    with open(path, encoding="utf-8") as f:
      data = json.load(f)
  except ValueError as e:
    raise FileError("bad_layout", path, f"not valid JSON: {e}") from e
  key = None
  if isinstance(data, dict):
    key = next((k for k in JSON_LIST_KEYS if isinstance(data.get(k), list)), None)
    if key is not None:
      data = data[key]
    elif data and all(isinstance(v, list) for v in data.values()):  # columnar dict
      lengths = {len(v) for v in data.values()}
      if len(lengths) != 1:
        raise FileError("bad_layout", path, f"columns of different lengths {sorted(lengths)}")
      data = [dict(zip(data, vals)) for vals in zip(*data.values())]
  if not isinstance(data, list):
    raise FileError("bad_layout", path, "expected a list of objects, an object with an "
                    f"{' / '.join(JSON_LIST_KEYS)} list, or a dict of columns")
  return JsonRows(data, key)


def json_records(path: str) -> Iterator[Record]:
  for i, row in enumerate(json_rows(path).rows, 1):
    if isinstance(row, dict):
      yield Record(i, f"{path}:{i}", row)
    else:
      yield Record(i, f"{path}:{i}", reason="not_an_object", detail=type(row).__name__)


def parquet_records(path: str, columns: Sequence[str] | None = None,
                    optional: Sequence[str] = (), batch_size: int = 256) -> Iterator[Record]:
  """The rows of a Parquet file as dicts of `columns` (+ those of `optional` present; all
  columns when `columns` is None), read `batch_size` rows at a time."""
  import pyarrow as pa
  import pyarrow.parquet as pq
  n = 0
  try:
    pf = pq.ParquetFile(path)
    names = list(pf.schema_arrow.names)
    missing = [c for c in (columns or ()) if c not in names]
    if missing:
      raise FileError("missing_column", f"{path} (columns: {sorted(names)})",
                      f"no column {missing}")
    if pf.metadata.num_rows == 0:
      raise FileError("empty_file", path)
    cols = names if columns is None else list(dict.fromkeys(
        [*columns, *(c for c in optional if c in names)]))
    for batch in pf.iter_batches(batch_size=batch_size, columns=cols):
      for row in batch.to_pylist():
        n += 1
        yield Record(n, f"{path}:{n}", row)
  except (pa.ArrowException, OSError) as e:
    raise FileError("unreadable_file", f"{path}:{n + 1}", str(e)) from e


def csv_records(path: str) -> Iterator[Record]:
  """The data rows of a CSV file with a header row (row 1 is the first data row)."""
  with open(path, encoding="utf-8", newline="") as f:
    reader = csv.DictReader(f)
    if not reader.fieldnames:
      raise FileError("empty_file", path, "no header row")
    for i, row in enumerate(reader, 1):
      yield Record(i, f"{path}:{i}", row)


def text_bytes(path: str, max_bytes: int) -> bytes:
  """The bytes of a text file (BOM removed), checked: not empty, not over `max_bytes`, no
  NUL byte in its head."""
  try:
    size = os.path.getsize(path)
    if size == 0:
      raise FileError("empty_file", path)
    if size > max_bytes:
      raise FileError("too_long", path)
    with open(path, "rb") as f:
      data = f.read()
  except OSError as e:
    raise FileError("unreadable_file", path, str(e)) from e
  if b"\x00" in data[:SNIFF_BYTES]:
    raise FileError("binary_file", path)
  return data.removeprefix(b"\xef\xbb\xbf")


def records(path: str) -> Iterator[Record]:
  """The records of a jsonl / json / parquet / csv file, by its name."""
  kind = file_kind(path)
  readers = {"jsonl": jsonl_records, "json": json_records, "parquet": parquet_records,
             "csv": csv_records}
  if kind not in readers:
    raise FileError("unsupported_file", path)
  return readers[kind](path)
