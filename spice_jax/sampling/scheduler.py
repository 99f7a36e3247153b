"""Host-side bookkeeping of the continuous engine: pages, prompts, slots (pure Python/numpy).

A call's rows are queued grouped by prompt; rows added while the call runs (follow-up
requests) join the back of the queue, grouped the same way, and a prompt already known
(in use, or seen before in this call) is stored once. A row enters a free decode slot when the pool
has pages for its completion (and, for the first row of a prompt, for the prompt); a
prompt's pages are prefilled in chunks and shared by all its rows; they return to the pool
when its last row finishes (or earlier, when no slot uses it and a queued row needs the
pages: it is prefilled again for its later rows). Logical layout of a row with prompt length p:
  slots [0, p - 1): prompt tokens 0..p-2, in the prompt's shared pages;
  slots [start, start + cap): its own pages, start = (prompt pages) * PG; own slot j holds
  the input of decode step j (j = 0: the last prompt token; j >= 1: generated token j - 1).
So the last prompt token is run per row by the first decode step, which draws token 0
exactly like every later step draws token j.
"""

from __future__ import annotations

import collections
import dataclasses

import numpy as np

NULL_PAGE = 0


def pages_for(n: int, page_size: int) -> int:
  return -(-n // page_size)


class PageAllocator:
  """Free list over pages 1..n-1 (page 0 is the null page). Tracks peak pages in use."""

  def __init__(self, n_pages: int):
    if n_pages < 2:
      raise ValueError(f"kv pool needs at least 2 pages, got {n_pages}")
    self.n_pages = n_pages
    self._free = list(range(n_pages - 1, 0, -1))
    self.peak = 0

  @property
  def free(self) -> int:
    return len(self._free)

  @property
  def in_use(self) -> int:
    return self.n_pages - 1 - len(self._free)

  def alloc(self, n: int) -> list[int]:
    assert n <= len(self._free), (n, len(self._free))
    out = [self._free.pop() for _ in range(n)]
    self.peak = max(self.peak, self.in_use)
    return out

  def release(self, pages: list[int]) -> None:
    self._free.extend(pages)

  def grow(self, n_pages: int) -> None:
    """Adds pages n_pages_old..n_pages-1 (the pool array grew to n_pages)."""
    assert n_pages >= self.n_pages, (n_pages, self.n_pages)
    self._free[:0] = range(n_pages - 1, self.n_pages - 1, -1)
    self.n_pages = n_pages


@dataclasses.dataclass
class Prompt:
  """A distinct prompt: tokens [p] int32; pages hold tokens[:-1] once prefilled."""
  tokens: np.ndarray
  pages: list[int] | None = None
  filled: int = 0  # prompt tokens (of p - 1) written to the pool
  refs: int = 0  # rows not yet finished

  @property
  def context(self) -> int:
    return len(self.tokens) - 1

  @property
  def ready(self) -> bool:
    return self.pages is not None and self.filled >= self.context


@dataclasses.dataclass(frozen=True)
class Request:
  """One output row: its input index, prompt id and token cap."""
  row: int
  prompt: int
  cap: int


@dataclasses.dataclass
class Slot:
  """A decode slot holding a request: its own pages and its progress (`step` = j)."""
  req: Request
  own: list[int]
  step: int = 0
  last: int = 0
  done: bool = False


class Scheduler:
  """Admission, prefill planning and page tables for one engine call."""

  def __init__(self, n_slots: int, page_size: int, n_pages: int):
    self.prompts: list[Prompt] = []
    self._index: dict[bytes, int] = {}  # prompt bytes -> prompt id
    self.queue: collections.deque[Request] = collections.deque()
    self.slots: list[Slot | None] = [None] * n_slots
    self.PG = page_size
    self.pages = PageAllocator(n_pages)

  def row_pages(self, prompt: np.ndarray, cap: int) -> int:
    """Pages one row needs on its own: its prompt's and its completion's."""
    return pages_for(len(prompt) - 1, self.PG) + pages_for(cap, self.PG)

  def add(self, prompts: list[np.ndarray], requests: list[Request]) -> None:
    """Queues `requests` (their `prompt` indexes `prompts`) behind the queued rows,
    grouped by prompt; raises if one row alone cannot fit the pool."""
    for r in requests:
      need = self.row_pages(prompts[r.prompt], r.cap)
      if need > self.pages.n_pages - 1:
        raise ValueError(f"kv pool of {self.pages.n_pages} pages cannot hold row {r.row} "
                         f"({need} pages); raise kv_pages")
    ids = []
    for p in prompts:
      p = np.asarray(p, np.int32)
      key = p.tobytes()
      if key not in self._index:
        self._index[key] = len(self.prompts)
        self.prompts.append(Prompt(p))
      ids.append(self._index[key])
    reqs = [dataclasses.replace(r, prompt=ids[r.prompt]) for r in requests]
    for r in reqs:
      self.prompts[r.prompt].refs += 1
    self.queue.extend(sorted(reqs, key=lambda r: (r.prompt, r.row)))

  def _prompt_pages(self, p: Prompt) -> int:
    return pages_for(p.context, self.PG)

  @property
  def finished(self) -> bool:
    return not self.queue and all(s is None for s in self.slots)

  def admit(self) -> None:
    """Moves queued rows into free slots while their pages fit (in queue order)."""
    for i, s in enumerate(self.slots):
      if s is not None or not self.queue:
        continue
      req = self.queue[0]
      p = self.prompts[req.prompt]
      need = pages_for(req.cap, self.PG) + (0 if p.pages is not None else self._prompt_pages(p))
      if need > self.pages.free:
        self._evict_idle(keep=req.prompt)
      if need > self.pages.free:
        return
      self.queue.popleft()
      if p.pages is None:
        p.pages = self.pages.alloc(self._prompt_pages(p))
      self.slots[i] = Slot(req, self.pages.alloc(pages_for(req.cap, self.PG)),
                           last=int(p.tokens[-1]))

  def _evict_idle(self, keep: int) -> None:
    """Frees the pages of prompts no slot uses (their queued rows come later: they are
    prefilled again then), except prompt `keep`."""
    used = {s.req.prompt for s in self.slots if s is not None} | {keep}
    for pid, p in enumerate(self.prompts):
      if p.pages is not None and pid not in used:
        self.pages.release(p.pages)
        p.pages, p.filled = None, 0

  def prefill_plan(self, rows: int, chunk: int, bucket):
    """Next chunk of up to `rows` admitted, unfilled prompts: list of (prompt id, lo, hi)
    prompt-token ranges (hi - lo <= chunk), all with the `bucket(hi - lo)` of the first
    (`bucket`: the engine's program length of a piece, so a piece's program shape depends on
    the piece alone, not on what it is planned with)."""
    seen, plan = set(), []
    for s in self.slots:
      if s is None or s.req.prompt in seen:
        continue
      p = self.prompts[s.req.prompt]
      seen.add(s.req.prompt)
      if p.ready:
        continue
      piece = (s.req.prompt, p.filled, min(p.filled + chunk, p.context))
      if plan and bucket(piece[2] - piece[1]) != bucket(plan[0][2] - plan[0][1]):
        continue
      plan.append(piece)
      if len(plan) == rows:
        break
    return plan

  def mark_filled(self, plan) -> None:
    for pid, _, hi in plan:
      self.prompts[pid].filled = hi

  def running(self, i: int) -> bool:
    s = self.slots[i]
    return s is not None and not s.done and self.prompts[s.req.prompt].ready

  def table_row(self, i: int) -> list[int]:
    """Logical page list of slot i (prompt pages, then own pages)."""
    s = self.slots[i]
    return (self.prompts[s.req.prompt].pages or []) + s.own

  def finish(self, i: int) -> None:
    """Frees slot i; the prompt's pages go back with its last row."""
    s = self.slots[i]
    self.pages.release(s.own)
    p = self.prompts[s.req.prompt]
    p.refs -= 1
    if p.refs == 0:  # a later row with this prompt prefills it again
      self.pages.release(p.pages)
      p.pages, p.filled = None, 0
    self.slots[i] = None
