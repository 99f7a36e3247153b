"""Which path runs a call of the default engine ("auto"): static or continuous.

Both paths give the same tokens for the same seed (row-keyed random numbers), so the choice
is speed and memory alone, and it is made from what is known when the call starts: the
prompts, the caps, the stop ids (or hidden stops), follow-ups, the slots and the pool.
Never from the rows' true lengths.

The static path wins when it does no wasted work: every row's length is known now (no stop
ids, no hidden stops: each row runs exactly to its cap), there are no follow-ups, all rows
fit in the decode slots at once, and its padding (prompts left-padded to one bucket, rows
padded to a batch bucket, every row decoded to the longest cap) adds at most
`STATIC_SLACK` over the work the engine would do. There one dense batch beats the paged
engine (no page tables, one prefill, no host round trip per window: benchmarks/README.md,
2026-12-07). Everywhere else (rows that may stop early, more rows than slots, mixed caps,
follow-ups) rows leave at different times and the continuous engine's refilled slots win.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

# Padded static work over the engine's work that the static path may still take. The paged
# engine's decode step costs more per token than the static path's dense one (measured on
# the uniform workload of benchmarks/sampler.py), so a little padding is still cheaper.
STATIC_SLACK = 1.25


@dataclasses.dataclass(frozen=True)
class Choice:
  """engine: "static" | "continuous"; reason: why (recorded in the sampler's stats)."""
  engine: str
  reason: str


def engine_for(unique_lens: Sequence[int], caps: Sequence[int],
               *, stops: bool, follow_ups: bool, slots: int, batch_bucket: int,
               unique_bucket: int, prompt_bucket: int, static_kv_tokens: int,
               pool_tokens: int | None) -> Choice:
  """The path of one "auto" call.

  caps: per row; unique_lens: per distinct prompt; stops: rows may end before
  their caps (stop ids or hidden stops); follow_ups: an `on_finish` may queue rows;
  slots: the engine's decode slots; batch_bucket, unique_bucket, prompt_bucket: the static
  path's padded rows, prefilled rows and prompt slots for this call; static_kv_tokens: its
  KV cache (rows x slots); pool_tokens: the engine's fixed pool (None: sized per call).
  """
  if follow_ups:
    return Choice("continuous", "follow-ups")
  if stops:
    return Choice("continuous", "rows may stop early")
  if len(caps) > slots:
    return Choice("continuous", f"{len(caps)} rows > {slots} slots")
  if pool_tokens is not None and static_kv_tokens > pool_tokens:
    return Choice("continuous", "static cache exceeds the kv pool")
  longest = max(caps)
  static = unique_bucket * prompt_bucket + batch_bucket * longest
  engine = sum(unique_lens) + sum(caps)
  if static > STATIC_SLACK * engine:
    return Choice("continuous", f"static padding {static / engine:.2f}x")
  return Choice("static", "every row runs to its cap in one batch")
