"""Continuous batching: fixed decode slots over a paged KV cache, W decode steps per window.

Each host iteration of `ContinuousEngine.run`:
  1. queued rows enter free slots when the pool has their pages (`scheduler.Scheduler`);
  2. one prefill program writes the next chunk (<= `prefill_chunk` tokens) of up to
     `prefill_rows` admitted prompts into their shared pages, so a long document is spread
     over several iterations instead of stalling decode; while no row decodes yet (the
     start of a call) there is nothing to stall, and prefill runs until every admitted
     prompt is ready: the first window starts with all of them (one window width instead
     of a window per prefill step, and no staggered tail);
  3. one decode-window program runs up to W steps for every slot whose prompt is ready
     (`lax.while_loop` on the device, leaving early once few enough rows are still active:
     when rows wait, after 1/8 of the window's rows finished, so their slots refill; when
     none wait, when the rest fit the next smaller rows bucket, so the tail of a call runs
     in a narrower program instead of carrying finished rows to the window's end);
  4. the window's tokens come back; finished rows leave their slots and free their pages.
Rows of a prompt share its pages; each row runs the last prompt token itself (the first
decode step), so token j of a row is always drawn with uniform(fold_in(row_key, j)) and the
output is the static path's, token for token, whatever the schedule.

Static shapes per program: window rows (power-of-two bucket per device of the running
rows), window W, table pages (power-of-two bucket of the 64-slot table units its rows' caps
can reach), pool pages (power-of-two bucket), prefill rows
(power of two) and chunk length (2^k or 1.5 x 2^k); so compilations stay bounded over calls
with varying lengths. Same seed, same tokens, whatever the schedule, also in floating point:
a row's arithmetic must not depend on the rows it shares a program with (XLA's CPU dot
kernels change their summation order with the operand sizes, and a random model's
near-uniform next-token distribution turns a 1e-6 logit difference into another token).
So attention reads fixed blocks of pages (`paged.attend_pages`: the table width, set by the
longest row, changes nothing), a prefill program takes only pieces of one chunk bucket,
and a window's rows per device are the bucket of its running rows per device (an even
split of a call over processes gives every device the rows the whole call would).

Shapes: B slots, W window, M table pages, PG page size, R prefill rows, C chunk, N rows.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from spice_jax import parallel
from spice_jax.models import transformer as layers
from spice_jax.sampling import config as config_lib
from spice_jax.sampling import forward, paged, requests, scheduler, strategies
from spice_jax.utils.shapes import geometric_at_least, pow2_at_least

PAD = 0
MIN_DONE_DIV = 8  # a window leaves once 1/8 of its rows finished while rows wait
# Logical slots per attention block (`paged.attend_pages`): one page at the default page
# size, so a block's keys are one `take` of whole pages; blocks of several pages also need a
# transpose copy, the larger cost of a paged decode step on CPU (benchmarks/README.md).
BLOCK_SLOTS = 32
# Table widths are bucketed in units of TABLE_SLOTS slots: finer units would add programs
# (each compiled once, ~1 s for a small model) for little saved attention.
TABLE_SLOTS = 64


@flax.struct.dataclass
class Slots:
  """Per-slot decode state, all [B].

  last: int32 next input token; step: int32 own index j of that input (= tokens produced);
  active: bool still generating; pos0: int32 RoPE position of own slot 0 (prompt length - 1);
  base: int32 prompt slots [0, base) readable; start: int32 logical slot of own slot 0;
  cap: int32 max tokens; keys: [B, ...] uint32 row key data.
  """
  last: jax.Array
  step: jax.Array
  active: jax.Array
  pos0: jax.Array
  base: jax.Array
  start: jax.Array
  cap: jax.Array
  keys: jax.Array




def decode_window(w, pool, slots: Slots, table, temperature, top_k, top_p, stop_ids,
                  leave_at, *, cfg, window: int, page_size: int, block_pages: int,
                  strategy: strategies.Strategy):
  """Up to `window` decode steps of all slots (see module doc); leaves early once at most
  `leave_at` (int32 scalar, >= 0) rows are still active (0: when every slot is done).

  Returns (pool, Slots after the window, tokens [B, W] int32, logp [B, W] f32,
  model_logp [B, W] f32); column i holds step i's output (PAD / 0 for idle slots).
  """
  B, M = table.shape
  S = M * page_size
  key_impl = jax.random.key_impl(jax.random.key(0))
  rope = layers.rope_table(cfg, S)  # once per window, outside the loop

  def body(carry):
    i, pool, st, toks, lps, mlps = carry
    slot = st.start + st.step  # [B] logical slot of the input token
    page = jnp.take_along_axis(table, (slot // page_size)[:, None], axis=1)
    page = jnp.where(st.active[:, None], page, scheduler.NULL_PAGE)
    span = (st.base, st.start, slot[:, None])  # prompt [0, base), own slots [start, slot]
    hidden, pool = paged.forward_paged(w, cfg, st.last[:, None], (st.pos0 + st.step)[:, None],
                                       pool, table, page, (slot % page_size)[:, None],
                                       span, block_pages, rope)
    logits = forward.logits(w, hidden[:, 0])
    keys = jax.random.wrap_key_data(st.keys, impl=key_impl)
    u = jax.vmap(lambda k, j: jax.random.uniform(jax.random.fold_in(k, j)))(keys, st.step)
    tok, lp, mlp = strategies.sample(logits, u, temperature, top_k, top_p, strategy)
    act = st.active
    tok = jnp.where(act, tok, PAD)
    step = st.step + act.astype(jnp.int32)
    done = jnp.isin(tok, stop_ids) | (step >= st.cap)
    st = st.replace(last=jnp.where(act, tok, st.last), step=step, active=act & ~done)
    put = lambda buf, val: buf.at[:, i].set(val)
    return (i + 1, pool, st, put(toks, tok), put(lps, jnp.where(act, lp, 0.0)),
            put(mlps, jnp.where(act, mlp, 0.0)))

  cond = lambda c: (c[0] < window) & (jnp.sum(c[2].active.astype(jnp.int32)) > leave_at)
  zi, zf = jnp.zeros((B, window), jnp.int32), jnp.zeros((B, window), jnp.float32)
  _, pool, slots, toks, lps, mlps = jax.lax.while_loop(
      cond, body, (jnp.int32(0), pool, slots, zi, zf, zf))
  return pool, slots, toks, lps, mlps


def prefill_chunk(w, pool, tokens, positions, table, write_page, write_off, base, start,
                  last, *, cfg, page_size: int, block_pages: int):
  """Writes a chunk of tokens' k/v into their pages: a piece of a prompt, or of a resumed
  row's own slots (recomputed after a preemption).

  tokens, positions, write_page, write_off, last: [R, C] int32 (padding: page 0); table:
  [R, M] the rows' pages; base, start: [R] int32. Query (r, c) attends logical slots
  [0, base[r]) and [start[r], last[r, c]] (`paged.span_mask`): a prompt token t sits at
  logical slot t = its position (base = start = 0, last = t: slots <= t, earlier chunks
  included); a resumed row's own slot j sits at start + j (the prompt, then its own slots
  up to j: what its decode step j attended). Returns the pool.
  """
  _, pool = paged.forward_paged(w, cfg, tokens, positions, pool, table, write_page,
                                write_off, (base, start, last), block_pages)
  return pool


@dataclasses.dataclass
class Rows:
  """Host outputs of an engine call, one entry per row (rows are added while it runs):
  keys [N, ...] uint32 key data; per row its cap, generation (0: the call's rows, g + 1:
  follow-ups of a generation-g row), tokens / logp / model_logp [cap] and length, and the
  step its decode stops at (its cap, or a hidden earlier stop: `stop_at`)."""
  keys: np.ndarray
  caps: list[int] = dataclasses.field(default_factory=list)
  gen: list[int] = dataclasses.field(default_factory=list)
  tokens: list[np.ndarray] = dataclasses.field(default_factory=list)
  logp: list[np.ndarray] = dataclasses.field(default_factory=list)
  model_logp: list[np.ndarray] = dataclasses.field(default_factory=list)
  lengths: list[int] = dataclasses.field(default_factory=list)
  stops: list[int] = dataclasses.field(default_factory=list)

  def add(self, caps, keys: np.ndarray, gen: int, stop_at=None) -> None:
    for k, c in enumerate(caps):
      self.caps.append(int(c))
      self.stops.append(int(c) if stop_at is None else min(int(c), int(stop_at[k])))
      self.gen.append(gen)
      for buf, dt in ((self.tokens, np.int32), (self.logp, np.float32),
                      (self.model_logp, np.float32)):
        buf.append(np.zeros((int(c),), dt))
      self.lengths.append(0)
    self.keys = np.concatenate([self.keys, np.asarray(keys, self.keys.dtype)])

  def arrays(self):
    """(tokens, logp, model_logp [N, max cap], lengths [N]) numpy, zeros past each end."""
    N, M = len(self.caps), max(self.caps)
    out = [np.zeros((N, M), dt) for dt in (np.int32, np.float32, np.float32)]
    for r in range(N):
      for o, src in zip(out, (self.tokens, self.logp, self.model_logp)):
        o[r, :self.caps[r]] = src[r]
    return (*out, np.asarray(self.lengths, np.int32))


class ContinuousEngine:
  """The continuous path of a `Sampler` (shares its config, mesh and compile cache)."""

  def __init__(self, sampler, *, slots: int = 64, window: int = 16, page_size: int = 32,
               kv_pages: int | None = None, prefill_chunk: int = 256, prefill_rows: int = 8,
               hbm_fraction: float = 0.9):
    for name, val in (("decode_slots", slots), ("window", window), ("page_size", page_size),
                      ("prefill_chunk", prefill_chunk), ("prefill_rows", prefill_rows)):
      if not isinstance(val, (int, np.integer)) or val < 1:
        raise ValueError(f"{name} must be a positive int, got {val!r}")
    self.s = sampler
    self.slots, self.window, self.page_size = slots, window, page_size
    self.kv_pages, self.prefill_chunk, self.prefill_rows = kv_pages, prefill_chunk, prefill_rows
    if not 0.0 < hbm_fraction <= 1.0:
      raise ValueError(f"hbm_fraction must be in (0, 1], got {hbm_fraction!r}")
    self.hbm_fraction = hbm_fraction
    self.block_pages = max(1, BLOCK_SLOTS // page_size)
    # Pages per table unit: whole attention blocks, at least TABLE_SLOTS slots.
    self.table_unit = self.block_pages * max(1, TABLE_SLOTS // (page_size * self.block_pages))
    self.last_stats: dict[str, Any] = {}

  def _pool_pages(self, prompts, caps, B: int) -> int:
    """Pool size: `kv_pages`, or enough for B rows of distinct prompts, rounded up to a
    power of two and never shrinking across calls (one pool program per size), capped by
    what `hbm_fraction` of a device's memory leaves (where the device reports it)."""
    if self.kv_pages:
      return int(self.kv_pages)
    PG = self.page_size
    prompt_pages = [scheduler.pages_for(len(p) - 1, PG) for p in prompts]
    worst_prompts = min(sum(prompt_pages), B * max(prompt_pages))
    need = pow2_at_least(1 + worst_prompts + B * scheduler.pages_for(int(max(caps)), PG), 16)
    self._auto_pages = max(need, getattr(self, "_auto_pages", 0))
    return min(self._auto_pages, self._memory_pages())

  def _memory_pages(self) -> int:
    """The most pool pages `hbm_fraction` of the first device's memory allows next to what
    is resident at the first call (a large int where memory is not reported). Measured once
    and kept, as vLLM profiles its KV budget once: the pool's size, and so its programs, do
    not move with what else happens to be allocated at a later call."""
    if getattr(self, "_memory_cap", None) is None:
      device = self.s.mesh.devices.flat[0]
      budget = config_lib.device_budget(device, self.hbm_fraction)
      if budget is None:
        self._memory_cap = 1 << 62
      else:
        budget *= config_lib.pool_share(device.platform, self.s.cfg.n_layers)  # their copies
        s = self.s
        per_device = (paged.page_bytes(s.cfg, self.page_size, s._cache_dt)
                      // s.mesh.shape["tensor"])
        self._memory_cap = config_lib.memory_pages(
            config_lib.pages_in_budget(budget, per_device))
    return self._memory_cap

  def _spec(self, shape, batch: bool):
    names = (("batch",) if batch else (None,)) + (None,) * (len(shape) - 1)
    return jax.sharding.NamedSharding(self.s.mesh,
                                      parallel.spec_for(names, shape, self.s.mesh))

  def _pool_shardings(self, n_pages: int):
    shapes = paged.pool_shapes(self.s.cfg, n_pages, self.page_size)
    one = {n: jax.sharding.NamedSharding(self.s.mesh, parallel.spec_for(
        paged.POOL_AXES[n], shp, self.s.mesh)) for n, shp in shapes.items()}
    return [one] * self.s.cfg.n_layers

  def run(self, params, prompts: list[np.ndarray], src: np.ndarray, caps: np.ndarray,
          strategy, scalars, stop_arr: np.ndarray, key_data: np.ndarray, on_finish=None,
          follow_ups: bool | None = None, stop_at=None):
    """Generates for rows r (prompt prompts[src[r]], at most caps[r] tokens).

    scalars: (temperature, top_k, top_p) device scalars; stop_arr [n_stop] int32;
    key_data: [N, ...] uint32 row keys; on_finish(r, tokens [n], model_logp [n]) is called
    as soon as row r is done (between windows, while other rows still decode). It may
    return follow-up rows `(prompts [F] of [p] int32, caps [F] int32, seeds [F])`, which
    join the queue as rows N, N+1, ... in the order returned (keys: key(seed));
    follow_ups=False (default: whether on_finish is given) says it never does, so the slots
    are sized to the rows and windows do not leave early for rows that cannot come. stop_at:
    optional [N] hidden stops (benchmarks): row r ends after stop_at[r] tokens as if it drew
    a stop id there (checked in the decode loop; the scheduler sees only caps). Returns numpy
    (tokens, logp, model_logp, lengths) over all rows.
    """
    s, cfg, PG = self.s, self.s.cfg, self.page_size
    N = len(src)
    rows = Rows(np.asarray(key_data)[:0])
    rows.add(caps, key_data, 0, stop_at)
    slots_b = s._rows_bucket(self.slots)
    if follow_ups is None:
      follow_ups = on_finish is not None
    B = slots_b if follow_ups else min(slots_b, s._rows_bucket(N))
    n_pages = self._pool_pages(prompts, caps, min(B, s._rows_bucket(N)))
    sched = scheduler.Scheduler(B, PG, n_pages, window=self.window)
    sched.add(prompts, [scheduler.Request(r, int(src[r]), int(caps[r])) for r in range(N)])
    pool_sh = self._pool_shardings(n_pages)
    pool = s._compiled(("pool", n_pages, PG, s.cache_dtype), lambda: jax.lax.with_sharding_constraint(
        paged.init_pool(cfg, n_pages, PG, s._cache_dt), pool_sh), ())()
    w = s._compiled(("prepare",), lambda p: forward.prepare(p, cfg, s._compute_dt), (params,))(
        params)
    stop_dev = jax.device_put(stop_arr, parallel.replicated(s.mesh))
    spawned: dict[int, bool] = {}  # generation -> did a finished row return follow-ups
    decoding: set[int] = set()  # rows that have run a window
    stats = {"windows": 0, "decode_steps": 0, "slot_steps": 0, "token_steps": 0,
             "prefill_calls": 0, "prefill_s": 0.0, "decode_s": 0.0, "follow_ups": 0}
    while not sched.finished:
      sched.grow(lambda r: rows.tokens[r])  # pages for the next window, or preemptions
      sched.admit()
      plan = sched.prefill_plan(self.prefill_rows, self.prefill_chunk, self._chunk_bucket)
      if plan:
        t0, c0 = time.perf_counter(), s.compile_seconds
        pool = self._prefill(w, pool, sched, plan, pool_sh)
        stats["prefill_calls"] += 1
        stats["prefill_s"] += time.perf_counter() - t0 - (s.compile_seconds - c0)
        sched.mark_filled(plan)
      running = [i for i in range(B) if sched.running(i)]
      if not running and not plan:
        raise RuntimeError("continuous engine: no progress possible (kv pool too small?)")
      if plan and not any(sched.slots[i].req.row in decoding for i in running):
        continue  # no row decodes yet, so none stalls: prefill the admitted rest first
      decoding.update(sched.slots[i].req.row for i in running)
      # Rows wait (or may soon: finishing rows of a generation that spawns follow-ups).
      waiting = bool(sched.queue) or (follow_ups and any(
          spawned.get(rows.gen[sched.slots[i].req.row]) is not False for i in running))
      pool, finished = self._window(w, pool, sched, running, rows, waiting, strategy, scalars,
                                    stop_dev, stop_arr, pool_sh, n_pages, stats)
      new = []
      for r in finished:
        more = None if on_finish is None else on_finish(
            r, rows.tokens[r][:rows.lengths[r]], rows.model_logp[r][:rows.lengths[r]])
        g = rows.gen[r]
        spawned[g] = spawned.get(g, False) or bool(more and len(more[0]))
        if more and len(more[0]):
          new.append((more, g + 1))
      if new:
        stats["follow_ups"] += sum(len(m[0]) for m, _ in new)
        grown = self._pages_with(sched, new, B)
        if grown > n_pages:
          pool, pool_sh = self._grow_pool(pool, n_pages, grown), self._pool_shardings(grown)
          sched.pages.grow(grown)
          n_pages = grown
        keys_f = requests.seed_key_data([sd for (_, _, seeds), _ in new for sd in seeds])
        for (prompts_f, caps_f, _), g in new:
          first = len(rows.caps)
          rows.add(caps_f, keys_f[:len(caps_f)], g)
          keys_f = keys_f[len(caps_f):]
          sched.add(list(prompts_f), [scheduler.Request(first + k, k, int(c))
                                      for k, c in enumerate(caps_f)])
    stats.update(slots=B, kv_pages=n_pages, peak_pages=sched.pages.peak,
                 preemptions=sched.preemptions,
                 occupancy=stats["token_steps"] / max(1, B * stats["decode_steps"]),
                 page_bytes=paged.page_bytes(cfg, PG, s._cache_dt),
                 utilisation=stats["token_steps"] / max(1, stats["slot_steps"]))
    self.last_stats = stats
    return rows.arrays()

  def _window(self, w, pool, sched, running, rows, waiting, strategy, scalars, stop_dev,
              stop_arr, pool_sh, n_pages, stats):
    """One decode-window program over the `running` slots, packed into `_window_rows` of
    their count; copies its tokens into `rows`, frees finished slots. `waiting`: rows wait
    for slots. Returns (pool, finished rows in slot order)."""
    s, W, PG = self.s, self.window, self.page_size
    n = len(running)
    Bw = self._window_rows(n)  # <= the slots: both are per-device buckets, n <= slots
    st, table = self._slot_arrays(sched, running, Bw, rows.keys, rows.stops)
    if waiting:  # leave when 1/8 of the rows can hand their slots over
      leave_at = n - max(1, n // MIN_DONE_DIV)
    else:  # leave when the rest fit a narrower program
      leave_at = self._narrower_rows(Bw)
    put_b = lambda a: jax.device_put(a, self._spec(np.shape(a), True))
    args = (w, pool, jax.tree.map(put_b, st), put_b(table)) + tuple(scalars) + (
        stop_dev, np.int32(leave_at))
    prog = s._compiled(("window", Bw, table.shape[1], n_pages, W, PG, stop_arr.shape,
                        strategy), self._window_fn(strategy, pool_sh), args, donate=(1,))
    t0 = time.perf_counter()
    pool, new, toks, lps, mlps = prog(*args)
    new, toks, lps, mlps = jax.device_get((new, toks, lps, mlps))
    stats["decode_s"] += time.perf_counter() - t0
    stats["windows"] += 1
    steps_run = int(np.max(new.step - st.step))
    stats["decode_steps"] += steps_run
    stats["slot_steps"] += Bw * steps_run
    finished = []
    for c, i in enumerate(running):
      slot = sched.slots[i]
      n = int(new.step[c] - st.step[c])
      r, j = slot.req.row, slot.step
      rows.tokens[r][j:j + n], rows.logp[r][j:j + n] = toks[c, :n], lps[c, :n]
      rows.model_logp[r][j:j + n] = mlps[c, :n]
      slot.step, slot.last = int(new.step[c]), int(new.last[c])
      stats["token_steps"] += n
      if not new.active[c]:
        rows.lengths[r] = slot.step
        sched.finish(i)
        finished.append(r)
    return pool, finished

  def _pages_with(self, sched, new, B: int) -> int:
    """Pool pages wanted once follow-ups `new` [((prompts, caps, seeds), gen)] join: the
    fixed `kv_pages`, or the auto size for the live prompts and rows (never shrinking)."""
    if self.kv_pages:
      return sched.pages.n_pages
    live = [p.tokens for p in sched.prompts if p.refs > 0]
    caps = [r.cap for r in sched.queue] + [sl.req.cap for sl in sched.slots if sl is not None]
    for (prompts, caps_f, _), _ in new:
      live += list(prompts)
      caps += [int(c) for c in caps_f]
    return self._pool_pages(live, caps, min(B, self.s._rows_bucket(len(caps))))

  def _grow_pool(self, pool, old: int, new: int):
    """The pool with pages [old, new) added (zeros); compiled once per size pair."""
    s, PG = self.s, self.page_size
    sh = self._pool_shardings(new)
    grow = lambda pool: jax.lax.with_sharding_constraint(
        [{n: jnp.concatenate([a, jnp.zeros((new - old,) + a.shape[1:], a.dtype)])
          for n, a in lc.items()} for lc in pool], sh)
    return s._compiled(("grow_pool", old, new, PG, s.cache_dtype), grow, (pool,))(pool)

  def _window_fn(self, strategy, pool_sh):
    cfg, W, PG, bp = self.s.cfg, self.window, self.page_size, self.block_pages

    def fn(w, pool, st, table, temperature, top_k, top_p, stop_ids, leave_at):
      out = decode_window(w, pool, st, table, temperature, top_k, top_p, stop_ids, leave_at,
                          cfg=cfg, window=W, page_size=PG, block_pages=bp, strategy=strategy)
      return (jax.lax.with_sharding_constraint(out[0], pool_sh),) + out[1:]
    return fn

  def _slot_arrays(self, sched, running, B: int, key_data: np.ndarray, stops):
    """Host Slots [B] and page table [B, M] for the next window: row c is slot running[c],
    rows past them are idle."""
    PG, W = self.page_size, self.window
    z = lambda dt=np.int32: np.zeros((B,), dt)
    st = Slots(last=z(), step=z(), active=z(bool), pos0=z(), base=z(), start=z(), cap=z(),
               keys=np.zeros((B,) + key_data.shape[1:], key_data.dtype))
    rows, widest = {}, 0
    for c, i in enumerate(running):
      sl = sched.slots[i]
      p = sched.prompts[sl.req.prompt]
      n_prompt = len(p.pages)
      st.last[c], st.step[c], st.active[c] = sl.last, sl.step, True
      st.pos0[c] = st.base[c] = p.context
      st.start[c], st.cap[c] = n_prompt * PG, stops[sl.req.row]
      st.keys[c] = key_data[sl.req.row]
      need = n_prompt + scheduler.pages_for(min(sl.step + W, sl.req.cap), PG)
      rows[c] = sched.table_row(i)[:need]
      widest = max(widest, n_prompt + scheduler.pages_for(sl.req.cap, PG))
    # Wide enough for every row's whole cap: attention reads only the blocks in use, so the
    # width costs nothing but is fixed while the rows grow (fewer programs).
    M = self._table_pages(widest)
    table = np.zeros((B, M), np.int32)
    for i, r in rows.items():
      table[i, :len(r)] = r
    return st, table

  def _window_rows(self, n: int) -> int:
    """Rows of a window program for n running rows: per device, the power of two at least
    its share (a program per bucket: every bucket is a compile per model and table width,
    minutes each on a pod). A function of the rows per device alone, so an even split of
    the same rows over more processes gives each device the same rows (the same dot
    kernels: XLA's CPU kernels change their summation order with operand sizes)."""
    d = self.s._batch_shards
    return d * pow2_at_least(-(-n // d))

  def _narrower_rows(self, rows: int) -> int:
    """The most running rows that fit a narrower window program than one of `rows` rows
    (0 when none is narrower)."""
    d = self.s._batch_shards
    return d * (rows // d // 2)   # rows per device is a power of two: the next one down

  def _chunk_bucket(self, n: int) -> int:
    """Prefill program length of an n-token piece: 2^k or 1.5 x 2^k, >= 16."""
    return geometric_at_least(n, 16)

  def _table_pages(self, n: int) -> int:
    """Table width for n pages: a power-of-two bucket of table units (a program's cost
    does not grow with its table: `paged.attend_pages` loops over the blocks in use)."""
    return self.table_unit * pow2_at_least(scheduler.pages_for(n, self.table_unit))

  def _prefill(self, w, pool, sched, plan, pool_sh):
    """One prefill-chunk program over `plan` (`scheduler.Piece`s of one chunk bucket C):
    [prefill_rows, C] tokens."""
    s, PG = self.s, self.page_size
    R = self.prefill_rows
    C = self._chunk_bucket(max(pc.hi - pc.lo for pc in plan))
    spans = [self._piece(sched, pc) for pc in plan]
    M = self._table_pages(max(len(sp[-1]) for sp in spans))  # >= every piece's pages
    tokens, pos, page, off, last = (np.zeros((R, C), np.int32) for _ in range(5))
    base, start = np.zeros((R,), np.int32), np.zeros((R,), np.int32)
    table = np.zeros((R, M), np.int32)
    for r, (toks, p0, s0, b, st, pages) in enumerate(spans):
      n = len(toks)
      slot = s0 + np.arange(n)
      tokens[r, :n], pos[r, :n], last[r, :n] = toks, p0 + np.arange(n), slot
      page[r, :n], off[r, :n] = np.asarray(pages)[slot // PG], slot % PG
      base[r], start[r] = b, st
      table[r, :len(pages)] = pages
    cfg, bp = s.cfg, self.block_pages
    fn = lambda w, pool, *a: jax.lax.with_sharding_constraint(
        prefill_chunk(w, pool, *a, cfg=cfg, page_size=PG, block_pages=bp), pool_sh)
    args = (w, pool, tokens, pos, table, page, off, base, start, last)
    prog = s._compiled(("prefill_chunk", R, C, M, pool[0]["k"].shape[0], PG), fn, args,
                       donate=(1,))
    return prog(*args)

  def _piece(self, sched, pc):
    """(tokens [n], position of the first, logical slot of the first, base, start, table
    pages) of a prefill piece: prompt tokens lo..hi-1 at slots lo..hi-1 (base = start = 0),
    or a resumed row's own slots lo..hi-1 at start + lo.. (base: its prompt's context)."""
    PG = self.page_size
    p = sched.prompts[pc.prompt]
    if pc.slot is None:
      return (p.tokens[pc.lo:pc.hi], pc.lo, pc.lo, 0, 0,
              p.pages[:scheduler.pages_for(pc.hi, PG)])
    sl = sched.slots[pc.slot]
    start = len(p.pages) * PG
    pages = sched.table_row(pc.slot)[:len(p.pages) + scheduler.pages_for(pc.hi, PG)]
    return (sl.own_inputs(p)[pc.lo:pc.hi], p.context + pc.lo, start + pc.lo, p.context,
            start, pages)
