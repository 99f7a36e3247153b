"""Verification of Reasoner answers (SPEC §3, §8): scoring and the math-verify process pool.

Model output is untrusted. Nothing here `eval`s it, and no verification can hang the trainer
or exhaust its memory:

* Extraction and normalisation (`spice.answers`) are plain string work in the calling
  process, linear in a capped input.
* Integer / Expression answers whose canonical forms differ are compared with `math-verify`
  (gold first: `verify(parse(gold), parse(pred))`) in a `VerifierPool` of worker
  *processes* (`spice/verify_worker.py`, run with `python -I`, so it imports nothing of
  spice_jax). A worker runs under an address-space limit (`memory_mb`) and a per-item CPU
  limit; a Python-level runaway is interrupted by a soft alarm inside the worker, anything
  else (C-level big-integer arithmetic, a crash) by the parent, which SIGKILLs the worker at
  the per-item `timeout`, reports the item as wrong with reason `timeout` / `worker_died`,
  and starts a replacement.
* MCQ letters and String answers never reach the pool.

Verdict reasons (`Verdict.reason`): `ok` (correct), `wrong`, `no_box`, `empty_answer`,
`answer_too_long`, `gold_too_long`, `bad_gold`, `no_letter`, `gold_unparsed`,
`pred_unparsed`, `timeout`, `worker_died`, `error:<ExceptionType>`.

The extraction names (`extract_boxed`, `extract_letter`, `normalize_string`,
`canonical_answer`, `majority_vote`, ...) are re-exported from `spice.answers` for callers
that import them from here.
"""

from __future__ import annotations

import atexit
import collections
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
from typing import NamedTuple, Sequence

from spice_jax.errors import SpiceError
from spice_jax.spice.answers import (  # noqa: F401  (re-exported)
    KINDS, MAX_ANSWER_CHARS, MAX_SCAN_CHARS, MCQ_LETTERS, as_fraction, canonical_answer,
    clean_math, extract_boxed, extract_letter, majority_answer, majority_vote,
    normalize_string)

WORKER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "verify_worker.py")

_log = logging.getLogger(__name__)


class VerifierError(SpiceError, RuntimeError):
  pass


class Verdict(NamedTuple):
  correct: bool
  reason: str
  answer: str | None  # the extracted answer (box content), None when there is none


# -------------------------------------------------------------------------- the pool

class _Worker:
  __slots__ = ("proc", "buf", "ready", "item", "deadline", "started")

  def __init__(self, proc):
    self.proc = proc
    self.buf = b""
    self.ready = False
    self.item = None      # index of the item in flight
    self.deadline = 0.0
    self.started = time.monotonic()


class VerifierPool:
  """Worker processes running math-verify, with per-item timeouts and hard kills.

  Keep one pool for a whole run (`with VerifierPool() as pool:` or `close()`); workers start
  in the background at construction. `run` is serialised by a lock (one batch at a time).

  Args:
    num_workers: worker processes (default: min(4, cpu count)).
    timeout: per-item wall-clock limit in seconds, enforced by SIGKILL from the parent.
    soft_timeout: seconds after which the worker interrupts itself (works when the runaway
      is Python code, saving a restart); default 0.8 x timeout; 0 disables it.
    memory_mb: RLIMIT_AS of each worker (MemoryError -> wrong, `error:MemoryError`); 0 = none.
    startup_timeout: seconds a new worker may take to import math-verify.
  """

  def __init__(self, num_workers: int | None = None, *, timeout: float = 5.0,
               soft_timeout: float | None = None, memory_mb: int = 1024,
               startup_timeout: float = 60.0, python: str | None = None):
    if timeout <= 0:
      raise ValueError(f"VerifierPool: timeout must be > 0, got {timeout}")
    self.num_workers = num_workers or max(1, min(4, os.cpu_count() or 1))
    self.timeout = float(timeout)
    self.soft_timeout = 0.8 * self.timeout if soft_timeout is None else float(soft_timeout)
    self.memory_mb = int(memory_mb)
    self.startup_timeout = float(startup_timeout)
    self.python = python or sys.executable
    self._lock = threading.Lock()
    self._workers: list[_Worker] = []
    self._closed = False
    self.stats = collections.Counter()  # items, timeouts, deaths, restarts
    for _ in range(self.num_workers):
      self._workers.append(self._spawn())

  # -- lifecycle
  def _spawn(self) -> _Worker:
    cmd = [self.python, "-I", WORKER_SCRIPT, "--worker",
           f"--memory-mb={self.memory_mb}", f"--soft-timeout={self.soft_timeout:.3f}",
           f"--cpu-budget={int(3 * self.timeout) + 2}"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, close_fds=True)
    os.set_blocking(proc.stdout.fileno(), False)
    return _Worker(proc)

  def _kill(self, w: _Worker) -> None:
    try:
      w.proc.kill()
    except ProcessLookupError:
      pass
    w.proc.wait()
    for f in (w.proc.stdin, w.proc.stdout):
      try:
        f.close()
      except OSError:
        pass

  def _replace(self, w: _Worker) -> None:
    self._kill(w)
    self.stats["restarts"] += 1
    self._workers[self._workers.index(w)] = self._spawn()

  def close(self) -> None:
    """Stops all workers (SIGKILL: they hold no state worth a graceful exit)."""
    with self._lock:
      if self._closed:
        return
      self._closed = True
      for w in self._workers:
        self._kill(w)

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()

  def __del__(self):
    try:
      self.close()
    except Exception:  # pylint: disable=broad-except
      pass

  def parseable(self, expressions: Sequence[str]) -> list[tuple[bool, str]]:
    """`parseable(expressions, pool=self)`: whether each gold expression parses."""
    return parseable(expressions, pool=self)

  def worker_pids(self) -> list[int]:
    return [w.proc.pid for w in self._workers]

  def wait_ready(self) -> None:
    """Blocks until every worker has imported math-verify (raises if one cannot)."""
    with self._lock:
      self._pump([], {}, until_ready=True, timeout=self.timeout)

  # -- work
  def run(self, items: Sequence[tuple[str, str, str]],
          timeout: float | None = None) -> list[tuple[bool, str]]:
    """Judges `(op, gold, pred)` items; op "verify" (equivalence) or "parse" (gold parses).

    Returns `(correct, reason)` per item, in order. Identical items are judged once.
    timeout: per-item limit for this call (default: the pool's `timeout`).
    """
    if self._closed:
      raise VerifierError("VerifierPool is closed")
    unique: dict[tuple[str, str, str], int] = {}
    order = [unique.setdefault(tuple(it), len(unique)) for it in items]
    keys = list(unique)
    with self._lock:
      results = self._pump(keys, {}, until_ready=False,
                           timeout=self.timeout if timeout is None else float(timeout))
    self.stats["items"] += len(keys)
    return [results[i] for i in order]

  def _pump(self, keys, results, until_ready, timeout):
    try:
      return self._pump_loop(keys, results, until_ready, timeout)
    except BaseException:
      # Interrupted (KeyboardInterrupt, a worker that cannot start): never leave an item in
      # flight for the next call to mistake for its own.
      for w in list(self._workers):
        if w.item is not None and not self._closed:
          w.item = None
          self._replace(w)
      raise

  def _pump_loop(self, keys, results, until_ready, timeout):
    pending = collections.deque(range(len(keys)))
    while True:
      now = time.monotonic()
      for w in list(self._workers):
        if w.ready and w.item is None and pending:
          i = pending.popleft()
          line = json.dumps([i, *keys[i]]) + "\n"
          try:
            w.proc.stdin.write(line.encode())
            w.proc.stdin.flush()
            w.item, w.deadline = i, now + timeout
          except (BrokenPipeError, OSError):
            pending.appendleft(i)
            self.stats["deaths"] += 1
            self._replace(w)
      busy = [w for w in self._workers if w.item is not None or not w.ready]
      if until_ready and all(w.ready for w in self._workers):
        return results
      if not until_ready and not pending and all(w.item is None for w in self._workers):
        return results
      if not busy:  # nothing in flight and nothing startable: should not happen
        raise VerifierError("VerifierPool: no live workers")
      deadlines = [w.deadline if w.ready else w.started + self.startup_timeout for w in busy]
      wait = max(0.0, min(deadlines) - time.monotonic())
      readable, _, _ = select.select([w.proc.stdout for w in busy], [], [], wait)
      for f in readable:
        w = next(w for w in self._workers if w.proc.stdout is f)
        try:
          chunk = os.read(f.fileno(), 1 << 16)
        except BlockingIOError:
          continue
        if not chunk:  # EOF: the worker died
          self.stats["deaths"] += 1
          _log.warning("verifier: worker %d died (exit %s); starting another", w.proc.pid,
                       w.proc.poll())
          if w.item is not None:
            results[w.item] = (False, "worker_died")
          elif not w.ready:
            self._kill(w)
            raise VerifierError("VerifierPool: a worker exited during start-up "
                                f"({self.python} -I {WORKER_SCRIPT} --worker)")
          self._replace(w)
          continue
        w.buf += chunk
        while b"\n" in w.buf:
          line, w.buf = w.buf.split(b"\n", 1)
          msg = json.loads(line)
          if msg[0] == "ready":
            w.ready = True
          elif msg[0] == "error":
            self._kill(w)
            raise VerifierError(f"VerifierPool: worker failed to start: {msg[1]}")
          elif msg[0] == w.item:
            results[w.item] = (bool(msg[1]), str(msg[2]))
            if msg[2] == "timeout":
              self.stats["timeouts"] += 1
            w.item = None
      now = time.monotonic()
      for w in list(self._workers):
        if w.item is not None and now >= w.deadline:
          results[w.item] = (False, "timeout")
          self.stats["timeouts"] += 1
          _log.warning("verifier: item exceeded %.1f s; killing worker %d and starting another",
                       timeout, w.proc.pid)
          self._replace(w)
        elif not w.ready and now >= w.started + self.startup_timeout:
          self._kill(w)
          raise VerifierError(f"VerifierPool: a worker did not start within "
                              f"{self.startup_timeout:.0f} s")


_default_pool: VerifierPool | None = None
_default_lock = threading.Lock()


def default_pool() -> VerifierPool:
  """The module-level pool `score` uses when given none: created on first use, closed at exit."""
  global _default_pool
  with _default_lock:
    if _default_pool is None or _default_pool._closed:  # pylint: disable=protected-access
      _default_pool = VerifierPool()
      atexit.register(_default_pool.close)
    return _default_pool


def shutdown_default_pool() -> None:
  global _default_pool
  with _default_lock:
    if _default_pool is not None:
      _default_pool.close()
      _default_pool = None


# ----------------------------------------------------------------------------- scoring

def score_detailed(responses: Sequence[str], golds: Sequence[str], kinds: Sequence[str], *,
                   timeout: float | None = None, pool: VerifierPool | None = None,
                   max_answer_chars: int = MAX_ANSWER_CHARS,
                   mcq_letters: str = MCQ_LETTERS) -> list[Verdict]:
  """A `Verdict(correct, reason, answer)` per response (see `score`)."""
  if not len(responses) == len(golds) == len(kinds):
    raise ValueError(f"score: lengths differ: {len(responses)} responses, {len(golds)} golds, "
                     f"{len(kinds)} kinds")
  out: list[Verdict | None] = [None] * len(responses)
  to_pool: list[int] = []
  boxes: list[str] = []
  items: list[tuple[str, str, str]] = []
  for i, (resp, gold, kind) in enumerate(zip(responses, golds, kinds)):
    if kind not in KINDS:
      raise ValueError(f"score: item {i}: kind {kind!r} not in {KINDS}")
    box = extract_boxed(resp) if isinstance(resp, str) else None
    gold = "" if gold is None else str(gold)
    if box is None:
      out[i] = Verdict(False, "no_box", None)
      continue
    if not box.strip():
      out[i] = Verdict(False, "empty_answer", box)
      continue
    if len(box) > max_answer_chars:
      out[i] = Verdict(False, "answer_too_long", box[:80] + "...")
      continue
    if len(gold) > max_answer_chars:
      out[i] = Verdict(False, "gold_too_long", box)
      continue
    if kind == "mcq":
      g = extract_letter(gold, mcq_letters)
      p = extract_letter(box, mcq_letters)
      if g is None:
        out[i] = Verdict(False, "bad_gold", box)
      elif p is None:
        out[i] = Verdict(False, "no_letter", box)
      else:
        out[i] = Verdict(p == g, "ok" if p == g else "wrong", box)
    elif kind == "string":
      g, p = normalize_string(gold), normalize_string(box)
      if not g:
        out[i] = Verdict(False, "bad_gold", box)
      else:
        out[i] = Verdict(p == g, "ok" if p == g else "wrong", box)
    else:
      cg, cp = canonical_answer(gold, kind), canonical_answer(box, kind)
      if cg is None:
        out[i] = Verdict(False, "bad_gold", box)
      elif cg == cp:  # same canonical form: equivalent without asking sympy
        out[i] = Verdict(True, "ok", box)
      else:
        to_pool.append(i)
        boxes.append(box)
        items.append(("verify", gold, box))
  if items:
    pool = pool or default_pool()
    for i, box, (ok, reason) in zip(to_pool, boxes, pool.run(items, timeout=timeout)):
      out[i] = Verdict(ok, reason, box)
  return out  # type: ignore[return-value]


def score(responses: Sequence[str], golds: Sequence[str], kinds: Sequence[str], *,
          timeout: float | None = None, pool: VerifierPool | None = None,
          max_answer_chars: int = MAX_ANSWER_CHARS, mcq_letters: str = MCQ_LETTERS) -> list[bool]:
  """Correctness of each response's last `\\boxed{}` against its gold answer (SPEC §3).

  kinds: "mcq" (option letters, A-J accepted), "integer" / "expression" (math-verify in the
  worker pool, gold first), "string" (`normalize_string` equality). No box -> False.
  timeout: per-item limit in seconds for math-verify items (default: the pool's, 5 s for
  the default pool); a timed-out item is wrong (reason `timeout`).
  pool: a `VerifierPool`; None uses the lazily created module-level `default_pool()` (only
  when some item needs math-verify).
  """
  return [v.correct for v in score_detailed(responses, golds, kinds, timeout=timeout, pool=pool,
                                            max_answer_chars=max_answer_chars,
                                            mcq_letters=mcq_letters)]


def parseable(expressions: Sequence[str], *, pool: VerifierPool | None = None,
              max_answer_chars: int = MAX_ANSWER_CHARS) -> list[tuple[bool, str]]:
  """Whether each gold expression parses for the verifier (math-verify, in the pool)."""
  out: list[tuple[bool, str] | None] = [None] * len(expressions)
  idx, items = [], []
  for i, e in enumerate(expressions):
    e = "" if e is None else str(e)
    if not e.strip():
      out[i] = (False, "empty_answer")
    elif len(e) > max_answer_chars:
      out[i] = (False, "gold_too_long")
    elif as_fraction(clean_math(e)) is not None:
      out[i] = (True, "ok")
    else:
      idx.append(i)
      items.append(("parse", e, ""))
  if items:
    pool = pool or default_pool()
    for i, r in zip(idx, pool.run(items)):
      out[i] = r
  return out  # type: ignore[return-value]

