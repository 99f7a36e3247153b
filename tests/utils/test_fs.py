"""Run files on a non-local filesystem, through the same `etils.epath` code path as gs://.

No network: the `memory://` fixture maps a URI scheme onto fsspec's in-memory filesystem
inside etils' own fsspec backend (the one gs:// and s3:// use), so our code sees a URI path
whose files are not on the local disk. Orbax checkpoints are not covered: their arrays go
through tensorstore, which has no such filesystem.
"""

import json
import os

import fsspec
import pytest
from etils import epath
from etils.epath import backend as backend_lib
from etils.epath import gpath, register

from spice_jax import run_config
from spice_jax.models import model as model_lib
from spice_jax.models import presets
from spice_jax.models.config import to_hf_config
from spice_jax.utils import audit, checkpointing, fs, metrics


class _MemoryBackend(backend_lib._FileSystemSpecBackend):  # pylint: disable=protected-access

  def fs(self, path):
    return fsspec.filesystem("memory")


@pytest.fixture
def memory_root(monkeypatch):
  """A fresh `memory://run-N` URI that epath.Path resolves to fsspec's memory filesystem."""
  monkeypatch.setattr(gpath, "_URI_SCHEMES", gpath._URI_SCHEMES | {"memory"})
  monkeypatch.setattr(gpath, "_URI_PREFIXES", gpath._URI_PREFIXES + ("memory://",))
  monkeypatch.setitem(gpath._URI_MAP_ROOT, "memory://", "/memory/")
  monkeypatch.setitem(gpath._PREFIX_TO_BACKEND, "memory", _MemoryBackend())
  monkeypatch.setitem(register._URI_PREFIXES_TO_CLS, "memory://", gpath.PosixGPath)
  fsspec.filesystem("memory").store.clear()
  fsspec.filesystem("memory").pseudo_dirs[:] = [""]
  yield "memory://run"
  fsspec.filesystem("memory").store.clear()


def _memory_files() -> set[str]:
  return set(fsspec.filesystem("memory").store)


def test_the_fixture_is_not_the_local_disk(memory_root, tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  p = epath.Path(memory_root) / "x.txt"
  p.write_text("hi")
  assert p.read_text() == "hi" and not fs.is_local(memory_root)
  assert any(f.endswith("/run/x.txt") for f in _memory_files())
  assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["local", "memory"])
def test_append_and_atomic_write(where, memory_root, tmp_path):
  root = str(tmp_path) if where == "local" else memory_root
  f = fs.join(root, "d", "log.jsonl")
  fs.path(f).parent.mkdir(parents=True, exist_ok=True)
  fs.append_lines(f, ["a\n", "b\n"])
  fs.append_lines(f, ["c\n"])
  assert fs.read_lines(f) == ["a\n", "b\n", "c\n"]
  # A local file is appended to; an object store gets one segment object per append.
  assert fs.segments(f) == ([] if where == "local" else
                            [f"{f}.d/00000000.jsonl", f"{f}.d/00000001.jsonl"])
  g = fs.join(root, "d", "state.json")
  fs.write_text_atomic(g, "z\n")
  fs.write_text_atomic(g, "y\n")
  assert fs.read_lines(g) == ["y\n"]
  assert fs.read_lines(fs.join(root, "missing")) == []
  assert f.startswith("memory://") == (where == "memory")


def test_metrics_and_audit_on_a_uri_workdir(memory_root, tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  w = metrics.MetricsWriter(memory_root)
  for step in range(4):
    w.write(step, {"loss": 0.5 * step, "n": step})
  assert w.truncate_after(1) == 2
  w.close()
  got = metrics.read(fs.join(memory_root, "metrics.jsonl"))
  assert [r["step"] for r in got] == [0, 1] and got[1]["loss"] == 0.5
  a = audit.AuditTrail(memory_root)
  a.write("tasks", [{"step": 1, "q": "x"}, {"step": 2, "q": "y"}])
  a.event(2, "resume", checkpoint="memory://run/checkpoints/2")
  a.truncate_after(1)
  tasks = fs.read_lines(fs.join(memory_root, "audit", "tasks.jsonl"))
  assert [json.loads(t)["q"] for t in tasks] == ["x"]
  assert fs.read_lines(fs.join(memory_root, "audit", "events.jsonl")) == []
  assert list(tmp_path.iterdir()) == []  # nothing (e.g. a "memory:" dir) landed locally
  assert checkpointing.checkpoint_dir(memory_root) == "memory://run/checkpoints"


def test_read_meta_from_a_uri(memory_root):
  meta = fs.path(memory_root) / "checkpoints" / "7" / "meta" / "metadata"
  meta.parent.mkdir(parents=True, exist_ok=True)
  meta.write_text(json.dumps({"model_source": "tiny-llama"}))
  step, got, root = checkpointing.read_meta(memory_root)
  assert (step, got, root) == (7, {"model_source": "tiny-llama"}, "memory://run/checkpoints")


def test_model_source_from_a_uri_is_copied_once(memory_root, tmp_path, monkeypatch):
  monkeypatch.setenv("SPICE_JAX_CACHE", str(tmp_path / "cache"))
  src = fs.path(memory_root) / "ckpt"
  src.mkdir(parents=True, exist_ok=True)
  cfg = presets.get("tiny-qwen3")
  (src / "config.json").write_text(json.dumps(to_hf_config(cfg)))
  local = model_lib.local_source(f"{memory_root}/ckpt")
  assert local.startswith(str(tmp_path / "cache")) and os.path.isfile(f"{local}/config.json")
  got, tok = model_lib.describe(f"{memory_root}/ckpt")
  assert got.replace(eos_ids=cfg.eos_ids) == cfg and tok is None
  assert run_config.model_source_ok(f"{memory_root}/ckpt")
  assert not run_config.model_source_ok(f"{memory_root}/nothing-here")
  with pytest.raises(FileNotFoundError, match="memory://run/nothing-here"):
    model_lib.local_source(f"{memory_root}/nothing-here")


class _CountWrites:
  """Bytes written through etils paths (what an object store would be sent)."""

  def __init__(self, monkeypatch):
    self.bytes = 0
    real = gpath.PosixGPath.write_text

    def write_text(path, data, *a, **kw):
      self.bytes += len(data.encode())
      return real(path, data, *a, **kw)
    monkeypatch.setattr(gpath.PosixGPath, "write_text", write_text)


def test_writes_per_iteration_do_not_grow_with_the_run(memory_root, monkeypatch):
  """Object stores cannot append: each iteration's records are a new segment of their own
  size, so iteration 200 writes what iteration 2 did (the whole file was rewritten before)."""
  counter = _CountWrites(monkeypatch)
  w, a = metrics.MetricsWriter(memory_root, tensorboard=False), audit.AuditTrail(memory_root)
  per_iteration = []
  for step in range(1, 201):
    before = counter.bytes
    w.write(step, {"loss": 0.25, "reasoner/accuracy": 0.5})
    a.write("tasks", [{"step": step, "question": "q" * 40, "answer": "7"}] * 4)
    per_iteration.append(counter.bytes - before)
  metric_line = len(json.dumps({"loss": 0.25, "reasoner/accuracy": 0.5, "step": 200},
                               sort_keys=True)) + 1
  task_line = len(json.dumps({"answer": "7", "question": "q" * 40, "step": 200},
                             sort_keys=True)) + 1
  assert per_iteration[-1] == metric_line + 4 * task_line
  assert max(per_iteration) == per_iteration[-1]          # the widest step numbers
  # The readers see one stream, in order, as from one file.
  assert [r["step"] for r in metrics.read(w.path)] == list(range(1, 201))
  tasks = metrics.read(fs.join(memory_root, "audit", "tasks.jsonl"))
  assert [t["step"] for t in tasks] == [s for s in range(1, 201) for _ in range(4)]


def test_truncation_rewrites_only_the_segments_it_cuts(memory_root, monkeypatch):
  w = metrics.MetricsWriter(memory_root, tensorboard=False)
  for step in range(1, 11):
    w.write(step, {"loss": float(step)})
  counter = _CountWrites(monkeypatch)
  assert w.truncate_after(7) == 3
  assert counter.bytes == 0                                # later segments deleted whole
  assert len(fs.segments(w.path)) == 7
  w.write(8, {"loss": -8.0})                               # a resumed run goes on
  assert [(r["step"], r["loss"]) for r in metrics.read(w.path)][-2:] == [(7, 7.0), (8, -8.0)]
  # A segment holding several steps (one audit write) is rewritten with what it keeps.
  a = audit.AuditTrail(memory_root)
  a.write("tasks", [{"step": 1, "q": "x"}, {"step": 2, "q": "y"}])
  a.truncate_after(1)
  assert [t["q"] for t in metrics.read(fs.join(memory_root, "audit", "tasks.jsonl"))] == ["x"]


@pytest.mark.parametrize("where", ["local", "memory"])
def test_the_plots_and_report_readers_see_one_stream(where, memory_root, tmp_path):
  root = str(tmp_path) if where == "local" else memory_root
  w = metrics.MetricsWriter(root, tensorboard=False)
  for step in range(1, 4):
    w.write(step, {"challenger/valid_rate": 0.5, "reasoner/accuracy": step / 4, "loss": 1.0,
                   "time/iteration": 1.0, "time/verify": 0.1, "time/update": 0.2})
  table = metrics.summary_table(root)
  assert [line.split("|")[1].strip() for line in table.splitlines()[2:]] == ["1", "2", "3"]
