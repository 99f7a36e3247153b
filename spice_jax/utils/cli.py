"""absl entry points with config files: a mistyped `--config.<field>` override is one line.

ml_collections raises a bare `AttributeError("'num_iterations'")` deep in flag parsing for
an override naming no field; `run(main)` turns that into
`error: config.num_iterations: unknown field; did you mean train.iterations?` and exit 2.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Callable, Sequence

from absl import app, flags

from spice_jax.utils import configs


def load_config_file(spec: str):
  """`path.py[:arg]` -> that file's `get_config([arg])` (what config_flags loads)."""
  path, _, arg = spec.partition(":")
  mod_spec = importlib.util.spec_from_file_location("_spice_config_file", path)
  if mod_spec is None or mod_spec.loader is None:
    raise FileNotFoundError(path)
  mod = importlib.util.module_from_spec(mod_spec)
  mod_spec.loader.exec_module(mod)
  return mod.get_config(arg) if arg else mod.get_config()


def _resolves(config, dotted: str) -> bool:
  node = config
  for part in dotted.split("."):
    if not hasattr(node, "keys") or part not in node.keys():
      return False
    node = node[part]
  return True


def unknown_override(argv: Sequence[str], flag: str = "config") -> str | None:
  """The message for the first `--<flag>.<field>` override naming no field, or None."""
  spec = None
  overrides = []
  for i, a in enumerate(argv):
    if a.startswith(f"--{flag}="):
      spec = a.split("=", 1)[1]
    elif a == f"--{flag}" and i + 1 < len(argv):
      spec = argv[i + 1]
    elif a.startswith(f"--{flag}."):
      overrides.append(a[len(flag) + 3:].split("=", 1)[0])
  if spec is None or not overrides:
    return None
  try:
    config = load_config_file(spec)
  except Exception:  # the file itself is broken: let config_flags report it
    return None
  for name in overrides:
    if not _resolves(config, name):
      return configs.unknown_field_message(name, configs.flat_keys(config))
  return None


def run(main: Callable, flag: str = "config") -> None:
  """`app.run(main)`, with unknown config overrides reported in one line (exit 2)."""
  def parse(argv):
    try:
      return flags.FLAGS(argv)
    except (AttributeError, KeyError) as e:
      msg = unknown_override(argv, flag)
      if msg is None:
        raise
      print(f"error: {msg}", file=sys.stderr)
      sys.exit(2)
  app.run(main, flags_parser=parse)
