"""Trajectories -> micro-batches of one length bucket each, for `spice_jax.rl.update` (host).

The update takes one optimizer step per minibatch. `make_batch` decides which trajectories
form each minibatch and lays every minibatch out as micro-batches of rows of similar length,
so the update computes on (nearly) real tokens only instead of padding every row to the
longest row of the whole mixed batch (a short Reasoner row to a Challenger's document +
completion). The loss is the same: a minibatch's loss is a weighted sum over its rows divided
by its total weight, and the update accumulates the sums over the micro-batches exactly.

Minibatches: trajectories are shuffled (`shuffle_seed`), giving the order `order`; with
n = ceil(N / minibatch_size), position p of `order` goes to minibatch p % n (a random split
into n minibatches of ~minibatch_size rows, both roles mixed). Zero-weight trajectories keep
their place in this split but are left out of the arrays (they carry no gradient and leave
every loss term and metric), so a minibatch may have no micro-batch at all (no step).

Micro-batches: a minibatch's rows, sorted by length (longest first), are cut into chunks of
`micro_rows` rows; a chunk's length T is the bucket of its longest row (powers of two >=
`min_length`, optionally also 1.5 x powers of two, or `length_buckets`). Every micro-batch is [micro_rows, T], so the update
compiles once per length bucket. The last chunk of a minibatch is filled with padding rows
(weight 0, role -1, index -1).

Layout of one row (prompt p_0..p_{P-1}, completion c_0..c_{C-1}, sequence s = p + c of
length L = P + C):

  tokens[b, t]   = s[t]       inputs, right-padded with `pad_id` (t < T)
  targets[b, t]  = s[t + 1]   the token that position t predicts (pad where none)
  loss_mask[b,t] = 1.0 iff targets[b, t] is a completion token, i.e. t in [P-1, L-2]
  old_logprobs[b, P-1+i] = the sampler's log-prob of c_i (0 elsewhere): under the
                          distribution c_i was drawn from (temperature, top-k, top-p)

so a per-position log-prob `logp[b, t] = log softmax(logits[b, t])[targets[b, t]]` is
masked by `loss_mask` directly. T >= L - 1 (the last token of a sequence is only ever a
target, so it need not be an input). Keys of a micro-batch (all with the rows as leading
axis, so one sharding spec covers them): tokens, positions, targets [r, T] int32;
loss_mask, old_logprobs [r, T] f32; has_old_logprobs [r] bool; advantages, norm, weight
[r] f32; role, group_id, index, length [r] int32; temperature, top_p [r] f32, top_k [r]
int32: the row's sampling parameters (greedy rows: temperature 1; padding rows: 1, 0, 1), so
the update computes the log-probs of the distribution each row was sampled from (rl/loss.py).

`norm` is the Dr. GRPO constant divisor of the row's role (its max generation length);
`weight` scales the row's loss (set a trajectory's weight to 0 to give it no gradient, e.g.
Challenger rows in the fixed_challenger ablation). `role` is 0 for the Challenger, 1 for the
Reasoner, -1 for padding rows; `index` is the row's position in `trajs`; `length` = L - 1,
the input positions that carry a real token (0 for padding rows).
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import jax
import numpy as np

from spice_jax.errors import SpiceError

ROLES = ("challenger", "reasoner")
ROLE_IDS = {r: i for i, r in enumerate(ROLES)}
PAD_ROLE = -1


class BatchError(SpiceError, ValueError):
  pass


class EmptyBatchError(BatchError):
  """No trajectory with a positive weight: there is nothing to train on (skip the update)."""


@dataclasses.dataclass
class Trajectory:
  """One sampled sequence and its training signal.

  Attributes:
    prompt_tokens: the conditioning tokens (document/prompt; never trained on). Non-empty.
    completion_tokens: the sampled tokens (trained on), including the stop token if any.
    role: "challenger" or "reasoner".
    group_id: the advantage group (document for the Challenger, task for the Reasoner).
    advantage: scalar advantage of the whole completion.
    old_logprobs: optional sampler log-prob of each completion token (len == completion).
    norm: optional override of the role's constant loss divisor.
    weight: loss weight (1 normally; 0 = no gradient from this row).
    reward: the raw reward (kept for logging only).
    temperature, top_k, top_p: the sampling parameters the completion was drawn with
      (temperature 0 = greedy, trained and compared as temperature 1; top_k 0 and top_p 1 =
      off). `old_logprobs` are then the sampler's log-probs of that distribution (greedy:
      the model's own, `SampleOutput.model_logprobs`).
  """
  prompt_tokens: Sequence[int]
  completion_tokens: Sequence[int]
  role: str
  group_id: int = -1
  advantage: float = 0.0
  old_logprobs: Sequence[float] | None = None
  norm: float | None = None
  weight: float = 1.0
  reward: float = 0.0
  temperature: float = 1.0
  top_k: int = 0
  top_p: float = 1.0


@dataclasses.dataclass(frozen=True)
class Batch:
  """The update's input: micro-batches grouped by minibatch (see the module doc).

  Attributes:
    micro: the micro-batches, each a dict of arrays [r, T] / [r] (a pytree leaf set, so
      `parallel.put(batch, sharding)` places every array).
    minibatch: the minibatch of each micro-batch, non-decreasing.
    num_minibatches: n; a minibatch with no micro-batch (all weights 0) takes no step.
    order: trajectory indices in shuffled order (position p belongs to minibatch p % n).
  """
  micro: tuple[dict, ...]
  minibatch: tuple[int, ...]
  num_minibatches: int
  order: tuple[int, ...]


jax.tree_util.register_dataclass(Batch, data_fields=["micro"],
                                 meta_fields=["minibatch", "num_minibatches", "order"])


def bucket_length(n: int, length_buckets: Sequence[int] | None = None,
                  min_length: int = 16, geometric: bool = False) -> int:
  """Smallest allowed length >= n: from `length_buckets`, else the powers of two >=
  `min_length` (with `geometric` also 1.5 x those: 16, 24, 32, 48, 64, ...; a row then pads
  by < 1/3 instead of < 1/2, for up to twice as many compiled lengths)."""
  if length_buckets:
    for b in sorted(length_buckets):
      if b >= n:
        return int(b)
    raise BatchError(f"sequence needs {n} positions, longer than the largest length bucket "
                     f"{max(length_buckets)}")
  t = max(int(min_length), 1)
  while t < n:
    t *= 2
  if geometric and t % 4 == 0 and t * 3 // 4 >= max(n, min_length):
    return t * 3 // 4
  return t


def _check(trajs: Sequence[Trajectory], role_norms: Mapping[str, float]) -> list[float]:
  """Validates every trajectory; returns each one's loss divisor."""
  norms = []
  for i, tr in enumerate(trajs):
    if tr.role not in ROLE_IDS:
      raise BatchError(f"trajectory {i}: role {tr.role!r}, expected one of {ROLES}")
    if len(tr.prompt_tokens) == 0:
      raise BatchError(f"trajectory {i}: prompt_tokens is empty (need >= 1 token to predict "
                       "the first completion token)")
    if tr.old_logprobs is not None and len(tr.old_logprobs) != len(tr.completion_tokens):
      raise BatchError(f"trajectory {i}: old_logprobs has {len(tr.old_logprobs)} entries, "
                       f"completion_tokens has {len(tr.completion_tokens)}")
    if tr.norm is None and tr.role not in role_norms:
      raise BatchError(f"trajectory {i}: no norm and role_norms has no entry for role "
                       f"{tr.role!r}")
    if not (tr.temperature >= 0 and tr.top_k >= 0 and 0.0 < tr.top_p <= 1.0):
      raise BatchError(f"trajectory {i}: sampling parameters temperature={tr.temperature} "
                       f"(>= 0), top_k={tr.top_k} (>= 0), top_p={tr.top_p} (in (0, 1])")
    norm = tr.norm if tr.norm is not None else role_norms[tr.role]
    if not norm > 0:
      raise BatchError(f"trajectory {i}: norm must be > 0, got {norm}")
    norms.append(float(norm))
  return norms


def pad_rows(trajs: Sequence[Trajectory], rows: Sequence[int], norms: Sequence[float],
             r: int, T: int, pad_id: int = 0) -> dict[str, np.ndarray]:
  """Rows `rows` of `trajs` (with their divisors `norms`, indexed like trajs) as a [r, T]
  micro-batch (module doc); rows beyond len(rows) are padding rows."""
  tokens = np.full((r, T), pad_id, np.int32)
  targets = np.full((r, T), pad_id, np.int32)
  loss_mask = np.zeros((r, T), np.float32)
  old = np.zeros((r, T), np.float32)
  has_old = np.zeros((r,), bool)
  adv = np.zeros((r,), np.float32)
  norm = np.ones((r,), np.float32)
  weight = np.zeros((r,), np.float32)
  role = np.full((r,), PAD_ROLE, np.int32)
  gid = np.full((r,), -1, np.int32)
  index = np.full((r,), -1, np.int32)
  length = np.zeros((r,), np.int32)
  temperature = np.ones((r,), np.float32)
  top_k = np.zeros((r,), np.int32)
  top_p = np.ones((r,), np.float32)
  for b, i in enumerate(rows):
    tr = trajs[i]
    P = len(tr.prompt_tokens)
    seq = np.concatenate([np.asarray(tr.prompt_tokens, np.int64),
                          np.asarray(tr.completion_tokens, np.int64)])
    L = len(seq)
    if L - 1 > T:
      raise BatchError(f"trajectory {i}: {L} tokens do not fit length {T}")
    m = min(L, T)
    tokens[b, :m] = seq[:m]
    targets[b, :L - 1] = seq[1:]
    loss_mask[b, P - 1:L - 1] = 1.0
    if tr.old_logprobs is not None:
      old[b, P - 1:L - 1] = np.asarray(tr.old_logprobs, np.float32)
      has_old[b] = True
    adv[b], norm[b], weight[b] = tr.advantage, norms[i], tr.weight
    role[b], gid[b], index[b], length[b] = ROLE_IDS[tr.role], tr.group_id, i, L - 1
    temperature[b] = tr.temperature if tr.temperature > 0 else 1.0
    top_k[b], top_p[b] = (tr.top_k, tr.top_p) if tr.temperature > 0 else (0, 1.0)
  positions = np.broadcast_to(np.arange(T, dtype=np.int32), (r, T)).copy()
  return dict(tokens=tokens, positions=positions, targets=targets, loss_mask=loss_mask,
              old_logprobs=old, has_old_logprobs=has_old, advantages=adv, norm=norm,
              weight=weight, role=role, group_id=gid, index=index, length=length,
              temperature=temperature, top_k=top_k, top_p=top_p)


def make_batch(trajs: Sequence[Trajectory], *, minibatch_size: int, pad_id: int = 0,
               role_norms: Mapping[str, float] | None = None, row_multiple: int = 1,
               micro_rows: int | None = None, length_buckets: Sequence[int] | None = None,
               min_length: int = 16, geometric: bool = False,
               shuffle_seed: int | None = None) -> Batch:
  """Splits trajectories into minibatches and lays each out as length-bucketed micro-batches.

  Args:
    trajs: the trajectories (both roles mixed).
    minibatch_size: trajectories per optimizer step (the last minibatches may hold fewer).
    pad_id: token used for padding (never trained on).
    role_norms: per-role constant divisor, e.g. {"challenger": 4096, "reasoner": 4096};
      required for any role whose trajectories carry no `norm`.
    row_multiple: every micro-batch's row count is a multiple of this (the number of
      devices the batch rows are split over).
    micro_rows: rows per micro-batch (default `row_multiple`: one row per device); a
      multiple of row_multiple. Fewer rows pad less; more rows make fewer, larger calls.
    length_buckets: allowed T values (sorted); default powers of two >= `min_length`.
    geometric: without length_buckets, also allow 1.5 x powers of two (`bucket_length`).
    shuffle_seed: if set, trajectories are shuffled (numpy PCG64 with this seed) first.

  Returns:
    a `Batch` (module doc).

  Raises:
    EmptyBatchError: no trajectory has a positive weight (nothing to train on).
    BatchError: an invalid trajectory or argument (the message names it).
  """
  if minibatch_size < 1:
    raise BatchError(f"make_batch: minibatch_size must be >= 1, got {minibatch_size}")
  if row_multiple < 1:
    raise BatchError(f"make_batch: row_multiple must be >= 1, got {row_multiple}")
  micro_rows = row_multiple if micro_rows is None else micro_rows
  if micro_rows < 1 or micro_rows % row_multiple:
    raise BatchError(f"make_batch: micro_rows={micro_rows} must be a positive multiple of "
                     f"row_multiple={row_multiple}")
  norms = _check(trajs, dict(role_norms or {}))
  if not any(tr.weight > 0 for tr in trajs):
    raise EmptyBatchError(f"make_batch: none of the {len(trajs)} trajectories has a positive "
                          "weight; nothing to train on")
  N = len(trajs)
  order = np.arange(N)
  if shuffle_seed is not None:
    order = np.random.default_rng(shuffle_seed).permutation(N)
  n = -(-N // minibatch_size)
  need = [len(tr.prompt_tokens) + len(tr.completion_tokens) - 1 for tr in trajs]
  micro, minibatch = [], []
  for i in range(n):
    rows = [int(j) for j in order[i::n] if trajs[j].weight > 0]
    rows.sort(key=lambda j: -need[j])  # stable: ties keep the shuffled order
    for c in range(0, len(rows), micro_rows):
      chunk = rows[c:c + micro_rows]
      T = bucket_length(max(need[chunk[0]], 1), length_buckets, min_length, geometric)
      micro.append(pad_rows(trajs, chunk, norms, micro_rows, T, pad_id))
      minibatch.append(i)
  return Batch(micro=tuple(micro), minibatch=tuple(minibatch), num_minibatches=n,
               order=tuple(int(j) for j in order))


def batch_summary(batch: Batch) -> dict[str, float]:
  """Host-side counts for logging: rows (computed, incl. padding rows), real rows, positions
  computed, real positions (sum of L - 1), completion tokens, the fraction of computed
  positions that are padding, the longest micro-batch, micro-batch and minibatch counts."""
  rows = real = positions = real_pos = comp = longest = 0
  for m in batch.micro:
    r, T = np.shape(m["tokens"])
    rows, positions, longest = rows + r, positions + r * T, max(longest, T)
    real += int((np.asarray(m["role"]) != PAD_ROLE).sum())
    real_pos += int(np.asarray(m["length"]).sum())
    comp += float(np.asarray(m["loss_mask"]).sum())
  return dict(rows=float(rows), real_rows=float(real), positions=float(positions),
              real_positions=float(real_pos), completion_tokens=float(comp),
              completion_fraction=comp / max(positions, 1),
              padded_fraction=1.0 - real_pos / max(positions, 1), max_length=float(longest),
              micro_batches=float(len(batch.micro)), minibatches=float(batch.num_minibatches))
