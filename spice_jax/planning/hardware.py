"""Accelerator facts for the capacity plan, read from `hardware.json` (vendor-published peaks).

`Chip` is one accelerator (peak bf16 FLOP/s, HBM bytes and bandwidth, interconnect
bandwidth, the page the numbers come from); `Layout` is a named slice or node
("v5p-64" = 32 v5p chips). Units here are SI: bytes, bytes/s, FLOP/s.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os

from spice_jax.errors import SpiceError

_TABLE = os.path.join(os.path.dirname(__file__), "hardware.json")


class HardwareError(SpiceError, ValueError):
  pass


@dataclasses.dataclass(frozen=True)
class Chip:
  name: str
  flops: float           # peak dense bf16 FLOP/s
  hbm_bytes: float
  hbm_bw: float          # bytes/s
  interconnect_bw: float  # bytes/s per chip (ICI / NVLink)
  source: str
  platform: str = "tpu"   # "tpu" | "gpu": what "auto" settings resolve for


@dataclasses.dataclass(frozen=True)
class Layout:
  name: str
  chip: Chip
  chips: int
  note: str = ""
  tpu_topology: dict | None = None  # libtpu's name of the slice (TPU layouts only)


@functools.lru_cache(maxsize=1)
def _table() -> dict:
  with open(_TABLE) as f:
    return json.load(f)


def chips() -> dict[str, Chip]:
  out = {}
  for name, c in _table()["chips"].items():
    try:
      out[name] = Chip(name, flops=c["bf16_tflops"] * 1e12, hbm_bytes=c["hbm_gb"] * 1e9,
                       hbm_bw=c["hbm_gbps"] * 1e9, interconnect_bw=c["interconnect_gbps"] * 1e9,
                       source=c["source"], platform=c.get("platform", "tpu"))
    except KeyError as e:
      raise HardwareError(f"{_TABLE}: chip {name!r} lacks field {e.args[0]!r}") from e
  return out


def layouts() -> dict[str, Layout]:
  known = chips()
  out = {}
  for name, l in _table()["layouts"].items():
    if l["chip"] not in known:
      raise HardwareError(f"{_TABLE}: layout {name!r} names unknown chip {l['chip']!r}")
    out[name] = Layout(name, known[l["chip"]], int(l["chips"]), l.get("note", ""),
                       l.get("tpu_topology"))
  return out


def layout(name: str) -> Layout:
  table = layouts()
  if name not in table:
    raise HardwareError(f"unknown hardware layout {name!r}; known: {sorted(table)}")
  return table[name]


def find_layout(config_arg: str) -> Layout | None:
  """The layout named in a config argument ("v5p-64" or "qwen3_4b,v5p-64"), if any."""
  table = layouts()
  for part in (config_arg or "").split(","):
    if part.strip() in table:
      return table[part.strip()]
  return None
