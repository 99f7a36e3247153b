r"""Bytes that host-local processes exchange per iteration, before and after the change that
sends each process only what it needs.

A host-local run plays each process's documents on its own devices and then gathers:
  * before: every process's full self-play records (documents, prompts, texts, tokens,
    log-probs) to every process;
  * now: every process's training rows and the numbers its metrics need
    (`selfplay.for_metrics`) to every process, and its audit records to process 0 alone.

This replays real iterations of a finished run's config in one process (its config.json:
model, corpus, SPICE settings), splits each iteration's documents over --processes as
`hosts.process_slice` does, and counts the pickled payloads exactly as
`hosts.allgather_objects` (padded to the largest process's payload) and
`hosts.gather_to_first` send them:

  .venv/bin/python benchmarks/host_gather.py --run=runs/demo/runs/spice_s0 --processes=2

The trainer records the same counts in a real multi-process run: metrics
`host/bytes_received` (process 0) and `host/bytes_received_by_every_process`.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile

import ml_collections
from absl import app, flags

_RUN = flags.DEFINE_string("run", "runs/demo/runs/spice_s0",
                           "A run directory whose config.json to replay.")
_PROCESSES = flags.DEFINE_integer("processes", 2, "Processes to split the documents over.")
_ITERATIONS = flags.DEFINE_integer("iterations", 2, "Iterations to replay (from step 1).")
_DOCS = flags.DEFINE_integer("docs", 0, "Documents per iteration (0: the run's num_docs).")


def _size(obj) -> int:
  return len(pickle.dumps(obj))


def main(argv):
  del argv
  from spice_jax import train   # pylint: disable=import-outside-toplevel
  from spice_jax.parallel import hosts
  from spice_jax.spice import selfplay as selfplay_lib
  from spice_jax.utils import cli

  with open(os.path.join(_RUN.value, "config.json")) as f:
    config = ml_collections.ConfigDict(json.load(f))
  if _DOCS.value:
    config.spice.num_docs = _DOCS.value
  config.train.iterations = _ITERATIONS.value
  P, B = _PROCESSES.value, config.spice.num_docs
  with tempfile.TemporaryDirectory() as workdir:
    cli.log_to_file(workdir)            # library logs to <workdir>/log.txt
    run = train.setup(config, workdir)
    print(f"{_RUN.value}: {B} documents over {P} processes, {_ITERATIONS.value} iterations")
    print(f"{'step':>4} {'rows':>5} {'before: every process':>22} {'now: every process':>19} "
          f"{'now: +process 0 audit':>22} {'now/before (p0)':>16}")
    for it in range(_ITERATIONS.value):
      seed = train.iteration_seed(train._data_seed(run.rc, 0), it)  # pylint: disable=protected-access
      docs = run.stream.take(B) if run.stream is not None else [None] * B
      res = run.selfplay.iteration(run.state.params, docs, seed=seed, step=it + 1)
      counters = dict(res.counters)
      before, now, audit, rows_b, light_b = [], [], [], [], []
      for p in range(P):
        plays = res.plays[hosts.process_slice(B, p, P)]
        rows = run.selfplay.trajectories(plays)
        light = selfplay_lib.for_metrics(plays)
        before.append(_size((plays, counters)))
        now.append(_size((rows, light, counters)))
        rows_b.append(_size(rows))
        light_b.append(_size(light))
        audit.append(_size(run.selfplay.audit(plays, it + 1)))
      every_before = (P - 1) * max(before)
      every_now = (P - 1) * max(now)
      p0 = every_now + sum(audit[1:])
      print(f"{it + 1:>4} {len(res.trajectories):>5} {every_before:>22,} {every_now:>19,} "
            f"{sum(audit[1:]):>22,} {p0 / every_before:>16.2f}   (per process: rows "
            f"{max(rows_b):,}, metric numbers {max(light_b):,})")
    run.pool.close()


if __name__ == "__main__":
  app.run(main)
