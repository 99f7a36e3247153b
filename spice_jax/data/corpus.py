"""A corpus environment: local documents -> a TFDS dataset of passages (ArrayRecord, no TF).

`build(sources, data_dir, tokenizer)` reads every file of every `SourceSpec`, skips and
counts bad input, removes exact duplicates (by content hash, across all sources), cuts
each document into passages of <= `max_doc_tokens` tokens (`passages.split`) and writes a
TFDS dataset `spice_corpus` with one split per source, stored as ArrayRecord so that
grain can read it by random access. `load(data_dir)` opens it again.

Sources, file discovery, input formats and the skip report are in `data.documents` (its
names `SourceSpec`, `CorpusError`, `Report`, `SKIP_REASONS`, `discover` are re-exported
here); every record that does not become a document is counted in the report, and a source
with nothing usable stops the build with `CorpusError`.

Features of one example (one passage): text, source (the SourceSpec name), doc_id (the
`id_field` value, else `relative/path:line`, `relative/path:row` or `relative/path`),
offset (character offset of the passage in its document), passage_index, num_passages
(of that document), num_tokens (of the passage alone, no specials).
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import hashlib
import io
import itertools
import json
import os
import shutil
import tempfile
import time
from typing import Any, Iterator, Sequence

from absl import logging
import numpy as np

from spice_jax.data import documents
from spice_jax.data import passages as passages_lib
from spice_jax.data.documents import (SKIP_REASONS, CorpusError, Report,  # noqa: F401
                                      SourceSpec, discover)

DATASET_NAME = "spice_corpus"
VERSION = "1.0.0"
DEFAULT_MAX_DOC_TOKENS = 5992
DEFAULT_MAX_DOC_BYTES = 16 * 2**20
_FORMAT_VERSION = 1  # bump when the build output changes for the same inputs


# ---------------------------------------------------------------------------------------
# Tokenizer


def resolve_tokenizer(tokenizer) -> Any:
  """A tokenizer object from an object (returned as is) or a string.

  Strings: the preset `smollm2-135m-instruct` (the embedded GGUF's tokenizer), or anything
  `spice_jax.models.tokenizer.load` accepts (HF directory, `.gguf`, `.model`,
  `tokenizer.json`).
  """
  if not isinstance(tokenizer, (str, os.PathLike)):
    if not hasattr(tokenizer, "encode"):
      raise CorpusError(f"tokenizer {tokenizer!r} has no encode()")
    return tokenizer
  from spice_jax import models  # lazy: pulls in jax
  from spice_jax.models import tokenizer as tokenizer_lib
  spec = os.fspath(tokenizer)
  if spec == models.EMBEDDED:
    return tokenizer_lib.from_gguf(models.embedded_gguf_path())
  if os.path.exists(spec):
    return tokenizer_lib.load(spec)
  if spec in models.PRESETS:
    raise CorpusError(f"tokenizer {spec!r}: this preset has no tokenizer (random init); "
                      f"pass an HF directory, a .gguf file or {models.EMBEDDED!r}")
  raise CorpusError(f"tokenizer {spec!r}: not {models.EMBEDDED!r} and no such file or "
                    "directory")


def tokenizer_fingerprint(tok) -> str:
  """Identifies a tokenizer by type, vocabulary size and the ids of a probe string."""
  probe = "The quick brown fox: 3.14159 × 2 = 6.28318; ∑ e^{iπ} naïve 東京 \n\n  end."
  ids = tok.encode(probe)
  h = hashlib.sha256(json.dumps([type(tok).__name__, getattr(tok, "vocab_size", None),
                                 list(map(int, ids))]).encode()).hexdigest()
  return h[:16]


# ---------------------------------------------------------------------------------------
# The TFDS builder


def _features():
  import tensorflow_datasets as tfds
  return tfds.features.FeaturesDict({
      "text": tfds.features.Text(),
      "source": tfds.features.Text(),
      "doc_id": tfds.features.Text(),
      "offset": np.int64,
      "passage_index": np.int32,
      "num_passages": np.int32,
      "num_tokens": np.int32,
  })


@dataclasses.dataclass
class _Plan:
  specs: list[SourceSpec]
  files: dict[str, list[tuple[str, str]]]
  tokenizer: Any
  max_doc_tokens: int
  max_doc_bytes: int
  dedup: bool
  meta: dict
  progress: bool


def _builder_class():
  import tensorflow_datasets as tfds

  class SpiceCorpus(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Passages of local documents, one split per source (see spice_jax.data.corpus)."""
    VERSION = tfds.core.Version(VERSION)

    # TFDS looks for checksum/README files next to the builder's module, and for modules
    # inside a package that lookup needs the `importlib_resources` backport. We have no
    # such files: say so, and avoid the extra dependency.
    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls):
      return None

    def __init__(self, *, plan: _Plan, **kwargs):
      self._plan = plan
      self._report = Report()
      super().__init__(**kwargs)

    def _info(self):
      return tfds.core.DatasetInfo(builder=self, features=_features(),
                                   metadata=tfds.core.MetadataDict(),
                                   description="spice_jax corpus environment: passages")

    def _split_generators(self, dl_manager):
      del dl_manager
      self._seen: set[bytes] = set()
      self._bar = _progress_bar(self._plan)
      return {s.name: self._generate(s) for s in self._plan.specs}

    def _generate_examples(self):  # required by the base class; we use _generate
      raise NotImplementedError

    def _generate(self, spec: SourceSpec) -> Iterator[tuple[str, dict]]:
      plan, report = self._plan, self._report
      reader = documents.DocumentReader(spec, report, plan.max_doc_bytes)
      stats = report.per_source.setdefault(
          spec.name, dict(files=0, documents=0, passages=0, tokens=0))
      for fi, (path, rel) in enumerate(plan.files[spec.name]):
        if spec.max_docs is not None and stats["documents"] >= spec.max_docs:
          stats["files_not_read (max_docs reached)"] = len(plan.files[spec.name]) - fi
          break
        stats["files"] += 1
        report.files += 1
        size = os.path.getsize(path)
        report.bytes += size
        docs = self._dedup(reader.read(path, rel))
        if spec.max_docs is not None:
          docs = itertools.islice(docs, spec.max_docs - stats["documents"])
        for k, (doc, ps) in enumerate(_split_docs(docs, plan.tokenizer, plan.max_doc_tokens)):
          stats["documents"] += 1
          stats["passages"] += len(ps)
          for pi, p in enumerate(ps):
            stats["tokens"] += p.num_tokens
            yield f"{fi}:{k}:{pi}", {
                "text": p.text, "source": spec.name, "doc_id": doc.doc_id,
                "offset": p.offset, "passage_index": pi, "num_passages": len(ps),
                "num_tokens": p.num_tokens}
          if self._bar is not None and k % 64 == 0:
            self._bar.set_postfix(docs=report.documents + stats["documents"], refresh=False)
        if self._bar is not None:
          self._bar.update(size)
      if stats["passages"] == 0:
        raise CorpusError(
            f"source {spec.name!r}: nothing usable in {len(plan.files[spec.name])} file(s) "
            f"({list(spec.paths)}, text_field={spec.text_field!r}).\n{_skip_summary(report)}")
      report.documents += stats["documents"]
      report.passages += stats["passages"]
      report.tokens += stats["tokens"]
      if spec is plan.specs[-1]:
        self._finish()

    def _dedup(self, docs: Iterator[documents.Doc]) -> Iterator[documents.Doc]:
      for doc in docs:
        if self._plan.dedup:
          h = hashlib.blake2b(doc.text.strip().encode("utf-8"), digest_size=16).digest()
          if h in self._seen:
            self._report.skip("duplicate", doc.location)
            continue
          self._seen.add(h)
        yield doc

    def _finish(self):
      if self._bar is not None:
        self._bar.close()
      self.info.metadata.update(self._plan.meta)
      self.info.metadata["report"] = self._report.to_json()

  return SpiceCorpus


def _split_docs(docs: Iterator[documents.Doc], tok, max_tokens: int, chunk: int = 64):
  """(doc, passages) for each doc, tokenizing `chunk` documents per batch."""
  buf: list[documents.Doc] = []
  for d in docs:
    buf.append(d)
    if len(buf) >= chunk:
      yield from zip(buf, passages_lib.split_many([x.text for x in buf], tok, max_tokens))
      buf = []
  if buf:
    yield from zip(buf, passages_lib.split_many([x.text for x in buf], tok, max_tokens))


def _skip_summary(report: Report) -> str:
  if not report.skipped:
    return "no records were read"
  return "skipped so far: " + "; ".join(
      f"{r}: {s.count} (e.g. {', '.join(s.locations[:3])})"
      for r, s in sorted(report.skipped.items()))


def _progress_bar(plan: _Plan):
  if not plan.progress:
    return None
  from tqdm.auto import tqdm
  total = sum(os.path.getsize(p) for fs in plan.files.values() for p, _ in fs)
  return tqdm(total=total, unit="B", unit_scale=True, desc="building corpus",
              dynamic_ncols=True)


@contextlib.contextmanager
def _quiet_tfds():
  """TFDS's own per-split bars would interleave with ours; mute them for the build, and send
  the lines it prints to stdout ("Downloading and preparing dataset ...") to the log."""
  from tensorflow_datasets.core.utils import tqdm_utils
  was = tqdm_utils._active  # pylint: disable=protected-access
  tqdm_utils.display_progress_bar(False)
  printed = io.StringIO()
  try:
    with contextlib.redirect_stdout(printed):
      yield
  finally:
    tqdm_utils.display_progress_bar(was)
    for line in printed.getvalue().splitlines():
      if line.strip():
        logging.info("tfds: %s", line.strip())


# ---------------------------------------------------------------------------------------
# build / load


def _version_dir(data_dir: str) -> str:
  return os.path.join(data_dir, DATASET_NAME, VERSION)


def _fingerprint(specs, files, tok_fp, max_doc_tokens, max_doc_bytes, dedup) -> str:
  payload = dict(
      format=_FORMAT_VERSION, tokenizer=tok_fp, max_doc_tokens=max_doc_tokens,
      max_doc_bytes=max_doc_bytes, dedup=dedup,
      sources=[dict(s.to_json(), files=[(p, os.path.getsize(p), os.path.getmtime(p))
                                        for p, _ in files[s.name]]) for s in specs])
  return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def build(sources: Sequence[SourceSpec], data_dir: str, tokenizer, *,
          max_doc_tokens: int = DEFAULT_MAX_DOC_TOKENS,
          max_doc_bytes: int = DEFAULT_MAX_DOC_BYTES, dedup: bool = True,
          overwrite: bool = False, progress: bool = True) -> Report:
  """Builds the passage dataset of `sources` under `data_dir` and returns the report.

  Args:
    sources: the named sources (split names, mixture weights).
    data_dir: TFDS data dir; the dataset goes to `data_dir/spice_corpus/1.0.0/`.
    tokenizer: a tokenizer object or a string for `resolve_tokenizer`.
    max_doc_tokens: passage limit in tokens (SPEC §2.1: 5992).
    max_doc_bytes: larger documents (JSON line, Parquet value, text file) are skipped as
      `too_long` without being held in memory (JSON lines are streamed).
    dedup: drop exact duplicates (same stripped text), counted as `duplicate`.
    overwrite: rebuild even if a dataset is there. Without it an existing dataset built
      from the same inputs and settings is reused (report.reused = True) and one built
      from different inputs is an error.
    progress: show a progress bar (bytes of input).

  Raises:
    CorpusError: bad arguments, missing paths, or a source with nothing usable.
  """
  t0 = time.time()
  specs = list(sources)
  if not specs:
    raise CorpusError("no sources given")
  names = [s.name for s in specs]
  if len(set(names)) != len(names):
    raise CorpusError(f"duplicate source names: {names}")
  if max_doc_tokens < passages_lib.MIN_MAX_TOKENS:
    raise CorpusError(f"max_doc_tokens must be >= {passages_lib.MIN_MAX_TOKENS}")
  if sum(s.weight for s in specs) <= 0:
    raise CorpusError("all source weights are 0")
  tok = resolve_tokenizer(tokenizer)
  files = {s.name: discover(s) for s in specs}
  tok_fp = tokenizer_fingerprint(tok)
  fp = _fingerprint(specs, files, tok_fp, max_doc_tokens, max_doc_bytes, dedup)
  data_dir = os.path.abspath(os.path.expanduser(data_dir))
  vdir = _version_dir(data_dir)
  if os.path.exists(os.path.join(vdir, "dataset_info.json")):
    if not overwrite:
      old = load(data_dir)
      if old.meta.get("fingerprint") == fp:
        report = old.report
        report.reused = True
        logging.info("reusing %s (same inputs and settings)", vdir)
        return report
      raise CorpusError(f"{vdir} holds a corpus built from other inputs or settings; "
                        "pass overwrite=True (--overwrite) or another data_dir")
    shutil.rmtree(vdir)
  meta = dict(fingerprint=fp, tokenizer=tok_fp, max_doc_tokens=max_doc_tokens,
              max_doc_bytes=max_doc_bytes, dedup=dedup, sources=[s.to_json() for s in specs],
              weights={s.name: s.weight for s in specs}, format=_FORMAT_VERSION)
  plan = _Plan(specs, files, tok, max_doc_tokens, max_doc_bytes, dedup, meta, progress)
  os.makedirs(data_dir, exist_ok=True)
  builder = _builder_class()(plan=plan, data_dir=data_dir, file_format="array_record")
  download_dir = tempfile.mkdtemp(prefix="spice_corpus_dl_")
  try:
    with _quiet_tfds():
      builder.download_and_prepare(download_dir=download_dir)
  except BaseException:
    bar = getattr(builder, "_bar", None)
    if bar is not None:
      bar.close()
    for d in glob.glob(os.path.join(data_dir, DATASET_NAME, f"incomplete.*{VERSION}")):
      shutil.rmtree(d, ignore_errors=True)
    raise
  finally:
    shutil.rmtree(download_dir, ignore_errors=True)
  report = builder._report  # pylint: disable=protected-access
  report.data_dir = vdir
  report.seconds = time.time() - t0
  # The report stored in metadata lacks data_dir/seconds (written before the end): patch.
  corpus = load(data_dir)
  corpus.meta["report"] = report.to_json()
  with open(os.path.join(vdir, "metadata.json"), "w") as f:
    json.dump(corpus.meta, f, indent=1)
  logging.info("%s", report)
  return report


@dataclasses.dataclass
class Corpus:
  """A built corpus: the TFDS builder read back from its directory, plus our metadata."""
  path: str  # the version directory
  builder: Any  # tfds.core.ReadOnlyBuilder
  meta: dict

  @property
  def sources(self) -> list[str]:
    return [s["name"] for s in self.meta["sources"]]

  @property
  def weights(self) -> dict[str, float]:
    return dict(self.meta["weights"])

  @property
  def report(self) -> Report:
    return Report.from_json(self.meta["report"])

  @property
  def fingerprint(self) -> str:
    return self.meta["fingerprint"]

  def num_passages(self, source: str | None = None) -> int:
    splits = self.builder.info.splits
    if source is None:
      return sum(splits[s].num_examples for s in self.sources)
    return splits[source].num_examples

  def data_source(self, source: str):
    """Random-access source of raw examples (bytes text) of one split."""
    if source not in self.sources:
      raise CorpusError(f"{self.path}: no source {source!r} (have {self.sources})")
    return self.builder.as_data_source(split=source)

  def passages(self, source: str | None = None) -> Iterator[dict]:
    """Every passage of one source (or all, in source order), decoded, in stored order."""
    for name in ([source] if source else self.sources):
      ds = self.data_source(name)
      for i in range(len(ds)):
        yield decode_example(ds[i])


def decode_example(ex: dict) -> dict:
  """Raw TFDS example (bytes, numpy scalars) -> plain Python dict (str, int)."""
  out = {}
  for k, v in ex.items():
    if isinstance(v, bytes):
      out[k] = v.decode("utf-8")
    elif isinstance(v, np.generic):
      out[k] = v.item()
    else:
      out[k] = v
  return out


def load(data_dir: str) -> Corpus:
  """Opens a corpus built by `build`: `data_dir`, `data_dir/spice_corpus` or the version dir."""
  import tensorflow_datasets as tfds
  data_dir = os.path.abspath(os.path.expanduser(data_dir))
  for cand in (_version_dir(data_dir), os.path.join(data_dir, VERSION), data_dir):
    if os.path.exists(os.path.join(cand, "dataset_info.json")):
      break
  else:
    raise CorpusError(f"{data_dir}: no corpus here (expected {_version_dir(data_dir)}/"
                      "dataset_info.json); build one with spice_jax.data.build_corpus")
  builder = tfds.builder_from_directory(cand)
  meta = dict(builder.info.metadata or {})
  if "fingerprint" not in meta:
    raise CorpusError(f"{cand}: a TFDS dataset but not one written by spice_jax.data.corpus")
  return Corpus(path=cand, builder=builder, meta=meta)
