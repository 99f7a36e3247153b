"""The device mesh, the logical-axis rules table, and helpers to place pytrees on it.

One mesh with axes ('data', 'fsdp', 'tensor'). Modules name parameter axes logically
('embed', 'heads', ...); `RULES` maps them to mesh axes. A dimension that a mesh axis does
not divide is replicated over that axis instead (e.g. SmolLM2's 3 KV heads on tensor=2), so
any preset runs on any mesh.
"""

from __future__ import annotations

import math
import os
from typing import Any, Sequence

import flax.linen as nn
import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P

from spice_jax.errors import SpiceError

AXES = ("data", "fsdp", "tensor")

# Logical axis -> mesh axis (or tuple of mesh axes, or None = replicated).
RULES: tuple[tuple[str, Any], ...] = (
    ("batch", ("data", "fsdp")),
    ("vocab", "tensor"),
    ("embed", "fsdp"),
    ("heads", "tensor"),
    ("kv_heads", "tensor"),
    ("mlp", "tensor"),
    ("head_dim", None),
    ("norm", None),
    ("length", None),
    ("cache_length", None),
)


class MeshError(SpiceError, ValueError):
  pass


def resolve_shape(shape: Sequence[int], n_devices: int) -> tuple[int, ...]:
  """Fills the single -1 in `shape` so that the product equals `n_devices`."""
  shape = [int(s) for s in shape]
  if len(shape) != len(AXES):
    raise MeshError(f"mesh shape {shape} must have {len(AXES)} entries for axes {AXES}")
  if shape.count(-1) > 1:
    raise MeshError(f"mesh shape {shape}: at most one -1")
  known = math.prod(s for s in shape if s != -1)
  if -1 in shape:
    if n_devices % known:
      raise MeshError(f"mesh shape {shape}: {n_devices} devices not divisible by {known}")
    shape[shape.index(-1)] = n_devices // known
  if math.prod(shape) != n_devices:
    raise MeshError(f"mesh shape {shape} needs {math.prod(shape)} devices, have {n_devices}")
  return tuple(shape)


def make_mesh(shape: Sequence[int] = (-1, 1, 1), devices=None) -> Mesh:
  """A ('data', 'fsdp', 'tensor') mesh with Auto axis types (compiler-propagated sharding).

  A fully specified shape smaller than the device count uses the first devices (e.g.
  (1, 1, 1) runs on one device of a multi-device host); a -1 fills all devices.
  """
  devices = list(devices if devices is not None else jax.devices())
  if -1 not in shape and 0 < math.prod(shape) < len(devices):
    devices = devices[:math.prod(shape)]
  shape = resolve_shape(shape, len(devices))
  arr = np.asarray(devices).reshape(shape)
  return Mesh(arr, AXES, axis_types=(AxisType.Auto,) * len(AXES))


def maybe_initialize_distributed(coordinator_address: str | None = None,
                                 num_processes: int | None = None,
                                 process_id: int | None = None,
                                 local_device_ids=None) -> bool:
  """Calls `jax.distributed.initialize` when asked to (multi-host). Returns True if it ran.

  On Cloud TPU pods all arguments may be None (auto-detected); elsewhere pass them.
  """
  if coordinator_address is None and num_processes is None:
    return False
  if (os.environ.get("JAX_PLATFORMS", "") or "cpu").startswith("cpu"):
    # CPU hosts (tests, CPU clusters) need a cross-process collectives backend.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(coordinator_address=coordinator_address,
                             num_processes=num_processes, process_id=process_id,
                             local_device_ids=local_device_ids)
  return True


def spec_for(logical: Sequence[str | None] | None, shape: Sequence[int], mesh: Mesh,
             rules=RULES) -> P:
  """PartitionSpec for an array with these logical axis names, dropping non-dividing axes."""
  if logical is None:
    return P()
  table = dict(rules)
  used: set[str] = set()
  out = []
  for name, dim in zip(logical, shape):
    target = table.get(name) if name is not None else None
    if target is None:
      out.append(None)
      continue
    axes = (target,) if isinstance(target, str) else tuple(target)
    kept = []
    size = 1
    for a in axes:
      if a in used or mesh.shape[a] == 1:
        continue
      if dim % (size * mesh.shape[a]) == 0:
        kept.append(a)
        size *= mesh.shape[a]
    used.update(kept)
    out.append(None if not kept else (kept[0] if len(kept) == 1 else tuple(kept)))
  return P(*out)


def logical_axes(boxed_tree) -> Any:
  """Pytree of logical-axis tuples (or None) from a tree of `nn.LogicallyPartitioned`."""
  return jax.tree.map(lambda x: tuple(x.names) if isinstance(x, nn.LogicallyPartitioned) else None,
                      boxed_tree, is_leaf=lambda x: isinstance(x, nn.LogicallyPartitioned))


def shardings(boxed_abstract, mesh: Mesh, rules=RULES):
  """NamedShardings for a (boxed, abstract) param tree, e.g. from `jax.eval_shape(init)`."""
  def one(x):
    if isinstance(x, nn.LogicallyPartitioned):
      return NamedSharding(mesh, spec_for(x.names, x.value.shape, mesh, rules))
    return NamedSharding(mesh, P())
  return jax.tree.map(one, boxed_abstract,
                      is_leaf=lambda x: isinstance(x, nn.LogicallyPartitioned))


def batch_sharding(mesh: Mesh, ndim: int, batch_size: int | None = None) -> NamedSharding:
  """Sharding for an array whose leading axis is the batch (over data x fsdp)."""
  shape = (batch_size if batch_size is not None else math.prod(
      mesh.shape[a] for a in ("data", "fsdp")),) + (1,) * (ndim - 1)
  return NamedSharding(mesh, spec_for(("batch",) + (None,) * (ndim - 1), shape, mesh))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def unbox(tree):
  """Strips `nn.LogicallyPartitioned` boxes."""
  return nn.meta.unbox(tree)


def put(tree, sharding: NamedSharding):
  """Host numpy pytree -> global jax.Arrays with `sharding`.

  Works on one host and across hosts (JAX multi-controller): every process passes the same
  host values and contributes only the shards its devices hold.
  """
  def one(x):
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda idx: x[idx])
  return jax.tree.map(one, tree)
