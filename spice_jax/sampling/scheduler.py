"""Host-side bookkeeping of the continuous engine: pages, prompts, slots (pure Python/numpy).

A call's rows are queued grouped by prompt; rows added while the call runs (follow-up
requests) join the back of the queue, grouped the same way, and a prompt already known
(in use, or seen before in this call) is stored once. Pages are taken on demand (as vLLM):
a row enters a free decode slot when the pool has pages for its prompt (counted once per
prompt: the first row of a prompt brings them) and for its next window's tokens, while
leaving the pages the running rows need for their next window; before every window each
running row gets the pages that window can write (`grow`). When the pool cannot serve them,
the most recently admitted rows are preempted: their own pages return to the pool and they
go back to the front of the queue with the tokens they have; when readmitted, their own
slots are written again from those tokens (a prefill piece of the row, "recompute") before
they decode on. A prompt's pages are prefilled in chunks and shared by all its rows; they
return to the pool when its last row finishes (or earlier, when no slot uses it and a
queued row needs the pages: it is prefilled again for its later rows).
Logical layout of a row with prompt length p:
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
  """One output row: its input index, prompt id and token cap; a preempted row also carries
  its progress: `step` tokens generated, `tokens` [step] int32 (resumed from there)."""
  row: int
  prompt: int
  cap: int
  step: int = 0
  tokens: np.ndarray | None = None


@dataclasses.dataclass
class Slot:
  """A decode slot holding a request: its own pages and its progress (`step` = j).

  order: admission number (preemption takes the highest first); filled: own slots written
  by recompute (a resumed row's own slots [0, req.step) are written again before it
  decodes on; a fresh row's are written by its decode steps)."""
  req: Request
  own: list[int]
  step: int = 0
  last: int = 0
  done: bool = False
  order: int = 0
  filled: int = 0

  def own_inputs(self, prompt: "Prompt") -> np.ndarray:
    """[req.step] int32: the inputs of own slots 0..req.step-1 of a resumed row (the last
    prompt token, then the generated tokens 0..req.step-2)."""
    gen = self.req.tokens if self.req.tokens is not None else np.zeros((0,), np.int32)
    return np.concatenate([prompt.tokens[-1:], gen[:max(0, self.req.step - 1)]]).astype(
        np.int32)


@dataclasses.dataclass(frozen=True)
class Piece:
  """A prefill piece: prompt tokens [lo, hi) of prompt `prompt` (slot None), or own slots
  [lo, hi) of the row in `slot` (a resumed row)."""
  prompt: int
  lo: int
  hi: int
  slot: int | None = None


class Scheduler:
  """Admission, page growth, preemption, prefill planning and page tables for one call.

  window: decode steps per window (a row holds pages for its next window's tokens)."""

  def __init__(self, n_slots: int, page_size: int, n_pages: int, window: int = 1):
    self.prompts: list[Prompt] = []
    self._index: dict[bytes, int] = {}  # prompt bytes -> prompt id
    self.queue: collections.deque[Request] = collections.deque()
    self.slots: list[Slot | None] = [None] * n_slots
    self.PG = page_size
    self.W = window
    self.pages = PageAllocator(n_pages)
    self.preemptions = 0
    self._admitted = 0

  def row_pages(self, prompt: np.ndarray, cap: int) -> int:
    """Pages one row needs on its own at its end: its prompt's and its completion's."""
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

  def _own_need(self, step: int, cap: int) -> int:
    """Own pages of a row at `step` for its next window (own slots [0, step + W))."""
    return pages_for(min(step + self.W, cap), self.PG)

  def _growth(self) -> int:
    """Pages the occupied slots still need for their next window."""
    return sum(max(0, self._own_need(s.step, s.req.cap) - len(s.own))
               for s in self.slots if s is not None)

  @property
  def finished(self) -> bool:
    return not self.queue and all(s is None for s in self.slots)

  def admit(self) -> None:
    """Moves queued rows into free slots (in queue order) while the pool has their prompt
    pages (if not yet held) and next window's pages besides the running rows' growth."""
    for i, s in enumerate(self.slots):
      if s is not None or not self.queue:
        continue
      req = self.queue[0]
      p = self.prompts[req.prompt]
      own = self._own_need(req.step, req.cap)
      need = own + (0 if p.pages is not None else self._prompt_pages(p)) + self._growth()
      if need > self.pages.free:
        self._evict_idle(keep=req.prompt)
      if need > self.pages.free:
        return
      self.queue.popleft()
      if p.pages is None:
        p.pages = self.pages.alloc(self._prompt_pages(p))
      last = int(p.tokens[-1]) if req.step == 0 else int(req.tokens[req.step - 1])
      self._admitted += 1
      self.slots[i] = Slot(req, self.pages.alloc(own), step=req.step, last=last,
                           order=self._admitted, filled=0)

  def _evict_idle(self, keep: int) -> None:
    """Frees the pages of prompts no slot uses (their queued rows come later: they are
    prefilled again then), except prompt `keep`."""
    used = {s.req.prompt for s in self.slots if s is not None} | {keep}
    for pid, p in enumerate(self.prompts):
      if p.pages is not None and pid not in used:
        self.pages.release(p.pages)
        p.pages, p.filled = None, 0

  def grow(self, tokens_of) -> list[int]:
    """Gives every running slot the own pages its next window can write, oldest admission
    first; when the pool runs out, preempts the most recently admitted slots (perhaps the
    one growing) until it does not. tokens_of(row) -> [>= step] int32 the row's generated
    tokens so far. Returns the preempted rows."""
    preempted = []
    for i in sorted((i for i in range(len(self.slots)) if self.running(i)),
                    key=lambda i: self.slots[i].order):
      s = self.slots[i]
      if s is None:  # preempted while an older slot grew
        continue
      more = self._own_need(s.step, s.req.cap) - len(s.own)
      while more > self.pages.free:
        self._evict_idle(keep=s.req.prompt)
        if more <= self.pages.free:
          break
        victim = max((j for j, o in enumerate(self.slots) if o is not None),
                     key=lambda j: self.slots[j].order)
        preempted.append(self.preempt(victim, tokens_of))
        if victim == i:
          break
      if self.slots[i] is not None and more > 0:
        s.own += self.pages.alloc(more)
    return preempted

  def preempt(self, i: int, tokens_of) -> int:
    """Frees slot i's own pages and puts its row back at the front of the queue with its
    progress (resumed by recompute). Returns the row."""
    s = self.slots[i]
    self.pages.release(s.own)
    toks = np.asarray(tokens_of(s.req.row)[:s.step], np.int32).copy()
    self.queue.appendleft(dataclasses.replace(s.req, step=s.step, tokens=toks))
    self.slots[i] = None
    self.preemptions += 1
    return s.req.row

  def prefill_plan(self, rows: int, chunk: int, bucket) -> list[Piece]:
    """Next pieces (<= `rows`, each <= `chunk` tokens) to prefill: unfilled prompts of
    admitted rows, then own slots of resumed rows whose prompt is ready; all with the
    `bucket(hi - lo)` of the first (`bucket`: the engine's program length of a piece, so a
    piece's program shape depends on the piece alone, not on what it is planned with)."""
    seen, plan = set(), []

    def take(piece):
      if plan and bucket(piece.hi - piece.lo) != bucket(plan[0].hi - plan[0].lo):
        return False
      plan.append(piece)
      return len(plan) == rows

    for s in self.slots:
      if s is None or s.req.prompt in seen:
        continue
      p = self.prompts[s.req.prompt]
      seen.add(s.req.prompt)
      if not p.ready and take(Piece(s.req.prompt, p.filled, min(p.filled + chunk, p.context))):
        return plan
    for i, s in enumerate(self.slots):
      if s is None or s.filled >= s.req.step or not self.prompts[s.req.prompt].ready:
        continue
      if take(Piece(s.req.prompt, s.filled, min(s.filled + chunk, s.req.step), slot=i)):
        return plan
    return plan

  def mark_filled(self, plan: list[Piece]) -> None:
    for pc in plan:
      if pc.slot is None:
        self.prompts[pc.prompt].filled = pc.hi
      else:
        self.slots[pc.slot].filled = pc.hi

  def running(self, i: int) -> bool:
    s = self.slots[i]
    return (s is not None and not s.done and self.prompts[s.req.prompt].ready
            and s.filled >= s.req.step)

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
