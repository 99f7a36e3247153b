"""The sampling engine's settings as a config section (`config.engine`), validated here.

  eng = EngineConfig.from_config(config.engine)     # raises ConfigError naming engine.<field>
  sampler = Sampler(model_cfg, mesh, dtype=..., **eng.sampler_kwargs())

Fields (defaults = the engine's behaviour before it was configurable):
  engine: "auto" (per call, the static path where every row runs to its cap in one batch
    that fits the slots, else the continuous engine: `sampling.choose`) | "continuous"
    (decode slots over a paged KV cache) | "static" (one padded batch).
  slots: decode slots of the continuous engine (rows decoded at once).
  window: decode steps per device loop (rows enter and leave between windows).
  page_size: tokens per KV page.
  kv_pages: pages in the KV pool; 0 = sized by the engine: enough for every slot, but no
    more than `hbm_fraction` of a device's memory allows (where the device reports it).
  hbm_fraction: with kv_pages = 0, the fraction of a device's memory that what is resident
    when a call starts plus the pool may take (as vLLM's `gpu_memory_utilization`).
  kv_dtype: "auto" (bfloat16 on accelerators, float32 on CPU) | "float32" | "bfloat16".
  prefill_chunk: prompt tokens per prefill program (long prompts are spread over windows).
  prefill_rows: prompts per prefill program.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from spice_jax.utils import configs

ENGINES = ("auto", "continuous", "static")
KV_DTYPES = ("auto", "float32", "bfloat16")


@dataclasses.dataclass(frozen=True)
class EngineConfig:
  engine: str = "auto"
  slots: int = 64
  window: int = 16
  page_size: int = 32
  kv_pages: int = 0
  hbm_fraction: float = 0.9
  kv_dtype: str = "auto"
  prefill_chunk: int = 256
  prefill_rows: int = 8

  def validate(self) -> None:
    configs.one_of(self.engine, ENGINES, "engine.engine")
    for name in ("slots", "window", "page_size", "prefill_chunk", "prefill_rows"):
      configs.need(getattr(self, name) >= 1, f"engine.{name}",
                   f"must be >= 1, got {getattr(self, name)}")
    configs.need(self.kv_pages == 0 or self.kv_pages >= 2, "engine.kv_pages",
                 f"must be 0 (sized from memory) or >= 2 (page 0 is the null page), got "
                 f"{self.kv_pages}")
    configs.need(0.0 < self.hbm_fraction <= 1.0, "engine.hbm_fraction",
                 f"must be in (0, 1], got {self.hbm_fraction}")
    configs.one_of(self.kv_dtype, KV_DTYPES, "engine.kv_dtype")

  @classmethod
  def from_config(cls, section: Any) -> "EngineConfig":
    """From a ConfigDict / mapping (missing fields: defaults), validated."""
    return configs.from_section(cls, section if section is not None else {}, "engine")

  def cache_dtype(self) -> str | None:
    """The Sampler's `cache_dtype` (None: the backend's default)."""
    return None if self.kv_dtype == "auto" else self.kv_dtype

  def sampler_kwargs(self) -> dict[str, Any]:
    """Keyword arguments of `Sampler(cfg, mesh, dtype=..., **kwargs)`."""
    return dict(engine=self.engine, decode_slots=self.slots, window=self.window,
                page_size=self.page_size, kv_pages=self.kv_pages or None,
                hbm_fraction=self.hbm_fraction, cache_dtype=self.cache_dtype(),
                prefill_chunk=self.prefill_chunk, prefill_rows=self.prefill_rows)


def default_config():
  """`config.engine` of experiments/base.py: the EngineConfig defaults as a ConfigDict."""
  import ml_collections
  return ml_collections.ConfigDict(dataclasses.asdict(EngineConfig()))


def pages_in_budget(budget_bytes: float, page_bytes_per_device: int) -> int:
  """Pool pages that fit `budget_bytes` of one device (page 0, the null page, included)."""
  return max(0, int(budget_bytes // max(1, page_bytes_per_device)))


def memory_pages(pages_that_fit: int) -> int:
  """The pool pages a memory budget gives: what fits, rounded down to a multiple of 16 (at
  least 2). (A power-of-two floor, as the pool's growth buckets use, would leave up to half
  the budget unused.)"""
  return max(2, pages_that_fit - pages_that_fit % 16)


def device_budget(device, fraction: float) -> float | None:
  """Bytes a new pool may take on `device`: fraction x its memory limit minus what is in
  use now; None when the device does not report its memory (CPU)."""
  try:
    stats = device.memory_stats()
  except Exception:  # noqa: BLE001 (backends without memory stats raise or return None)
    return None
  if not stats or not stats.get("bytes_limit"):
    return None
  return fraction * float(stats["bytes_limit"]) - float(stats.get("bytes_in_use", 0))


# Temporaries of the engine's programs where the compiler does not update the KV pool in
# place, as (whole, layers): whole x the pool + layers x one layer's share of it. Measured
# with the TPU compiler (`python -m spice_jax.plan --compile`, libtpu 0.0.42.1, Qwen3-4B on
# v5p-64, bf16 KV): XLA:TPU keeps the pool in another tiling inside the decode loop (the
# one-token scatter prefers it) and copies it there, so a decode window holds one more pool
# plus about four layers' worth (temporaries 3.0 pools at 2 layers, 1.11 pools at 36); a
# prefill chunk holds about 2.5 layers' worth (2.68 at 2 layers, 2.32 at 36).
POOL_TEMPS = {"tpu": {"window": (1.0, 4.0), "prefill": (0.0, 2.5)}}


def pool_temps(platform: str, program: str, n_layers: int) -> float:
  """Temporaries of the engine's `program` ("window" | "prefill") on `platform`, in units of
  the KV pool of a model with `n_layers` layers (0 where none are measured: CPU, GPU)."""
  whole, layers = POOL_TEMPS.get(platform, {}).get(program, (0.0, 0.0))
  return whole + layers / max(1, n_layers)


def pool_share(platform: str, n_layers: int) -> float:
  """The share of a memory budget the pool itself may take on `platform` (the rest is its
  programs' copies of it)."""
  return 1.0 / (1.0 + max(pool_temps(platform, "window", n_layers),
                          pool_temps(platform, "prefill", n_layers)))
