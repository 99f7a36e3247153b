"""Training attention on the host backend: forward+backward time of blockwise (and splash in
interpret mode only if asked) against dense, measured in the same run, per T.

  JAX_PLATFORMS=cpu .venv/bin/python benchmarks/attention_speed.py --lengths=64,512,2048

Shapes: SmolLM2-135M's attention (9 query heads, 3 kv heads, head_dim 64), float32, B=1 and
the tiny test models' (4 / 2 heads, head_dim 16), B=4. Prints the median of --reps runs
after one warm-up (compile excluded; compile seconds printed apart).
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

from absl import app, flags  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from spice_jax.models import attention  # noqa: E402

_LENGTHS = flags.DEFINE_list("lengths", ["64", "512", "2048"], "sequence lengths T")
_REPS = flags.DEFINE_integer("reps", 5, "timed runs per case")
SHAPES = {"smollm2": (1, 9, 3, 64), "tiny": (4, 4, 2, 16)}  # B, H, K, Dh


def step_fn(fn):
  """jitted (q, k, v) -> grads of sum(fn(q, k, v) * w) (forward + backward)."""
  def loss(q, k, v, w):
    return jnp.sum(fn(q, k, v, None) * w)
  return jax.jit(jax.grad(loss, argnums=(0, 1, 2)))


def timed(f, args, reps):
  t = time.perf_counter()
  jax.block_until_ready(f(*args))
  compile_s = time.perf_counter() - t
  runs = []
  for _ in range(reps):
    t = time.perf_counter()
    jax.block_until_ready(f(*args))
    runs.append(time.perf_counter() - t)
  return float(np.median(runs)), compile_s


def main(_):
  print(f"uptime: {os.popen('uptime').read().strip()}")
  rng = np.random.default_rng(0)
  for name, (B, H, K, Dh) in SHAPES.items():
    for T in map(int, _LENGTHS.value):
      q = jnp.asarray(rng.normal(size=(B, T, H, Dh)), jnp.float32)
      k, v = (jnp.asarray(rng.normal(size=(B, T, K, Dh)), jnp.float32) for _ in range(2))
      w = jnp.asarray(rng.normal(size=(B, T, H, Dh)), jnp.float32)
      d, dc = timed(step_fn(attention.dense), (q, k, v, w), _REPS.value)
      b, bc = timed(step_fn(attention.blockwise), (q, k, v, w), _REPS.value)
      print(f"{name:8s} T={T:5d}  dense {d * 1e3:8.2f} ms (compile {dc:4.1f} s)  "
            f"blockwise {b * 1e3:8.2f} ms (compile {bc:4.1f} s)  blockwise/dense {b / d:5.2f}",
            flush=True)


if __name__ == "__main__":
  app.run(main)
