"""The math-verify worker: run as a script (`python -I verify_worker.py --worker`) by
`verify.VerifierPool`, one process per worker.

It imports only the standard library and math-verify (no spice_jax, no jax), so it starts
quickly. Protocol: JSON lines `[id, op, gold, pred]` on stdin (op "verify": is pred
equivalent to gold; "parse": does gold parse), `[id, correct, reason]` on stdout. Limits: an
address-space limit (`--memory-mb`), a per-item CPU budget, and a soft alarm
(`--soft-timeout`) that interrupts Python-level runaways; the parent SIGKILLs anything else.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from typing import Sequence


def _wrap_box(s: str) -> str:
  return "\\boxed{" + s.replace("\\$", "").replace("$", "") + "}"


class _SoftTimeout(BaseException):
  """Raised by the worker's alarm; BaseException so `except Exception` in libraries won't eat it."""


def _worker_judge(op: str, gold: str, pred: str) -> tuple[bool, str]:
  from math_verify import parse, verify
  g = parse(_wrap_box(gold), parsing_timeout=None)
  if not any(not isinstance(x, str) for x in g):
    return False, "gold_unparsed"
  if op == "parse":
    return True, "ok"
  p = parse(_wrap_box(pred), parsing_timeout=None)
  if not p:
    return False, "pred_unparsed"
  ok = verify(g, p, timeout_seconds=None)
  return bool(ok), "ok" if ok else "wrong"


def _worker_main(argv: Sequence[str]) -> None:
  """Worker loop: JSON lines `[id, op, gold, pred]` in, `[id, correct, reason]` out."""
  import argparse
  import resource
  ap = argparse.ArgumentParser()
  ap.add_argument("--worker", action="store_true")
  ap.add_argument("--memory-mb", type=int, default=1024)
  ap.add_argument("--soft-timeout", type=float, default=4.0)  # 0 disables
  ap.add_argument("--cpu-budget", type=int, default=20)
  args = ap.parse_args(argv)
  # The protocol channel is a private copy of stdout; fd 1 goes to /dev/null so that stray
  # prints from libraries cannot corrupt it.
  out = os.fdopen(os.dup(1), "w", buffering=1)
  devnull = os.open(os.devnull, os.O_WRONLY)
  os.dup2(devnull, 1)
  signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
  if args.memory_mb > 0:
    limit = args.memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
  try:
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    import math_verify  # noqa: F401  (import before reporting ready)
    _worker_judge("verify", "1", "1")  # warm the regex caches
  except BaseException as e:  # pylint: disable=broad-except
    out.write(json.dumps(["error", f"{type(e).__name__}: {e}"]) + "\n")
    return
  out.write(json.dumps(["ready", os.getpid()]) + "\n")

  def on_alarm(signum, frame):
    raise _SoftTimeout()

  signal.signal(signal.SIGALRM, on_alarm)
  for line in sys.stdin:
    try:
      item_id, op, gold, pred = json.loads(line)
    except ValueError:
      out.write(json.dumps([None, False, "error:bad_request"]) + "\n")
      continue
    # Backstops should the parent vanish: a CPU-seconds limit per item (SIGXCPU ends us).
    used = resource.getrusage(resource.RUSAGE_SELF)
    used = int(used.ru_utime + used.ru_stime) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (used + args.cpu_budget, resource.RLIM_INFINITY))
    try:
      if args.soft_timeout > 0:
        signal.setitimer(signal.ITIMER_REAL, args.soft_timeout)
      try:
        ok, reason = _worker_judge(op, gold, pred)
      finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    except _SoftTimeout:
      ok, reason = False, "timeout"
    except RecursionError:
      ok, reason = False, "error:RecursionError"
    except MemoryError:
      ok, reason = False, "error:MemoryError"
    except Exception as e:  # pylint: disable=broad-except
      ok, reason = False, f"error:{type(e).__name__}"
    out.write(json.dumps([item_id, ok, reason]) + "\n")


if __name__ == "__main__":
  _worker_main(sys.argv[1:])
