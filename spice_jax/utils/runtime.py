"""Process-level helpers of the entry points: the MFU denominator, graceful stops and the
persistent compilation cache."""

from __future__ import annotations

import os
import signal
import time

import jax
import jax.numpy as jnp
from absl import logging
from jax.experimental.compilation_cache import compilation_cache


def default_compilation_cache_dir() -> str:
  """<cache root>/xla (`fs.cache_root`: $SPICE_JAX_CACHE, else ~/.cache/spice_jax)."""
  from spice_jax.utils import fs
  return os.path.join(fs.cache_root(), "xla")


MIN_COMPILE_ENV = "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"   # JAX's own setting


def enable_compilation_cache(directory: str | None = None,
                             min_compile_secs: float | None = None) -> str | None:
  """Turns on JAX's persistent compilation cache in `directory` (None: the default dir;
  "": leave it off). Programs that took at least `min_compile_secs` to compile are written
  there and loaded, not recompiled, by later processes with the same program, jax/XLA
  version and devices (CPU included). min_compile_secs None: JAX's own variable
  (`MIN_COMPILE_ENV`) where the user set it, else 0.5 s. Takes effect for the compiles that
  follow, also where another directory was in use. Returns the directory in use, or None."""
  if directory == "":
    return None
  if min_compile_secs is None:   # checked before anything changes
    setting = os.environ.get(MIN_COMPILE_ENV, "").strip()
    try:
      min_compile_secs = float(setting) if setting else 0.5
    except ValueError:
      raise ValueError(f"${MIN_COMPILE_ENV}={setting!r} is not a number of seconds") from None
  directory = os.path.abspath(os.path.expanduser(directory or default_compilation_cache_dir()))
  os.makedirs(directory, exist_ok=True)
  compilation_cache.reset_cache()  # jax opens its cache once; a new directory needs a reset
  compilation_cache.set_cache_dir(directory)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_secs))
  logging.info("persistent compilation cache: %s", directory)
  return directory


def measure_matmul_peak(dtype="float32", n: int = 2048, reps: int = 5) -> float:
  """FLOP/s of a large jnp.dot on the default device (the denominator of MFU)."""
  a = jnp.ones((n, n), dtype)
  f = jax.jit(lambda x: x @ x)
  f(a).block_until_ready()
  t = time.perf_counter()
  for _ in range(reps):
    f(a).block_until_ready()
  return 2 * n ** 3 * reps / (time.perf_counter() - t) * jax.local_device_count()


class StopFlag:
  """SIGTERM/SIGINT -> finish the iteration, checkpoint, exit. A second SIGINT aborts."""

  def __init__(self):
    self.signum = None

  def install(self):
    def handler(signum, frame):
      if self.signum is not None and signum == signal.SIGINT:
        raise KeyboardInterrupt
      self.signum = signum
      logging.warning("signal %d: will checkpoint after this iteration and stop", signum)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)

  def __bool__(self):
    return self.signum is not None
