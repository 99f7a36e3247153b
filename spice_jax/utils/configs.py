"""Typed, frozen config sections built from `ml_collections.ConfigDict`s.

Each component owns a frozen dataclass describing its config section (fields, types,
defaults) and a `validate()` that checks the values it understands. `from_section` turns the
matching part of a run's ConfigDict into that dataclass: it rejects unknown fields (naming
the nearest known ones), converts lists to tuples and ints to floats where the field says
so, and raises `ConfigError` naming `config.<section>.<field>`.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from typing import Any, Iterable, Mapping, TypeVar

from spice_jax.errors import ConfigError

T = TypeVar("T")


def nearest(name: str, known: Iterable[str], n: int = 3) -> list[str]:
  """The known dotted names closest to `name`, comparing whole names and last components."""
  known = list(known)
  leaf = name.rsplit(".", 1)[-1]

  def score(k: str) -> float:
    return max(difflib.SequenceMatcher(None, name, k).ratio(),
               difflib.SequenceMatcher(None, leaf, k.rsplit(".", 1)[-1]).ratio())

  ranked = sorted(known, key=lambda k: (-score(k), k))
  return [k for k in ranked[:n] if score(k) >= 0.5]


def unknown_field_message(name: str, known: Iterable[str]) -> str:
  near = nearest(name, known)
  hint = f"; did you mean {' or '.join(near)}?" if near else ""
  return f"config.{name}: unknown field{hint}"


def flat_keys(config: Any, prefix: str = "") -> list[str]:
  """Every dotted leaf name of a (nested) ConfigDict or mapping."""
  items = config.items() if hasattr(config, "items") else []
  out = []
  for k, v in items:
    name = f"{prefix}{k}"
    if hasattr(v, "items"):
      out.extend(flat_keys(v, name + "."))
    out.append(name)
  return out


def _coerce(value: Any, hint: Any, field: str):
  origin = typing.get_origin(hint)
  if hint is float and isinstance(value, int) and not isinstance(value, bool):
    return float(value)
  if origin is tuple and isinstance(value, (list, tuple)):
    return tuple(value)
  if hint in (int, float, str, bool):
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
      raise ConfigError(f"config.{field}: expected {hint.__name__}, got {value!r}")
  if origin in (dict, Mapping) or hint in (dict,):
    if not hasattr(value, "items"):
      raise ConfigError(f"config.{field}: expected a mapping, got {value!r}")
    return {k: (dict(v) if hasattr(v, "items") else v) for k, v in value.items()}
  return value


def from_section(cls: type[T], section: Any, name: str) -> T:
  """Builds the frozen dataclass `cls` from `section` (a ConfigDict, a mapping or `cls`).

  Missing fields take the dataclass defaults; unknown ones raise ConfigError naming the
  nearest known field. Calls `validate()` on the result when `cls` defines it.
  """
  if isinstance(section, cls):
    obj = section
  else:
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    values = {}
    for k, v in (section.items() if hasattr(section, "items") else []):
      if k not in fields:
        raise ConfigError(unknown_field_message(f"{name}.{k}", (f"{name}.{f}" for f in fields)))
      values[k] = _coerce(v, hints[k], f"{name}.{k}")
    obj = cls(**values)
  if hasattr(obj, "validate"):
    obj.validate()
  return obj


def need(cond: bool, field: str, msg: str) -> None:
  """Raises ConfigError(`config.<field>: <msg>`) unless `cond`."""
  if not cond:
    raise ConfigError(f"config.{field}: {msg}")


def one_of(value: Any, choices: Iterable[Any], field: str) -> None:
  choices = tuple(choices)
  need(value in choices, field, f"{value!r}: one of {', '.join(map(str, choices))}")
