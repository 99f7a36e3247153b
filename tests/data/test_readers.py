"""Tests for spice_jax.data.readers: every format, and errors that name the file and row."""

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from spice_jax.data import readers as R


def _values(records):
  return [(r.number, r.value, r.reason) for r in records]


@pytest.mark.parametrize("name,kind", [
    ("a.jsonl", "jsonl"), ("a.ndjson.gz", "jsonl"), ("A.JSONL.ZST", "jsonl"),
    ("a.jsonl.zstd", "jsonl"), ("a.json", "json"), ("a.parquet", "parquet"), ("a.csv", "csv"),
    ("a.md", "text"), ("a.txt", "text"), ("a.pdf", None), ("a.json.gz", None),
])
def test_file_kind(name, kind):
  assert R.file_kind(name) == kind


@pytest.mark.parametrize("suffix", ["", ".gz", ".zst"])
def test_jsonl_records_and_reasons(tmp_path, suffix):
  raw = (b'{"a": 1}\n\n{not json\n[1, 2]\n{"a": "\xff"}\n' + b'{"a": "' + b"x" * 100 + b'"}\n'
         + b'{"a": 2}\n')
  p = tmp_path / f"f.jsonl{suffix}"
  p.write_bytes({"": lambda b: b, ".gz": gzip.compress,
                 ".zst": lambda b: zstandard.ZstdCompressor().compress(b)}[suffix](raw))
  recs = list(R.jsonl_records(str(p), max_bytes=50))
  assert [(r.number, r.reason) for r in recs] == [
      (1, None), (2, "blank_line"), (3, "malformed_json"), (4, "not_an_object"),
      (5, "invalid_utf8"), (6, "too_long"), (7, None)]
  assert recs[0].value == {"a": 1} and recs[6].value == {"a": 2}
  assert recs[2].location == f"{p}:3"


def test_jsonl_file_errors(tmp_path):
  (tmp_path / "e.jsonl").write_bytes(b"")
  (tmp_path / "b.jsonl").write_bytes(b"\x00\x01binary")
  good = gzip.compress(b'{"a": 1}\n')
  (tmp_path / "c.jsonl.gz").write_bytes(good + b"\x1f\x8b\x08\x00broken")
  for name, reason, where in (("e.jsonl", "empty_file", ""), ("b.jsonl", "binary_file", ""),
                              ("c.jsonl.gz", "unreadable_file", ":2")):
    with pytest.raises(R.FileError) as e:
      list(R.jsonl_records(str(tmp_path / name)))
    assert e.value.reason == reason and e.value.location == f"{tmp_path / name}{where}"
    assert str(tmp_path / name) in str(e.value)


def test_json_layouts(tmp_path):
  rows = [{"q": "x", "a": 1}, {"q": "y", "a": 2}]
  for name, data, key in (("list.json", rows, None), ("wrapped.json", {"examples": rows}, "examples"),
                          ("cols.json", {"q": ["x", "y"], "a": [1, 2]}, None)):
    (tmp_path / name).write_text(json.dumps(data))
    assert R.json_rows(str(tmp_path / name)) == (rows, key)
  (tmp_path / "ragged.json").write_text(json.dumps({"q": ["x"], "a": [1, 2]}))
  (tmp_path / "scalar.json").write_text("3")
  (tmp_path / "bad.json").write_text("{oops")
  for name, needle in (("ragged.json", "different lengths"), ("scalar.json", "list of objects"),
                       ("bad.json", "not valid JSON")):
    with pytest.raises(R.FileError, match=needle) as e:
      R.json_rows(str(tmp_path / name))
    assert e.value.reason == "bad_layout" and str(tmp_path / name) in str(e.value)
  (tmp_path / "mixed.json").write_text(json.dumps([{"a": 1}, 2]))
  assert _values(R.json_records(str(tmp_path / "mixed.json"))) == [
      (1, {"a": 1}, None), (2, None, "not_an_object")]


def test_parquet_records(tmp_path):
  p = tmp_path / "t.parquet"
  pq.write_table(pa.table({"text": ["a", None, "c"], "id": [1, 2, 3], "other": [0, 0, 0]}), p)
  assert _values(R.parquet_records(str(p), ["text"], optional=["id", "nope"], batch_size=2)) == [
      (1, {"text": "a", "id": 1}, None), (2, {"text": None, "id": 2}, None),
      (3, {"text": "c", "id": 3}, None)]
  assert len(list(R.parquet_records(str(p)))[0].value) == 3  # all columns
  with pytest.raises(R.FileError) as e:
    list(R.parquet_records(str(p), ["body"]))
  assert e.value.reason == "missing_column" and "'id', 'other', 'text'" in e.value.location
  (tmp_path / "fake.parquet").write_bytes(b"not parquet")
  with pytest.raises(R.FileError) as e:
    list(R.parquet_records(str(tmp_path / "fake.parquet")))
  assert (e.value.reason, e.value.location) == ("unreadable_file", f"{tmp_path / 'fake.parquet'}:1")


def test_csv_and_text(tmp_path):
  (tmp_path / "t.csv").write_text("q,a\nx,1\n\"y, z\",2\n")
  assert _values(R.records(str(tmp_path / "t.csv"))) == [
      (1, {"q": "x", "a": "1"}, None), (2, {"q": "y, z", "a": "2"}, None)]
  (tmp_path / "e.csv").write_text("")
  with pytest.raises(R.FileError, match="no header row"):
    list(R.csv_records(str(tmp_path / "e.csv")))
  (tmp_path / "t.txt").write_bytes(b"\xef\xbb\xbfhello")
  assert R.text_bytes(str(tmp_path / "t.txt"), 100) == b"hello"
  with pytest.raises(R.FileError) as e:
    R.text_bytes(str(tmp_path / "t.txt"), 3)
  assert e.value.reason == "too_long"
  with pytest.raises(R.FileError) as e:
    R.records(str(tmp_path / "t.txt"))
  assert e.value.reason == "unsupported_file"
