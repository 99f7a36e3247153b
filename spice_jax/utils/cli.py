"""absl entry points with config files: a mistyped `--config.<field>` override is one line.

ml_collections raises a bare `AttributeError("'num_iterations'")` deep in flag parsing for
an override naming no field; `run(main)` turns that into
`error: config.num_iterations: unknown field; did you mean train.iterations?` and exit 2.

`log_to_file(dir)` keeps an entry point's terminal for its progress bars and summary lines:
absl/orbax/JAX INFO goes to `<dir>/log.txt`; warnings and errors are still shown.
`stderr_to(path)` does the same for native libraries (libtpu) that write to file
descriptor 2 themselves, for the span of a `with` block. On a host with libtpu installed
but no TPU (a CPU box with the test requirements), `log_to_file` also tells JAX that the CPU
is its only backend (`cpu_only_host`), so that its first backend probe does not print a page
of libtpu errors before falling back.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import sys
import tempfile
from typing import Callable, Sequence

from absl import app, flags, logging

from spice_jax.utils import configs, fs


GPU_PLUGINS = ("jax_cuda12_plugin", "jax_cuda13_plugin", "jax_rocm60_plugin",
               "jax_rocm7_plugin")


def cpu_only_host(env=None, device_nodes=None, plugins=None) -> bool:
  """True when JAX would end on the CPU anyway: no platform named (JAX_PLATFORMS), no TPU
  device node (/dev/accel*, /dev/vfio/<n>) and no GPU plugin installed. The arguments
  default to this host's (tests pass their own)."""
  env = os.environ if env is None else env
  if env.get("JAX_PLATFORMS") or env.get("JAX_PLATFORM_NAME"):
    return False
  if device_nodes is None:
    device_nodes = glob.glob("/dev/accel*") + glob.glob("/dev/vfio/[0-9]*")
  if plugins is None:
    plugins = [p for p in GPU_PLUGINS if importlib.util.find_spec(p)]
  return not device_nodes and not plugins


def _cpu_if_only_cpu() -> None:
  if cpu_only_host():
    import jax   # noqa: PLC0415  (only where the CPU is all there is)
    try:
      jax.config.update("jax_platforms", "cpu")
    except RuntimeError:   # a backend is already up: nothing left to spare
      pass


def log_to_file(directory: str, name: str = "log.txt") -> str:
  """absl INFO (ours and orbax's) -> `<directory>/<name>` (appended); the terminal keeps
  warnings and errors (absl's handler serves every Python logger: JAX's, orbax's, ours).
  Returns the log path.

  A directory on an object store (gs://...) cannot be appended to: the log then goes to a
  local temporary directory (the returned path says where). Call after flags are parsed.
  """
  if fs.is_local(directory):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(os.path.abspath(directory), name)
  else:
    path = os.path.join(tempfile.mkdtemp(prefix="spice_jax_log_"), name)
  handler = logging.get_absl_handler()
  old = handler.python_handler.stream
  handler.python_handler.stream = open(path, "a", buffering=1)
  if old not in (sys.stderr, sys.stdout, None) and hasattr(old, "close"):
    old.close()
  logging.set_verbosity(logging.INFO)
  if flags.FLAGS.is_parsed():
    flags.FLAGS.stderrthreshold = "warning"    # absl copies >= WARNING to the terminal
  _cpu_if_only_cpu()
  return path


@contextlib.contextmanager
def stderr_to(path: str):
  """Within the block, whatever writes to file descriptor 2 (C++ libraries such as libtpu,
  which log before and outside Python's logging) is appended to `path`, and so is Python's
  `sys.stderr` where it writes to fd 2 (a program's, not pytest's captured one). Restored on exit, also on an exception."""
  sys.stderr.flush()
  saved = os.dup(2)
  with open(path, "ab", buffering=0) as f:
    os.dup2(f.fileno(), 2)
    try:
      yield path
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)


def fail(error, code: int = 2):
  """Ends an entry point on a user error: one line `error: ...` on the terminal (the log
  file records it too, at INFO so that absl does not print it a second time)."""
  logging.info("error: %s", error)
  print(f"error: {error}", file=sys.stderr)
  sys.exit(code)


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
