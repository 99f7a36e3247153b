"""Batched autoregressive sampling: one jitted prefill, one jitted `lax.while_loop` decode.

Layout of a call with N prompts:
  * rows are padded to a batch bucket B (a multiple of the batch shards, times a power of
    two) and prompts are left-padded to a power-of-two length bucket P (capped at
    max_prompt_len rounded up to 64), so a long run only compiles a few programs;
    `max_new_tokens` is bucketed the same way (Nb);
  * identical prompts are prefilled once (SPICE samples G Challenger outputs per document
    and K Reasoner answers per question, all from one prompt) and their cache rows copied;
  * prefill writes the prompts' k/v into a preallocated cache and draws each row's first
    token from the last prompt position;
  * decode (the cache and state are donated) feeds one token per step at slot P + i - 1,
    RoPE position slot - pad_len, until every row has produced a stop token or
    `max_new_tokens` tokens: a `lax.while_loop` (no host round trip inside) per phase of a
    cache grown P + Nb/4 -> P + Nb/2 -> P + Nb slots (`Sampler.phases`), so the attention
    read per step follows the output length.
Pad slots are masked out of attention (kv_mask false), dummy rows start finished. The
model maths is `forward.py` (an inference layout of `spice_jax.models.Transformer`).

Random numbers: row r at step i uses uniform(fold_in(fold_in(key, r), i)), so a row's
draws do not depend on the batch bucket, the other rows or the mesh.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from typing import Any, Sequence

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from jax.sharding import NamedSharding

from spice_jax import parallel
from spice_jax.models.config import ModelConfig
from spice_jax.sampling import engine as engine_lib
from spice_jax.sampling import forward, requests, strategies
from spice_jax.sampling.requests import PromptError, SampleOutput  # noqa: F401 (public API)

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
PAD = 0  # token id written after a row has finished, and into left padding
ENGINES = ("static", "continuous")
DEFAULT_ENGINE = "continuous"


@flax.struct.dataclass
class DecodeState:
  """Per-call decode state (all device arrays, batch-sharded).

  step: scalar int32, index of the next token to produce.
  tokens: [B, Nb] int32; logp, model_logp: [B, Nb] f32.
  last: [B] int32, last produced token (the next input).
  done: [B] bool; length: [B] int32.
  """
  step: jax.Array
  tokens: jax.Array
  logp: jax.Array
  model_logp: jax.Array
  last: jax.Array
  done: jax.Array
  length: jax.Array


@flax.struct.dataclass
class Controls:
  """Traced per-call inputs that do not change the program.

  pad_len: [B] int32 left padding per row; row_keys: [B] PRNG keys;
  max_new: [B] int32 per-row token caps (0 for dummy rows); temperature, top_p: scalar f32; top_k: scalar int32;
  stop_ids: [n_stop] int32 (-1 fill).
  """
  pad_len: jax.Array
  row_keys: jax.Array
  max_new: jax.Array
  temperature: jax.Array
  top_k: jax.Array
  top_p: jax.Array
  stop_ids: jax.Array


def _pow2_at_least(n: int, minimum: int = 1) -> int:
  return max(minimum, 1 << max(0, (int(n) - 1).bit_length()))


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
    engine: "continuous" (slots over a paged KV cache, `engine.ContinuousEngine`) or
      "static" (one padded batch per call). Both give the same tokens for the same seed.
    decode_slots, window, page_size, kv_pages, prefill_chunk, prefill_rows: continuous
      engine settings (slots, decode steps per device loop, tokens per KV page, pool pages
      (None = enough for every slot), prompt tokens per prefill chunk, prompts per chunk).
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
               page_size: int = 16, kv_pages: int | None = None, prefill_chunk: int = 256,
               prefill_rows: int = 8):
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
    self.engine = engine
    self._continuous = engine_lib.ContinuousEngine(
        self, slots=decode_slots, window=window, page_size=page_size, kv_pages=kv_pages,
        prefill_chunk=prefill_chunk, prefill_rows=prefill_rows)
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
    return self._batch_shards * _pow2_at_least(-(-n // self._batch_shards))

  def shapes_for(self, prompts: Sequence[Sequence[int]], max_new_tokens: int,
                 n_stop: int, n_unique: int | None = None) -> Shapes:
    """The bucket a call with these prompts lands in (n_unique: distinct prompts)."""
    b = self._rows_bucket(len(prompts))
    u = self._rows_bucket(n_unique) if n_unique is not None else b
    longest = max(len(p) for p in prompts)
    p = min(_pow2_at_least(longest, self.min_prompt_bucket), self._prompt_cap)
    return Shapes(batch=b, prompt=p, new=_pow2_at_least(max_new_tokens, self.min_new_bucket),
                  n_stop=_pow2_at_least(max(n_stop, 1), 4), unique=u if u < b else 0)

  def _batch_spec(self, shape, rest=None) -> NamedSharding:
    names = ("batch",) + tuple(rest or (None,) * (len(shape) - 1))
    return NamedSharding(self.mesh, parallel.spec_for(names, shape, self.mesh))

  def _cache_shardings(self, B: int, S: int) -> list[dict[str, NamedSharding]]:
    shapes = forward.cache_shapes(self.cfg, B, S)
    one = {n: NamedSharding(self.mesh, parallel.spec_for(forward.CACHE_AXES[n], shp, self.mesh))
           for n, shp in shapes.items()}
    return [one] * self.cfg.n_layers

  # ------------------------------------------------------------------ device programs

  def _prefill_group(self, U: int, P: int) -> int:
    """Rows prefilled together. On an unsharded batch, groups of ~`prefill_tokens` tokens
    run one after another: activation memory stays bounded for long prompts, and on CPU
    it used ~10% less CPU time than one 16k-token batch. With a sharded batch all rows go
    at once (a map over a sharded axis would gather it)."""
    if self._batch_shards > 1 or not self.prefill_tokens:
      return U
    R = max(1, self.prefill_tokens // P)
    while U % R:
      R //= 2
    return min(R, U)

  def _uniforms(self, row_keys, step):
    return jax.vmap(lambda k: jax.random.uniform(jax.random.fold_in(k, step)))(row_keys)

  def _prefill(self, params, tokens, pad_u, src, ctl: Controls, *, shapes: Shapes,
               strategy: strategies.Strategy):
    """Prefills the U distinct prompts and draws every row's first token.

    tokens: [U, P] int32 left-padded distinct prompts; pad_u: [U] their padding; src: [B]
    int32 the prompt of each row (identity when shapes.unique == 0, then U = B).
    Returns (cache [B rows, first-phase slots], DecodeState).
    """
    U, P = tokens.shape
    B = shapes.batch
    S = self.phases(shapes)[0][1]
    w = forward.prepare(params, self.cfg, DTYPES[self.dtype])
    slots = jnp.arange(P, dtype=jnp.int32)
    positions = jnp.maximum(slots[None, :] - pad_u[:, None], 0)
    kv_mask = jnp.arange(S, dtype=jnp.int32)[None, :] >= pad_u[:, None]
    R = self._prefill_group(U, P)

    def run(tokens, positions, kv_mask):
      n = tokens.shape[0]
      cache = forward.init_cache(self.cfg, n, S, DTYPES[self.cache_dtype])
      cache = jax.lax.with_sharding_constraint(cache, self._cache_shardings(n, S))
      hidden, cache = forward.forward(w, self.cfg, tokens, positions, cache, 0, kv_mask,
                                      prefill=True, row_map=self._batch_shards == 1)
      return hidden[:, -1], cache  # [n, D]

    if R == U:
      hidden, cache = run(tokens, positions, kv_mask)
    else:  # groups of R rows one after another: activations stay cache-sized
      group = lambda x: x.reshape((U // R, R) + x.shape[1:])
      hidden, cache = jax.lax.map(lambda a: run(*a), (group(tokens), group(positions),
                                                      group(kv_mask)))
      hidden = hidden.reshape(U, -1)
      cache = jax.tree.map(lambda c: c.reshape((U,) + c.shape[2:]), cache)
    if shapes.unique:  # rows sharing a prompt share its prefill: copy cache rows
      cache = jax.tree.map(lambda c: jnp.take(c, src, axis=0), cache)
      hidden = jnp.take(hidden, src, axis=0)
    cache = jax.lax.with_sharding_constraint(cache, self._cache_shardings(B, S))
    logits = forward.logits(w, hidden)
    tok, lp, mlp = strategies.sample(logits, self._uniforms(ctl.row_keys, 0), ctl.temperature,
                                     ctl.top_k, ctl.top_p, strategy)
    live = ctl.pad_len < P  # dummy rows are all padding
    tok = jnp.where(live, tok, PAD)
    capped = ctl.max_new <= 1
    zeros_i = jnp.zeros((B, shapes.new), jnp.int32)
    zeros_f = jnp.zeros((B, shapes.new), jnp.float32)
    state = DecodeState(
        step=jnp.int32(1),
        tokens=zeros_i.at[:, 0].set(tok),
        logp=zeros_f.at[:, 0].set(jnp.where(live, lp, 0.0)),
        model_logp=zeros_f.at[:, 0].set(jnp.where(live, mlp, 0.0)),
        last=tok,
        done=~live | capped | jnp.isin(tok, ctl.stop_ids),
        length=live.astype(jnp.int32))
    return cache, state

  def phases(self, shapes: Shapes) -> list[tuple[int, int]]:
    """Decode phases: (end step, cache slots). Phase j produces tokens up to its end step
    with a cache of P + end slots, so attention (which reads the whole cache every step,
    the largest cost of a CPU decode step) grows with the output instead of always
    covering P + Nb. The cache is padded to the next size between phases (one copy)."""
    Nb, P = shapes.new, shapes.prompt
    n = self.decode_phases if Nb >= 64 else 1
    ends = [Nb >> (n - 1 - j) for j in range(n)]
    return [(e, P + e) for e in ends]

  def _decode(self, params, cache, state: DecodeState, ctl: Controls, *, shapes: Shapes,
              strategy: strategies.Strategy):
    """Runs the decode while_loop(s) until all rows are done or max_new tokens were made."""
    P = shapes.prompt
    w = forward.prepare(params, self.cfg, DTYPES[self.dtype])

    def cond_for(end):
      def cond(carry):
        _, st = carry
        return (st.step < jnp.minimum(jnp.max(ctl.max_new), end)) & ~jnp.all(st.done)
      return cond

    def body_for(kv_mask):
      def body(carry):
        cache, st = carry
        slot = P + st.step - 1
        pos = (slot - ctl.pad_len)[:, None]
        hidden, cache = forward.forward(w, self.cfg, st.last[:, None], pos, cache, slot,
                                        kv_mask, prefill=False)
        logits = forward.logits(w, hidden[:, 0])
        tok, lp, mlp = strategies.sample(logits, self._uniforms(ctl.row_keys, st.step),
                                         ctl.temperature, ctl.top_k, ctl.top_p, strategy)
        active = ~st.done
        tok = jnp.where(active, tok, PAD)
        put = lambda buf, val: jax.lax.dynamic_update_slice_in_dim(buf, val[:, None], st.step,
                                                                   1)
        st = DecodeState(
            step=st.step + 1,
            tokens=put(st.tokens, tok),
            logp=put(st.logp, jnp.where(active, lp, 0.0)),
            model_logp=put(st.model_logp, jnp.where(active, mlp, 0.0)),
            last=tok,
            done=st.done | (active & (jnp.isin(tok, ctl.stop_ids)
                                      | (st.length + 1 >= ctl.max_new))),
            length=st.length + active.astype(jnp.int32))
        return cache, st
      return body

    carry = (cache, state)
    for end, S in self.phases(shapes):
      cache, st = carry
      have = cache[0]["v"].shape[2]
      if S > have:
        grow = lambda c, axis: jnp.pad(c, [(0, S - have) if a == axis else (0, 0)
                                           for a in range(c.ndim)])
        cache = jax.lax.with_sharding_constraint(
            [{"k": grow(c["k"], 3), "v": grow(c["v"], 2)} for c in cache],
            self._cache_shardings(shapes.batch, S))
      kv_mask = jnp.arange(S, dtype=jnp.int32)[None, :] >= ctl.pad_len[:, None]  # [B, S]
      carry = jax.lax.while_loop(cond_for(end), body_for(kv_mask), (cache, st))
    # The cache is returned (and dropped by the caller): with one phase its donated buffer
    # aliases this output and the loop updates it in place.
    return carry

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
    fn = self._prefill if kind == "prefill" else self._decode
    fn = functools.partial(fn, shapes=shapes, strategy=strategy)
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
               engine: str | None = None) -> SampleOutput:
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
      engine: override the sampler's engine for this call ("static" / "continuous").

    Returns:
      SampleOutput with N rows in input order, max(max_new_tokens) columns.
    """
    engine = engine or self.engine
    if engine not in ENGINES:
      raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    prompts = requests.validate_prompts(prompts, self.cfg.vocab_size, self.max_prompt_len)
    caps = requests.validate_caps(max_new_tokens, len(prompts))
    strategy = strategies.Strategy.make(float(temperature), int(top_k), float(top_p),
                                        self.cfg.vocab_size)
    stop = sorted({int(s) for s in stop_ids})
    uniq, src = requests.group_prompts(prompts)
    key = requests.root_key(seed)
    rep = parallel.replicated(self.mesh)
    scalars = (_put(np.float32(temperature if temperature > 0 else 1.0), rep),
               _put(np.int32(top_k), rep), _put(np.float32(top_p), rep))
    stop_arr = np.full((_pow2_at_least(max(len(stop), 1), 4),), -1, np.int32)
    stop_arr[:len(stop)] = stop
    if engine == "continuous":
      keys = np.asarray(jax.random.key_data(requests.row_keys(key, len(prompts))))
      t0 = time.perf_counter()
      out = self._continuous.run(params, uniq, src, caps, strategy, scalars, stop_arr, keys)
      self.last_timing = {"engine": "continuous", "total_s": time.perf_counter() - t0,
                          **self._continuous.last_stats}
      return requests.make_output(*out, stop)
    return self._static(params, prompts, uniq, src, caps, strategy, scalars, stop_arr, key,
                        stop)

  def _static(self, params, prompts, uniq, src, caps, strategy, scalars, stop_arr, key, stop):
    """The static path: one padded batch, prefill then the decode while_loop(s)."""
    shapes = self.shapes_for(prompts, int(caps.max()), len(stop), len(uniq))
    B = shapes.batch
    tokens, pad_len = self.prepare(prompts, shapes.batch, shapes.prompt)
    if shapes.unique:
      tokens_u, pad_u = self.prepare(uniq, shapes.unique, shapes.prompt)
      src_b = np.zeros((B,), np.int32)
      src_b[:len(prompts)] = src
    else:
      tokens_u, pad_u, src_b = tokens, pad_len, np.arange(B, dtype=np.int32)
    keys = requests.row_keys(key, B)
    bs = lambda a: _put(a, self._batch_spec(np.shape(a)))
    if jax.process_count() > 1:  # multi-controller: place host values shard by shard
      keys = jax.random.wrap_key_data(
          _put(np.asarray(jax.random.key_data(keys)), self._batch_spec(keys.shape)))
    else:
      keys = jax.device_put(keys, self._batch_spec(keys.shape))
    caps_b = np.zeros((B,), np.int32)
    caps_b[:len(prompts)] = caps
    ctl = Controls(pad_len=bs(pad_len), row_keys=keys, max_new=bs(caps_b),
                   temperature=scalars[0], top_k=scalars[1], top_p=scalars[2],
                   stop_ids=_put(stop_arr, parallel.replicated(self.mesh)))
    pre_args = (params, bs(tokens_u), bs(pad_u), bs(src_b), ctl)
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
    self.last_timing["utilisation"] = float(out.lengths.sum()) / (B * steps) if steps else 0.0
    return out


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
def _sampler_for(cfg: ModelConfig, mesh, dtype: str) -> Sampler:
  """One Sampler (and so one set of compiled programs) per (architecture, mesh, dtype)."""
  return Sampler(cfg, mesh, dtype=dtype)


def generate(model, prompts: Sequence[Sequence[int]], *, max_new_tokens: int,
             temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
             seed: int | jax.Array = 0, stop_ids: Sequence[int] | None = None,
             engine: str | None = None) -> SampleOutput:
  """Samples from a loaded `spice_jax.models.Model`.

  Convenience over `Sampler` (which takes params explicitly). `stop_ids` defaults to
  `model.stop_ids`; pass () to never stop early. Compiled programs are reused across calls
  with the same config, mesh and compute dtype. `engine` overrides the default engine.
  """
  sampler = _sampler_for(model.config, model.mesh, model.dtype)
  stop = model.stop_ids if stop_ids is None else tuple(stop_ids)
  return sampler(model.params, prompts, max_new_tokens=max_new_tokens,
                 temperature=temperature, top_k=top_k, top_p=top_p, seed=seed, stop_ids=stop,
                 engine=engine)
