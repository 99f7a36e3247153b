r"""Bytes a run's record (metrics + audit trail) writes per iteration on an object store.

Replays the per-iteration records of a finished run (e.g. one of experiments/tiny_test.py)
for --iterations iterations through `MetricsWriter` and `AuditTrail` onto fsspec's
`memory://` filesystem (the etils backend gs:// uses), counting the bytes written:

  python benchmarks/record_writes.py --run=/tmp/tiny --iterations=640

Run it with PYTHONPATH at another checkout to measure that code (before/after a change).
"""

import argparse
import collections
import json
import os

import fsspec
from etils.epath import backend as backend_lib
from etils.epath import gpath, register


class _Memory(backend_lib._FileSystemSpecBackend):  # pylint: disable=protected-access

  def fs(self, path):
    return fsspec.filesystem("memory")


def _register_memory():
  gpath._URI_SCHEMES = gpath._URI_SCHEMES | {"memory"}
  gpath._URI_PREFIXES = gpath._URI_PREFIXES + ("memory://",)
  gpath._URI_MAP_ROOT["memory://"] = "/memory/"
  gpath._PREFIX_TO_BACKEND["memory"] = _Memory()
  register._URI_PREFIXES_TO_CLS["memory://"] = gpath.PosixGPath


def _jsonl(path):
  with open(path) as f:
    return [json.loads(l) for l in f]


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--run", required=True, help="a finished local run directory")
  ap.add_argument("--iterations", type=int, default=640)
  args = ap.parse_args()
  _register_memory()
  from spice_jax.utils import audit, metrics   # after PYTHONPATH picks the code
  written = [0]
  real = gpath.PosixGPath.write_text

  def counting(path, data, *a, **kw):
    written[0] += len(data.encode())
    return real(path, data, *a, **kw)
  gpath.PosixGPath.write_text = counting

  recs = _jsonl(os.path.join(args.run, "metrics.jsonl"))
  tasks = collections.defaultdict(list)
  for t in _jsonl(os.path.join(args.run, "audit", "tasks.jsonl")):
    tasks[t["step"]].append(t)
  w = metrics.MetricsWriter("memory://run", tensorboard=False)
  a = audit.AuditTrail("memory://run")
  per, total = {}, 0
  for it in range(1, args.iterations + 1):
    src = recs[(it - 1) % len(recs)]
    before = written[0]
    w.write(it, {k: v for k, v in src.items() if k != "step"})
    a.write("tasks", [dict(t, step=it) for t in tasks[src["step"]]])
    per[it] = written[0] - before
    total += per[it]
  marks = sorted({1, 10, 100, args.iterations} & set(per))
  print(f"record of {args.run} replayed {args.iterations} iterations on memory://")
  print("bytes written at iteration " + ", ".join(f"{i}: {per[i]}" for i in marks))
  size = sum(len(v.getvalue()) for v in fsspec.filesystem("memory").store.values())
  print(f"total bytes written: {total} for a final record of {size} bytes "
        f"({total / size:.1f}x)")


if __name__ == "__main__":
  main()
