"""Tests for spice_jax.data.documents: documents from every input format, skips located."""

import json

import pyarrow as pa
import pyarrow.parquet as pq

from spice_jax.data import documents as D


def _read(tmp_path, name, spec_kw=None, max_bytes=1 << 20):
  spec = D.SourceSpec("s", (str(tmp_path),), **(spec_kw or {}))
  report = D.Report()
  docs = list(D.DocumentReader(spec, report, max_bytes).read(str(tmp_path / name), name))
  return docs, report


def test_every_format_gives_the_same_documents(tmp_path):
  rows = [{"text": "First document.", "meta": {"id": "a"}},
          {"text": "Second document.", "meta": {"id": "b"}}]
  (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
  (tmp_path / "d.json").write_text(json.dumps({"data": rows}))
  pq.write_table(pa.Table.from_pylist(rows), tmp_path / "d.parquet")
  for name in ("d.jsonl", "d.json", "d.parquet"):
    docs, report = _read(tmp_path, name, {"id_field": "meta.id"})
    assert [(d.text, d.doc_id, d.location) for d in docs] == [
        ("First document.", "a", f"{tmp_path / name}:1"),
        ("Second document.", "b", f"{tmp_path / name}:2")], name
    assert report.num_skipped == 0
  (tmp_path / "d.csv").write_text("text,n\nFirst document.,1\n,2\n")
  docs, report = _read(tmp_path, "d.csv")
  assert [(d.text, d.doc_id) for d in docs] == [("First document.", "d.csv:1")]
  assert report.skipped["empty_text"].locations == [f"{tmp_path / 'd.csv'}:2"]
  (tmp_path / "d.md").write_text("# Title\n\nBody.")
  docs, _ = _read(tmp_path, "d.md")
  assert [(d.text, d.doc_id) for d in docs] == [("# Title\n\nBody.", "d.md")]


def test_file_level_problems_are_skips(tmp_path):
  (tmp_path / "x.pdf").write_bytes(b"%PDF")
  (tmp_path / "cols.json").write_text(json.dumps({"text": ["a"], "id": [1, 2]}))
  for name, reason in (("x.pdf", "unsupported_file"), ("cols.json", "bad_layout")):
    docs, report = _read(tmp_path, name)
    assert docs == [] and list(report.skipped) == [reason]
    assert report.skipped[reason].locations[0].startswith(str(tmp_path / name))
