"""Token selection from next-token logits: greedy, temperature, top-k, top-p (nucleus).

All strategies compose in the order `transformers` uses: divide by the temperature, keep the
top-k logits, keep the nucleus of mass top-p, renormalise, draw. Drawing is by inverse CDF
with one uniform per row (exact in distribution, and on CPU far cheaper than Gumbel noise
over the whole vocabulary). Without top-k/top-p the CDF is searched in two levels (block sums,
then one block) so no full-vocabulary cumsum or sort is needed. Top-k takes `lax.top_k` of a
power-of-two cap >= k (static; k itself is traced), and top-p then works on those sorted
candidates. Top-p alone never sorts the vocabulary (a full sort is the slow path on CPU; see
benchmarks/README.md): its threshold is found by an exact 32-step bisection on the float
bit ordering, each step one fused compare-and-reduce over the vocabulary.

Which filters run is static (`Strategy`, hashable, a jit static argument); the temperature,
top-k and top-p values are traced scalars so changing them does not recompile (top-k only
recompiles when k crosses a power of two). Greedy decoding is temperature 0 of the program
without filters: greedy, temperature-1 and other-temperature calls share one program (every
program is a compile per model, row bucket and table width; minutes each on a pod); the
program picks its branch on the device (`lax.switch`), so each temperature runs only its own
work.

Shapes: B rows, V vocabulary, k = top_k.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

# Block width of the two-level inverse-CDF search over an unsorted vocabulary.
_BLOCK = 256


@dataclasses.dataclass(frozen=True)
class Strategy:
  """Static description of the token-selection program: which filters run.

  Attributes:
    top_k: 0 = no top-k; else a power-of-two cap > k, at least 16, at most the vocabulary
      (k itself is a traced argument).
    top_p: apply nucleus filtering (its mass is a traced argument).
  Without a filter the program serves every temperature, 0 (greedy) included.
  """
  top_k: int = 0
  top_p: bool = False

  @classmethod
  def make(cls, temperature: float, top_k: int = 0, top_p: float = 1.0,
           vocab_size: int | None = None) -> "Strategy":
    """Builds the static strategy from user-facing values, validating them."""
    if not temperature >= 0:
      raise ValueError(f"temperature must be >= 0, got {temperature!r}")
    if not isinstance(top_k, int) or top_k < 0:
      raise ValueError(f"top_k must be an int >= 0 (0 = off), got {top_k!r}")
    if not 0.0 < top_p <= 1.0:
      raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")
    if temperature == 0:
      return cls()  # greedy: argmax, filters change nothing
    if vocab_size is not None and top_k >= vocab_size:
      top_k = 0  # keeping the whole vocabulary is no filter
    # Room past k for ties at the boundary; a few dozen candidates cost no more than one.
    cap = max(16, 1 << top_k.bit_length()) if top_k else 0
    if vocab_size is not None:
      cap = min(cap, vocab_size)
    return cls(top_k=cap, top_p=top_p < 1.0)


def _pick_sorted(probs: jax.Array, u: jax.Array) -> jax.Array:
  """Inverse CDF over small/sorted rows. probs: [B, n] >= 0 (unnormalised); u: [B] in [0, 1).

  Returns the index [B] int32 of the first entry whose cumulative mass exceeds u * total,
  never an entry of zero mass.
  """
  cdf = jnp.cumsum(probs, axis=-1)
  target = u * cdf[:, -1]
  idx = jnp.sum(cdf <= target[:, None], axis=-1).astype(jnp.int32)
  # Rounding can put the target at/after the last positive entry: clamp to it.
  n = probs.shape[-1]
  last = n - 1 - jnp.argmax((probs > 0)[:, ::-1], axis=-1).astype(jnp.int32)
  return jnp.minimum(idx, last)


def _pick_unsorted(probs: jax.Array, u: jax.Array) -> jax.Array:
  """Two-level inverse CDF over a full vocabulary. probs: [B, V] >= 0; u: [B] -> [B] int32."""
  B, V = probs.shape
  nb = -(-V // _BLOCK)
  if nb <= 2:
    return _pick_sorted(probs, u)
  pad = nb * _BLOCK - V
  if pad:
    probs = jnp.pad(probs, ((0, 0), (0, pad)))
  blocks = probs.reshape(B, nb, _BLOCK)
  mass = jnp.sum(blocks, axis=-1)  # [B, nb]
  cum = jnp.cumsum(mass, axis=-1)
  target = u * cum[:, -1]
  j = jnp.sum(cum <= target[:, None], axis=-1).astype(jnp.int32)
  last_block = nb - 1 - jnp.argmax((mass > 0)[:, ::-1], axis=-1).astype(jnp.int32)
  j = jnp.minimum(j, last_block)
  before = jnp.take_along_axis(cum - mass, j[:, None], axis=-1)[:, 0]
  inner = jnp.take_along_axis(blocks, j[:, None, None], axis=1)[:, 0]  # [B, _BLOCK]
  # The residual is relative to the block start; u' = residual / block mass in [0, 1).
  block_mass = jnp.take_along_axis(mass, j[:, None], axis=-1)[:, 0]
  u_inner = jnp.clip((target - before) / block_mass, 0.0, 1.0)
  i = _pick_sorted(inner, u_inner)
  return j * _BLOCK + i


def _log_softmax_at(logits: jax.Array, tokens: jax.Array) -> jax.Array:
  """log softmax(logits)[tokens]. logits: [B, n]; tokens: [B] -> [B] f32."""
  m = jnp.max(logits, axis=-1)
  lse = m + jnp.log(jnp.sum(jnp.exp(logits - m[:, None]), axis=-1))
  return jnp.take_along_axis(logits, tokens[:, None], axis=-1)[:, 0] - lse


def _ordered_key(x: jax.Array) -> jax.Array:
  """float32 -> uint32 with the same order (finite values; -0.0 sorts just below +0.0)."""
  i = jax.lax.bitcast_convert_type(x.astype(jnp.float32), jnp.int32)
  i = jnp.where(i < 0, i ^ jnp.int32(0x7FFFFFFF), i)
  return jax.lax.bitcast_convert_type(i, jnp.uint32) ^ jnp.uint32(0x80000000)


def _largest_true(pred, lo: jax.Array, hi: jax.Array, iters: int = 32) -> jax.Array:
  """Bisection over uint32 [B]: the largest t in [lo, hi) with pred(t) true, given pred(lo)
  true, pred(hi) false and pred monotone (true then false). Exact after 32 halvings."""
  def body(_, lh):
    lo, hi = lh
    mid = lo + (hi - lo) // jnp.uint32(2)
    ok = pred(mid)
    return jnp.where(ok, mid, lo), jnp.where(ok, hi, mid)
  lo, _ = jax.lax.fori_loop(0, iters, body, (lo, hi))
  return lo


def _nucleus_sorted(probs: jax.Array, top_p: jax.Array) -> jax.Array:
  """Nucleus of descending-sorted probs [B, n] (unnormalised): entries whose preceding mass
  is below top_p of the total (the smallest prefix reaching top_p; entry 0 always)."""
  cdf = jnp.cumsum(probs, axis=-1)
  return (cdf - probs) < top_p * cdf[:, -1:]


def top_p_mask(probs: jax.Array, top_p: jax.Array) -> jax.Array:
  """[B, V] bool: the nucleus, the smallest set of most likely entries whose mass is at least
  top_p of the row's total (ties at the boundary all kept). probs: [B, V] >= 0, unnormalised.

  Found as {p >= t*}, t* the largest threshold whose upper set has that mass (bisection on
  the float ordering, no sort)."""
  key = _ordered_key(probs)
  need = top_p * jnp.sum(probs, axis=-1)
  pred = lambda t: jnp.sum(jnp.where(key >= t[:, None], probs, 0.0), axis=-1) >= need
  B = probs.shape[0]
  lo = jnp.full((B,), _ordered_key(jnp.float32(0.0)), jnp.uint32)
  hi = jnp.max(key, axis=-1) + jnp.uint32(1)
  t = _largest_true(pred, lo, hi)
  return key >= t[:, None]


def sample(logits: jax.Array, u: jax.Array, temperature: jax.Array, top_k: jax.Array,
           top_p: jax.Array, strategy: Strategy) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Draws one token per row.

  Args:
    logits: [B, V] f32 model logits.
    u: [B] f32 uniforms in [0, 1) (ignored when greedy).
    temperature: scalar f32 >= 0; 0 = greedy (only for the strategy without filters).
    top_k: scalar int32 in [1, strategy.top_k] (used only when `strategy.top_k`).
    top_p: scalar f32 in (0, 1] (used only when `strategy.top_p`).
    strategy: static filters.

  Returns:
    tokens [B] int32; logp [B] f32, the log-prob of each token under the distribution it was
    drawn from (after temperature/top-k/top-p; 0 for greedy, a point mass); model_logp [B]
    f32, its log-prob under the unmodified model (temperature 1, no filtering).
  """
  logits = logits.astype(jnp.float32)
  if strategy.top_k:
    scaled = logits / temperature
    vals, ids = jax.lax.top_k(scaled, strategy.top_k)  # [B, cap], descending
    k = jnp.clip(jnp.asarray(top_k, jnp.int32), 1, strategy.top_k)
    # The k-th value as a reduction: XLA:CPU turns a slice/index of top_k's values into a
    # full-vocabulary sort.
    first_k = jnp.arange(strategy.top_k)[None, :] < k
    kth = jnp.min(jnp.where(first_k, vals, jnp.inf), axis=-1, keepdims=True)  # [B, 1]
    top = jnp.max(vals, axis=-1, keepdims=True)
    # Ties with the k-th value are kept (as in transformers) as far as the cap reaches.
    probs = jnp.where(vals >= kth, jnp.exp(vals - top), 0.0)
    if strategy.top_p:
      probs = jnp.where(_nucleus_sorted(probs, top_p), probs, 0.0)
    pos = _pick_sorted(probs, u)
    tok = jnp.take_along_axis(ids, pos[:, None], axis=-1)[:, 0].astype(jnp.int32)
    logp = jnp.log(jnp.take_along_axis(probs, pos[:, None], axis=-1)[:, 0]) - jnp.log(
        jnp.sum(probs, axis=-1))
    return tok, logp, _log_softmax_at(logits, tok)

  if strategy.top_p:
    scaled = logits / temperature
    probs = jnp.exp(scaled - jnp.max(scaled, axis=-1, keepdims=True))
    probs = jnp.where(top_p_mask(probs, top_p), probs, 0.0)
    tok = _pick_unsorted(probs, u)
    logp = jnp.log(jnp.take_along_axis(probs, tok[:, None], axis=-1)[:, 0]) - jnp.log(
        jnp.sum(probs, axis=-1))
    return tok, logp, _log_softmax_at(logits, tok)

  # No filter: greedy (temperature 0), the model's distribution (temperature 1) or another
  # temperature, chosen on the device (`lax.switch` runs one branch).
  branch = jnp.where(temperature <= 0, 0, jnp.where(temperature == 1.0, 1, 2))
  return jax.lax.switch(branch, (_greedy, _unit_temperature, _temperature), logits, u,
                        temperature)


def _greedy(logits, u, temperature):
  del u, temperature
  tok = jnp.argmax(logits, axis=-1).astype(jnp.int32)
  return tok, jnp.zeros(tok.shape, jnp.float32), _log_softmax_at(logits, tok)


def _unit_temperature(logits, u, temperature):
  """Temperature 1: the sampling distribution is the model's; one softmax serves both."""
  del temperature
  tok, logp = _draw(logits, u)
  return tok, logp, logp


def _temperature(logits, u, temperature):
  tok, logp = _draw(logits / temperature, u)
  return tok, logp, _log_softmax_at(logits, tok)


def _draw(scaled, u):
  """One token per row from softmax(scaled) [B, V], and its log-prob there."""
  m = jnp.max(scaled, axis=-1, keepdims=True)
  probs = jnp.exp(scaled - m)
  tok = _pick_unsorted(probs, u)
  logp = (jnp.take_along_axis(scaled, tok[:, None], axis=-1)[:, 0] - m[:, 0]
          - jnp.log(jnp.sum(probs, axis=-1)))
  return tok, logp
