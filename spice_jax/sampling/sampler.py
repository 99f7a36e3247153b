"""Batched autoregressive sampling: `Sampler` and `generate`, over two engines.

* "auto" (the default): per call, the static path where it does no wasted work (every row
  runs to its cap in one batch that fits the slots), else the continuous engine
  (`choose.py`: the rule uses only what is known when the call starts). The path taken is
  `last_timing["engine"]`, the reason `last_timing["choice"]`.
* "continuous" (`engine.py`): fixed decode slots over a paged KV cache whose prompt pages
  are shared by the rows generated from one prompt; W decode steps per device loop; rows
  leave and queued prompts are prefilled (in chunks) and enter between windows.
* "static" (`static.py`): one padded batch per call:
  - rows are padded to a batch bucket B (a multiple of the batch shards, times a power of
    two) and prompts are left-padded to a power-of-two length bucket P (capped at
    max_prompt_len rounded up to 64); the largest `max_new_tokens` is bucketed the same
    way (Nb), so a long run only compiles a few programs;
  - identical prompts are prefilled once and their cache rows copied;
  - decode (the cache and state are donated) feeds one token per step at slot P + i - 1,
    RoPE position slot - pad_len, until every row has produced a stop token or its cap:
    a `lax.while_loop` per phase of a cache grown P + Nb/4 -> P + Nb/2 -> P + Nb slots.
Both run the same maths (`forward.py`, `paged.py`: an inference layout of
`spice_jax.models.Transformer`'s layers).

Random numbers: row r draws its token j from uniform(fold_in(fold_in(key, r), j)), so a
row's draws do not depend on the batch, the other rows, the schedule or the mesh: both
engines return the same tokens for the same seed.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from jax.sharding import NamedSharding

from spice_jax import parallel
from spice_jax.models.config import ModelConfig
from spice_jax.sampling import engine as engine_lib
from spice_jax.sampling import choose, forward, requests, static, strategies
from spice_jax.sampling.requests import PromptError, SampleOutput  # noqa: F401 (public API)
from spice_jax.utils.shapes import pow2_at_least

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
PAD = 0  # token id written after a row has finished, and into left padding
ENGINES = ("auto", "static", "continuous")
DEFAULT_ENGINE = "auto"




@dataclasses.dataclass(frozen=True)
class Shapes:
  """The static shape bucket of one program.

  batch: rows B; prompt: prompt slots P; new: generated-token slots Nb; n_stop: stop-id
  slots; unique: rows U of the prefill when identical prompts are shared (0 = no sharing,
  every row is prefilled).
  """
  batch: int
  prompt: int
  new: int
  n_stop: int
  unique: int = 0


class Sampler:
  """Jitted batched sampler for one architecture on one mesh; params are passed per call.

  Args:
    cfg: model architecture.
    mesh: device mesh; the batch is split over ('data', 'fsdp'), heads over 'tensor'.
    dtype: compute dtype of the matmuls ("float32" or "bfloat16"); params are cast once per
      call, outside the decode loop. Accumulation, norms and softmax are float32.
    cache_dtype: KV cache dtype. Default: float32 on CPU (fastest there), bfloat16 on
      accelerators (half the memory and the attention reads).
    engine: "auto" (per call, whichever of the two is faster for its shape: `choose.py`),
      "continuous" (slots over a paged KV cache, `engine.ContinuousEngine`) or "static"
      (one padded batch per call). All give the same tokens for the same seed.
    decode_slots, window, page_size, kv_pages, prefill_chunk, prefill_rows: continuous
      engine settings (slots, decode steps per device loop, tokens per KV page, pool pages
      (None = enough for every slot, capped by `hbm_fraction` of device memory where the
      device reports it), prompt tokens per prefill chunk, prompts per chunk); see
      `sampling.config.EngineConfig` (`config.engine`), whose `sampler_kwargs()` fills them.
    max_prompt_len: longest prompt accepted (default cfg.max_seq_len); longer prompts raise
      `PromptError` (the caller decides how to shorten them).
    min_prompt_bucket: smallest prompt-length bucket.
    min_new_bucket: smallest bucket of max_new_tokens.
    prefill_tokens: on an unsharded batch, prefill rows in groups of about this many prompt
      tokens (0 = all rows at once).
    decode_phases: split decode (when >= 64 new-token slots) into this many while loops over
      a growing cache: ends at Nb/4, Nb/2, Nb for 3 (see `phases`). Each phase compiles
      its own loop body (decode compile time grows with it).

  Attributes:
    num_compilations: programs compiled so far (prefill and decode count separately).
    compile_seconds: total wall time spent lowering and compiling.
    last_timing: wall times of the last call's prefill and decode (excluding compilation)
      and the number of decode steps it ran.
  """

  def __init__(self, cfg: ModelConfig, mesh, *, dtype: str = "float32",
               cache_dtype: str | None = None, max_prompt_len: int | None = None,
               min_prompt_bucket: int = 16, min_new_bucket: int = 16,
               prefill_tokens: int = 2048, decode_phases: int = 3,
               engine: str = DEFAULT_ENGINE, decode_slots: int = 64, window: int = 16,
               page_size: int = 32, kv_pages: int | None = None, prefill_chunk: int = 256,
               prefill_rows: int = 8, hbm_fraction: float = 0.9):
    if cache_dtype is None:
      cache_dtype = "float32" if jax.default_backend() == "cpu" else "bfloat16"
    if engine not in ENGINES:
      raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    for name, val in (("dtype", dtype), ("cache_dtype", cache_dtype)):
      if val not in DTYPES:
        raise ValueError(f"{name} must be one of {sorted(DTYPES)}, got {val!r}")
    self.cfg = cfg
    self.mesh = mesh
    self.dtype = dtype
    self.cache_dtype = cache_dtype
    self.max_prompt_len = int(max_prompt_len or cfg.max_seq_len)
    # The largest prompt bucket: the limit, rounded up to a multiple of 64 (prefill chunks).
    self._prompt_cap = -(-self.max_prompt_len // 64) * 64
    self.min_prompt_bucket = min_prompt_bucket
    self.min_new_bucket = min_new_bucket
    self.prefill_tokens = prefill_tokens
    if decode_phases < 1:
      raise ValueError(f"decode_phases must be >= 1, got {decode_phases}")
    self.decode_phases = decode_phases
    # The continuous engine schedules on one host: a mesh spanning several processes
    # (global sampling on a multi-host run) uses the static path's SPMD placement.
    self.spans_processes = len({d.process_index for d in mesh.devices.flat}) > 1
    self.engine = "static" if self.spans_processes else engine
    self._continuous = engine_lib.ContinuousEngine(
        self, slots=decode_slots, window=window, page_size=page_size, kv_pages=kv_pages,
        prefill_chunk=prefill_chunk, prefill_rows=prefill_rows, hbm_fraction=hbm_fraction)
    self.num_compilations = 0
    self.compile_seconds = 0.0
    self.last_timing: dict[str, Any] = {}
    self._programs: dict[Any, Any] = {}
    self._batch_shards = math.prod(mesh.shape[a] for a in ("data", "fsdp"))

  @property
  def _compute_dt(self):
    return DTYPES[self.dtype]

  @property
  def _cache_dt(self):
    return DTYPES[self.cache_dtype]

  # ------------------------------------------------------------------ shapes & shardings

  def _rows_bucket(self, n: int) -> int:
    return self._batch_shards * pow2_at_least(-(-n // self._batch_shards))

  def shapes_for(self, prompts: Sequence[Sequence[int]], max_new_tokens: int,
                 n_stop: int, n_unique: int | None = None) -> Shapes:
    """The bucket a call with these prompts lands in (n_unique: distinct prompts)."""
    b = self._rows_bucket(len(prompts))
    u = self._rows_bucket(n_unique) if n_unique is not None else b
    longest = max(len(p) for p in prompts)
    p = min(pow2_at_least(longest, self.min_prompt_bucket), self._prompt_cap)
    return Shapes(batch=b, prompt=p, new=pow2_at_least(max_new_tokens, self.min_new_bucket),
                  n_stop=pow2_at_least(max(n_stop, 1), 4), unique=u if u < b else 0)

  def _batch_spec(self, shape, rest=None) -> NamedSharding:
    names = ("batch",) + tuple(rest or (None,) * (len(shape) - 1))
    return NamedSharding(self.mesh, parallel.spec_for(names, shape, self.mesh))

  def _cache_shardings(self, B: int, S: int) -> list[dict[str, NamedSharding]]:
    shapes = forward.cache_shapes(self.cfg, B, S)
    one = {n: NamedSharding(self.mesh, parallel.spec_for(forward.CACHE_AXES[n], shp, self.mesh))
           for n, shp in shapes.items()}
    return [one] * self.cfg.n_layers

  def phases(self, shapes: Shapes) -> list[tuple[int, int]]:
    """The static path's decode phases (see `static.phases`)."""
    return static.phases(self, shapes)

  def _compiled(self, key, fn, args, donate=()):
    """Compiled `fn` for (key, argument signature); compiles once, counted."""
    sig = jax.tree.map(lambda x: (np.shape(x), str(np.asarray(x).dtype) if not hasattr(
        x, "dtype") else str(x.dtype), getattr(x, "sharding", None)), args)
    full = (key, jax.tree.structure(args), tuple(jax.tree.leaves(sig)))
    prog = self._programs.get(full)
    if prog is None:
      t0 = time.perf_counter()
      with jax.set_mesh(self.mesh):
        prog = jax.jit(fn, donate_argnums=donate).lower(*args).compile()
      dt = time.perf_counter() - t0
      self.compile_seconds += dt
      self.num_compilations += 1
      logging.info("sampler: compiled %s in %.1fs", key, dt)
      self._programs[full] = prog
    return prog

  def _program(self, kind: str, shapes: Shapes, strategy, args):
    """Static-path program for (kind, bucket, strategy, argument signature)."""
    fn = static.prefill if kind == "prefill" else static.decode
    fn = functools.partial(fn, self, shapes=shapes, strategy=strategy)
    donate = () if kind == "prefill" else ((1, 2) if len(self.phases(shapes)) == 1 else (2,))
    return self._compiled((kind, shapes, strategy), fn, args, donate)

  # ------------------------------------------------------------------ host API

  @staticmethod
  def prepare(prompts: Sequence[Sequence[int]], B: int, P: int):
    """Left-pads prompts into [B, P] int32 tokens and [B] pad lengths (numpy); rows past
    the prompts are dummies (all padding)."""
    tokens = np.full((B, P), PAD, np.int32)
    pad_len = np.full((B,), P, np.int32)  # dummy rows: all padding
    for r, p in enumerate(prompts):
      tokens[r, P - len(p):] = p
      pad_len[r] = P - len(p)
    return tokens, pad_len

  def __call__(self, params, prompts: Sequence[Sequence[int]], *,
               max_new_tokens: int | Sequence[int], temperature: float = 1.0, top_k: int = 0,
               top_p: float = 1.0, seed: int | jax.Array = 0, stop_ids: Sequence[int] = (),
               engine: str | None = None, row_seeds: Sequence[int] | None = None,
               on_finish=None, follow_ups: bool | None = None,
               stop_at: Sequence[int] | None = None) -> SampleOutput:
    """Samples continuations of `prompts` (token-id lists of any lengths).

    Args:
      params: param tree of `cfg` (float32 master weights; cast to the compute dtype).
      prompts: N token-id lists, 1 <= len <= max_prompt_len.
      max_new_tokens: tokens to generate per row at most: one int, or N ints (per row).
      temperature: 0 = greedy; otherwise the softmax temperature.
      top_k: keep the k most likely tokens (0 = off).
      top_p: nucleus mass in (0, 1] (1 = off).
      seed: int seed or a jax PRNG key.
      stop_ids: token ids that end a row (the stop token is kept in the output).
      engine: override the sampler's engine for this call ("auto" / "static" /
        "continuous").
      row_seeds: optional N int seeds, one per row (then `seed` is unused): row r draws
        from key(row_seeds[r]) alone, so its sample does not depend on which call, batch
        position or host it lands in.
      on_finish: optional callback `on_finish(r, tokens [n] int32, model_logprobs [n] f32,
        finish_reason)` for each row as soon as it is done: while other rows still decode
        (continuous engine), or after the call (static path). Lets the caller overlap its
        own work (e.g. verification) with generation. It may return a list of
        `requests.FollowUp` (prompt, cap, row seed): rows that join this call's queue at
        once (pipelined work: the continuous engine keeps its slots full with them; the
        static path runs them as a further batch). They are numbered N, N+1, ... in the
        order returned, reported through `on_finish` too (and may return follow-ups), use
        this call's sampling settings and draw from key(seed): their tokens equal those of
        a separate call with `row_seeds=[seed, ...]`.
      follow_ups: whether `on_finish` may return follow-ups (None: whenever it is given). A
        caller whose `on_finish` only observes rows (the trainer: verification overlapped
        with decoding) passes False: the call is then scheduled like one without a callback
        (`choose.engine_for` may take the static path; the engine sizes its slots to the
        rows). Follow-ups returned anyway raise ValueError.
      stop_at: optional N ints (benchmarks): row r ends after stop_at[r] tokens, as if it
        drew a stop id there: checked in the decode loop, unseen by scheduling and buckets
        (which use max_new_tokens). Stands in for a trained model's stop tokens.

    Returns:
      SampleOutput with N rows in input order, then the follow-up rows; as many columns
      as the largest cap.
    """
    engine = engine or self.engine
    if engine not in ENGINES:
      raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if engine == "continuous" and self.spans_processes:
      raise ValueError("engine='continuous' runs on one host's devices; this mesh spans "
                       "several processes (use train.sampling='host_local', or 'static')")
    if row_seeds is not None and len(row_seeds) != len(prompts):
      raise ValueError(f"row_seeds has {len(row_seeds)} entries for {len(prompts)} prompts")
    prompts, caps, strategy, stop, uniq, src, key, scalars, stop_arr = self._inputs(
        prompts, max_new_tokens, temperature, top_k, top_p, seed, stop_ids)
    if stop_at is not None:
      stop_at = np.minimum(requests.validate_caps(stop_at, len(prompts)), caps)
    follow_ups = on_finish is not None if follow_ups is None else bool(follow_ups)

    def follow(more):
      if more and not follow_ups:
        raise ValueError("on_finish returned follow-ups in a call with follow_ups=False")
      return requests.validate_follow_ups(more, self.cfg.vocab_size, self.max_prompt_len)
    choice = None
    if engine == "auto":
      choice = self.path_for(prompts, uniq, caps, stops=bool(stop) or stop_at is not None,
                             follow_ups=follow_ups)
      engine = choice.engine
    if engine == "continuous":
      keys = np.asarray(jax.random.key_data(requests.row_keys(key, len(prompts), row_seeds)))
      t0 = time.perf_counter()

      def done(r, t, m):
        f_prompts, f_caps, f_seeds = follow(on_finish(r, t, m, requests.finish_reason(t, stop)))
        return (f_prompts, f_caps, f_seeds) if f_prompts else None
      out = self._continuous.run(params, uniq, src, caps, strategy, scalars, stop_arr, keys,
                                 on_finish=None if on_finish is None else done,
                                 follow_ups=follow_ups, stop_at=stop_at)
      self.last_timing = {"engine": "continuous", "total_s": time.perf_counter() - t0,
                          **self._continuous.last_stats}
      if choice:
        self.last_timing["choice"] = choice.reason
      return requests.make_output(*out, stop)
    parts, first = [], 0
    while True:  # the static path: the call's rows, then each round of follow-ups
      res = self._static(params, prompts, uniq, src, caps, strategy, scalars, stop_arr, key,
                         stop, row_seeds, stop_at if first == 0 else None)
      parts.append(res)
      if choice:
        self.last_timing["choice"] = choice.reason
      more = []
      for r in range(len(res) if on_finish is not None else 0):
        n = int(res.lengths[r])
        more += list(on_finish(first + r, res.tokens[r, :n], res.model_logprobs[r, :n],
                               res.finish_reason[r]) or ())
      first += len(res)
      prompts, caps, row_seeds = follow(more)
      if not prompts:
        return requests.concat_outputs(parts)
      uniq, src = requests.group_prompts(prompts)

  def path_for(self, prompts, uniq, caps, *, stops: bool, follow_ups: bool) -> choose.Choice:
    """The path of an "auto" call (`choose.engine_for`): prompts / uniq: the call's rows' and
    distinct prompts; caps [N]; stops: rows may end before their caps; follow_ups: the
    call's `on_finish` may queue rows."""
    if self.spans_processes:
      return choose.Choice("static", "mesh spans processes")
    shapes = self.shapes_for(prompts, int(caps.max()), 0, len(uniq))
    eng = self._continuous
    return choose.engine_for(
        [len(p) for p in uniq], [int(c) for c in caps], stops=stops, follow_ups=follow_ups,
        slots=self._rows_bucket(eng.slots), batch_bucket=shapes.batch,
        unique_bucket=shapes.unique or shapes.batch, prompt_bucket=shapes.prompt,
        static_kv_tokens=shapes.batch * (shapes.prompt + shapes.new),
        pool_tokens=eng.kv_pages * eng.page_size if eng.kv_pages else None)

  def _inputs(self, prompts, max_new_tokens, temperature, top_k, top_p, seed,
              stop_ids) -> "CallInputs":
    """A call's validated inputs (`CallInputs`)."""
    prompts = requests.validate_prompts(prompts, self.cfg.vocab_size, self.max_prompt_len)
    caps = requests.validate_caps(max_new_tokens, len(prompts))
    strategy = strategies.Strategy.make(float(temperature), int(top_k), float(top_p),
                                        self.cfg.vocab_size)
    stop = sorted({int(s) for s in stop_ids})
    uniq, src = requests.group_prompts(prompts)
    rep = parallel.replicated(self.mesh)
    scalars = (_put(np.float32(temperature), rep),   # 0: greedy (strategies.sample)
               _put(np.int32(top_k), rep), _put(np.float32(top_p), rep))
    stop_arr = np.full((pow2_at_least(max(len(stop), 1), 4),), -1, np.int32)
    stop_arr[:len(stop)] = stop
    return CallInputs(prompts, caps, strategy, stop, uniq, src, requests.root_key(seed),
                      scalars, stop_arr)

  def compile_static(self, params, prompts: Sequence[Sequence[int]], *,
                     max_new_tokens: int | Sequence[int], temperature: float = 1.0,
                     top_k: int = 0, top_p: float = 1.0, stop_ids: Sequence[int] = ()):
    """Ahead of time: the static path's programs for such a call, compiled and not run
    (memory and cost analysis, warm-up). Returns {"prefill": ..., "decode": ...}
    (`jax.stages.Compiled`), also kept for later calls of the same shapes."""
    prompts, caps, strategy, stop, uniq, src, key, scalars, stop_arr = self._inputs(
        prompts, max_new_tokens, temperature, top_k, top_p, 0, stop_ids)
    shapes, pre_args, ctl = self._static_inputs(params, prompts, uniq, src, caps, scalars,
                                                stop_arr, key, stop)
    prefill = self._program("prefill", shapes, strategy, pre_args)
    cache, state = prefill.out_info   # the decode's inputs, as shapes and shardings
    decode = self._program("decode", dataclasses.replace(shapes, unique=0), strategy,
                           (params, cache, state, ctl))
    return {"prefill": prefill, "decode": decode}

  def _static_inputs(self, params, prompts, uniq, src, caps, scalars, stop_arr, key, stop,
                     row_seeds=None, stop_at=None):
    """The static path's bucket and device inputs: (shapes, prefill args, controls)."""
    shapes = self.shapes_for(prompts, int(caps.max()), len(stop), len(uniq))
    B = shapes.batch
    tokens, pad_len = self.prepare(prompts, shapes.batch, shapes.prompt)
    if shapes.unique:
      tokens_u, pad_u = self.prepare(uniq, shapes.unique, shapes.prompt)
      src_b = np.zeros((B,), np.int32)
      src_b[:len(prompts)] = src
    else:
      tokens_u, pad_u, src_b = tokens, pad_len, np.arange(B, dtype=np.int32)
    keys = requests.row_keys(key, B, row_seeds)
    bs = lambda a: _put(a, self._batch_spec(np.shape(a)))
    if jax.process_count() > 1:  # multi-controller: place host values shard by shard
      keys = jax.random.wrap_key_data(
          _put(np.asarray(jax.random.key_data(keys)), self._batch_spec(keys.shape)))
    else:
      keys = jax.device_put(keys, self._batch_spec(keys.shape))
    caps_b = np.zeros((B,), np.int32)
    caps_b[:len(prompts)] = caps if stop_at is None else stop_at  # stop_at: hidden stops
    ctl = static.Controls(pad_len=bs(pad_len), row_keys=keys, max_new=bs(caps_b),
                   temperature=scalars[0], top_k=scalars[1], top_p=scalars[2],
                   stop_ids=_put(stop_arr, parallel.replicated(self.mesh)))
    return shapes, (params, bs(tokens_u), bs(pad_u), bs(src_b), ctl), ctl

  def _static(self, params, prompts, uniq, src, caps, strategy, scalars, stop_arr, key, stop,
              row_seeds=None, stop_at=None):
    """The static path: one padded batch, prefill then the decode while_loop(s)."""
    shapes, pre_args, ctl = self._static_inputs(params, prompts, uniq, src, caps, scalars,
                                                stop_arr, key, stop, row_seeds, stop_at)
    prefill = self._program("prefill", shapes, strategy, pre_args)
    t0 = time.perf_counter()
    cache, state = prefill(*pre_args)
    jax.block_until_ready(state)
    t1 = time.perf_counter()
    # Decode does not depend on how the prefill was shared.
    decode = self._program("decode", dataclasses.replace(shapes, unique=0), strategy,
                           (params, cache, state, ctl))
    t2 = time.perf_counter()
    cache, state = decode(params, cache, state, ctl)
    del cache
    steps = int(state.step)  # waits for the loop
    t3 = time.perf_counter()
    self.last_timing = {"engine": "static", "prefill_s": t1 - t0, "decode_s": t3 - t2,
                        "decode_steps": steps, "shapes": shapes}
    host = _get({"tokens": state.tokens, "logp": state.logp, "model_logp": state.model_logp,
                 "length": state.length})
    n, m = len(prompts), int(caps.max())
    out = requests.make_output(host["tokens"][:n, :m], host["logp"][:n, :m],
                               host["model_logp"][:n, :m], host["length"][:n], stop)
    self.last_timing["utilisation"] = (float(out.lengths.sum()) / (shapes.batch * steps)
                                       if steps else 0.0)
    return out


class CallInputs(NamedTuple):
  """A call's validated inputs. prompts: N token lists; caps: [N] max new tokens; strategy:
  the static filters; stop: sorted stop ids; uniq / src: the distinct prompts and each row's
  index into them; key: the root PRNG key; scalars: (temperature, top_k, top_p) on the
  devices; stop_arr: the stop ids padded with -1 to a power-of-two length (>= 4)."""
  prompts: list
  caps: np.ndarray
  strategy: strategies.Strategy
  stop: list
  uniq: list
  src: np.ndarray
  key: Any
  scalars: tuple
  stop_arr: np.ndarray


def _put(a, sharding):
  """Host value -> array on `sharding` (shard by shard across processes on multi-host)."""
  if jax.process_count() == 1:
    return jax.device_put(a, sharding)
  return parallel.put(a, sharding)


def _get(tree):
  """Device arrays -> host numpy; gathers batch-sharded arrays across processes."""
  if jax.process_count() == 1:
    return jax.device_get(tree)
  from jax.experimental import multihost_utils
  return jax.tree.map(
      lambda x: np.asarray(x) if x.is_fully_addressable or x.is_fully_replicated
      else np.asarray(multihost_utils.process_allgather(x, tiled=True)), tree)


@functools.lru_cache(maxsize=8)
def _sampler_for(cfg: ModelConfig, mesh, dtype: str, settings=None) -> Sampler:
  """One Sampler (and so one set of compiled programs) per (architecture, mesh, dtype,
  engine settings: a `sampling.config.EngineConfig` or None for the defaults)."""
  return Sampler(cfg, mesh, dtype=dtype, **(settings.sampler_kwargs() if settings else {}))


def generate(model, prompts: Sequence[Sequence[int]], *, max_new_tokens: int,
             temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
             seed: int | jax.Array = 0, stop_ids: Sequence[int] | None = None,
             engine: str | None = None, settings=None) -> SampleOutput:
  """Samples from a loaded `spice_jax.models.Model`.

  Convenience over `Sampler` (which takes params explicitly). `stop_ids` defaults to
  `model.stop_ids`; pass () to never stop early. Compiled programs are reused across calls
  with the same config, mesh, compute dtype and `settings` (an `EngineConfig`, None = the
  defaults). `engine` overrides the engine for this call.
  """
  sampler = _sampler_for(model.config, model.mesh, model.dtype, settings)
  stop = model.stop_ids if stop_ids is None else tuple(stop_ids)
  return sampler(model.params, prompts, max_new_tokens=max_new_tokens,
                 temperature=temperature, top_k=top_k, top_p=top_p, seed=seed, stop_ids=stop,
                 engine=engine)
