"""Process-level helpers of the entry points: the MFU denominator and graceful stops."""

from __future__ import annotations

import signal
import time

import jax
import jax.numpy as jnp
from absl import logging


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
