"""Update-gradient temporaries per chip vs T for each training attention implementation,
from the TPU compiler (libtpu) on a CPU host, on the v5p-64 topology (FSDP 32, bfloat16, one
row per chip). --scope=attention: the gradient of one Qwen3-4B layer's attention alone
(32 query heads, 8 kv heads, head_dim 128; seconds per compile); --scope=update: the update's
micro-batch gradient of a 2-layer, full-width Qwen3-4B with remat (minutes per compile).

  ALLOW_MULTIPLE_LIBTPU_LOAD=1 JAX_PLATFORMS=cpu .venv/bin/python benchmarks/attention_memory.py \
      --scope=attention --lengths=4096,8192,16384 --impls=dense,splash,blockwise

Prints one line per (impl, T): compiler temp GB per chip, compile seconds, and the ratio of
each length's GB to the shortest length's (linear in T: 2x, 4x; quadratic: 4x, 16x).
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")

from absl import app, flags  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.experimental import topologies  # noqa: E402
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P  # noqa: E402

from spice_jax import models, parallel  # noqa: E402
from spice_jax.rl import update as update_lib  # noqa: E402

_LENGTHS = flags.DEFINE_list("lengths", ["4096", "8192", "16384"], "sequence lengths T")
_IMPLS = flags.DEFINE_list("impls", ["dense", "splash", "blockwise"], "attention impls")
_LAYERS = flags.DEFINE_integer("layers", 2, "decoder layers of the Qwen3-4B shape")
_SCOPE = flags.DEFINE_enum("scope", "attention", ["attention", "update"], "what to compile")


def v5p64_mesh() -> Mesh:
  topo = topologies.get_topology_desc(
      platform="tpu", topology_name="v5p:2x4x4", chip_config_name="megacore",
      chips_per_host_bounds=(2, 2, 1), wrap=(False, False, False))
  devices = np.array(topo.devices).reshape(1, -1, 1)
  return Mesh(devices, ("data", "fsdp", "tensor"), axis_types=(AxisType.Auto,) * 3)


def grad_temp_bytes(cfg, mesh, T: int) -> tuple[int, float]:
  """(temp bytes per chip, compile seconds) of the update's micro-batch gradient."""
  fn = update_lib.make_update_fn(cfg, mesh, compute_dtype="bfloat16", remat=True)
  rows_sh = fn.batch_sharding
  r = mesh.size
  sds = lambda shape, dtype: jax.ShapeDtypeStruct(shape, dtype, sharding=rows_sh)
  rows = dict(tokens=sds((r, T), jnp.int32), positions=sds((r, T), jnp.int32),
              targets=sds((r, T), jnp.int32), loss_mask=sds((r, T), jnp.float32),
              advantages=sds((r,), jnp.float32), norm=sds((r,), jnp.float32),
              weight=sds((r,), jnp.float32), role=sds((r,), jnp.int32),
              old_logprobs=sds((r, T), jnp.float32), has_old_logprobs=sds((r,), jnp.bool_))
  p_sh = parallel.unbox(models.param_shardings(cfg, mesh))
  params = jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, jnp.float32, sharding=s),
                        parallel.unbox(models.abstract_params(cfg)), p_sh)
  t = time.time()
  with jax.set_mesh(mesh):
    compiled = fn.compiled_parts["grads"].lower(
        params, rows, sds((r, T), jnp.float32), np.bool_(False), None).compile()
  return compiled.memory_analysis().temp_size_in_bytes, time.time() - t


def attention_temp_bytes(cfg, mesh, T: int) -> tuple[int, float]:
  """(temp bytes per chip, compile seconds) of d/d(q, k, v) of one layer's attention."""
  from spice_jax.models import attention
  rows = NamedSharding(mesh, P(("data", "fsdp")))
  r, H, K, Dh = mesh.size, cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
  arg = lambda n: jax.ShapeDtypeStruct((r, T, n, Dh), jnp.bfloat16, sharding=rows)
  impl = attention.resolve(cfg.attention, "tpu")
  loss = lambda q, k, v: jnp.sum(
      attention.IMPLS[impl](q, k, v, None).astype(jnp.float32))
  t = time.time()
  with jax.set_mesh(mesh):
    compiled = jax.jit(jax.grad(loss, argnums=(0, 1, 2))).lower(arg(H), arg(K), arg(K)).compile()
  return compiled.memory_analysis().temp_size_in_bytes, time.time() - t


def main(_):
  mesh = v5p64_mesh()
  base = models.PRESETS["qwen3-4b"].replace(n_layers=_LAYERS.value)
  print(f"uptime: {os.popen('uptime').read().strip()}  scope: {_SCOPE.value}")
  for impl in _IMPLS.value:
    first = None
    for T in map(int, _LENGTHS.value):
      fn = attention_temp_bytes if _SCOPE.value == "attention" else grad_temp_bytes
      b, s = fn(base.replace(attention=impl), mesh, T)
      first = first or (T, b)
      print(f"{impl:9s} T={T:6d}  temp {b / 1e9:7.2f} GB/chip  x{b / first[1]:5.2f} "
            f"(T x{T / first[0]:.0f})  compile {s:5.1f} s", flush=True)


if __name__ == "__main__":
  app.run(main)
