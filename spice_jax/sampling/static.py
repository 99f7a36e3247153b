"""The static path's device programs: one padded batch, a prefill, then `lax.while_loop`
decode phases over a growing KV cache (see `sampler` for the layout of a call).

Functions take the owning `Sampler` (`s`) for its config, mesh, dtypes and shardings.
Shapes: B rows, U distinct prompts, P prompt slots, Nb new-token slots, S cache slots.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import flax.struct
import jax
import jax.numpy as jnp

from spice_jax.models import transformer as layers
from spice_jax.sampling import forward, strategies

if TYPE_CHECKING:
  from spice_jax.sampling.sampler import Shapes

PAD = 0


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



def prefill_group(s, U: int, P: int) -> int:
  """Rows prefilled together. On an unsharded batch, groups of ~`prefill_tokens` tokens
  run one after another: activation memory stays bounded for long prompts (and on CPU it
  cost less CPU time than one 16k-token batch). With a sharded batch all rows go
  at once (a map over a sharded axis would gather it)."""
  if s._batch_shards > 1 or not s.prefill_tokens:
    return U
  R = max(1, s.prefill_tokens // P)
  while U % R:
    R //= 2
  return min(R, U)

def uniforms(s, row_keys, step):
  return jax.vmap(lambda k: jax.random.uniform(jax.random.fold_in(k, step)))(row_keys)

def prefill(s, params, tokens, pad_u, src, ctl: Controls, *, shapes: Shapes,
             strategy: strategies.Strategy):
  """Prefills the U distinct prompts and draws every row's first token.

  tokens: [U, P] int32 left-padded distinct prompts; pad_u: [U] their padding; src: [B]
  int32 the prompt of each row (identity when shapes.unique == 0, then U = B).
  Returns (cache [B rows, first-phase slots], DecodeState).
  """
  U, P = tokens.shape
  B = shapes.batch
  S = phases(s, shapes)[0][1]
  w = forward.prepare(params, s.cfg, s._compute_dt)
  slots = jnp.arange(P, dtype=jnp.int32)
  positions = jnp.maximum(slots[None, :] - pad_u[:, None], 0)
  kv_mask = jnp.arange(S, dtype=jnp.int32)[None, :] >= pad_u[:, None]
  R = prefill_group(s, U, P)

  def run(tokens, positions, kv_mask):
    n = tokens.shape[0]
    cache = forward.init_cache(s.cfg, n, S, s._cache_dt)
    cache = jax.lax.with_sharding_constraint(cache, s._cache_shardings(n, S))
    hidden, cache = forward.forward(w, s.cfg, tokens, positions, cache, 0, kv_mask,
                                    prefill=True, row_map=s._batch_shards == 1)
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
  cache = jax.lax.with_sharding_constraint(cache, s._cache_shardings(B, S))
  logits = forward.logits(w, hidden)
  tok, lp, mlp = strategies.sample(logits, uniforms(s, ctl.row_keys, 0), ctl.temperature,
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

def phases(s, shapes: Shapes) -> list[tuple[int, int]]:
  """Decode phases: (end step, cache slots). Phase j produces tokens up to its end step
  with a cache of P + end slots, so attention (which reads the whole cache every step,
  the largest cost of a CPU decode step) grows with the output instead of always
  covering P + Nb. The cache is padded to the next size between phases (one copy)."""
  Nb, P = shapes.new, shapes.prompt
  n = s.decode_phases if Nb >= 64 else 1
  ends = [Nb >> (n - 1 - j) for j in range(n)]
  return [(e, P + e) for e in ends]

def decode(s, params, cache, state: DecodeState, ctl: Controls, *, shapes: Shapes,
            strategy: strategies.Strategy):
  """Runs the decode while_loop(s) until all rows are done or max_new tokens were made."""
  P = shapes.prompt
  w = forward.prepare(params, s.cfg, s._compute_dt)
  rope = layers.rope_table(s.cfg, P + shapes.new)  # once, outside the loops

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
      hidden, cache = forward.forward(w, s.cfg, st.last[:, None], pos, cache, slot,
                                      kv_mask, prefill=False, rope=rope)
      logits = forward.logits(w, hidden[:, 0])
      tok, lp, mlp = strategies.sample(logits, uniforms(s, ctl.row_keys, st.step),
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
  for end, S in phases(s, shapes):
    cache, st = carry
    have = cache[0]["v"].shape[2]
    if S > have:
      grow = lambda c, axis: jnp.pad(c, [(0, S - have) if a == axis else (0, 0)
                                         for a in range(c.ndim)])
      cache = jax.lax.with_sharding_constraint(
          [{"k": grow(c["k"], 3), "v": grow(c["v"], 2)} for c in cache],
          s._cache_shardings(shapes.batch, S))
    kv_mask = jnp.arange(S, dtype=jnp.int32)[None, :] >= ctl.pad_len[:, None]  # [B, S]
    carry = jax.lax.while_loop(cond_for(end), body_for(kv_mask), (cache, st))
  # The cache is returned (and dropped by the caller): with one phase its donated buffer
  # aliases this output and the loop updates it in place.
  return carry
