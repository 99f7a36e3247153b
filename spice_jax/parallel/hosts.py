"""Host-local work on a multi-host run: per-process slices, local copies, gathers.

SPICE's groups never cross documents, so each process plays its own slice of the global
batch on its own devices; only the update is global. These helpers move data across that
boundary: a process's slice of the batch, a local copy of global parameters for its
sampler, Python records gathered from every process to every process (what all of them
need: the update's rows) or to process 0 alone (what only it writes: the audit trail);
`BYTES_RECEIVED` counts what this process received of them.
"""

from __future__ import annotations

import pickle
from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from spice_jax.parallel.mesh import make_mesh


def process_slice(n: int, process_index: int | None = None,
                  process_count: int | None = None) -> slice:
  """This process's contiguous share of n items (n must divide evenly)."""
  i = jax.process_index() if process_index is None else process_index
  c = jax.process_count() if process_count is None else process_count
  if n % c:
    raise ValueError(f"{n} items do not split evenly over {c} processes")
  per = n // c
  return slice(i * per, (i + 1) * per)


def local_mesh(shape=(-1, 1, 1)) -> Mesh:
  """A mesh over this process's devices only (the host-local sampler's): `shape` over
  ('data', 'fsdp', 'tensor'), data-parallel by default; (1, 1, -1) splits heads instead, so
  the weight copy and the KV pool are divided over the host's chips, not replicated."""
  return make_mesh(tuple(shape), devices=jax.local_devices())


def to_local(tree, mesh: Mesh, *, shardings=None, dtype=None):
  """Global arrays -> copies on `mesh` (this process's devices).

  shardings: a tree of shardings on `mesh` like `tree` (default: every leaf replicated).
  dtype: cast floating leaves of two or more dimensions (the matrices) to it first, as the
    sampler computes in it anyway; 1-D leaves (norm scales) keep their dtype.
  On one process this is a reshard on device; across processes every leaf is all-gathered
  first (after the cast, so in `dtype`), so each host holds the whole tree once.
  """
  rep = NamedSharding(mesh, P())
  if shardings is None:
    shardings = jax.tree.map(lambda _: rep, tree)

  def cast(x):
    if dtype is None or np.ndim(x) < 2 or not jax.numpy.issubdtype(x.dtype, jax.numpy.floating):
      return x
    return x.astype(dtype)

  def one(x, sh):
    x = cast(x)
    if not isinstance(x, jax.Array) or x.is_fully_addressable:
      return jax.device_put(x, sh)
    return jax.device_put(multihost_utils.process_allgather(x, tiled=True), sh)
  return jax.tree.map(one, tree, shardings)


BYTES_RECEIVED = {"bytes": 0}       # payload bytes this process received from the others


def allgather_objects(obj: Any) -> list[Any]:
  """Every process's `obj` (picklable records we built ourselves), in process order."""
  if jax.process_count() == 1:
    return [obj]
  data = np.frombuffer(pickle.dumps(obj), np.uint8)
  sizes = np.asarray(multihost_utils.process_allgather(np.array([data.size], np.int64)))
  buf = np.zeros((int(sizes.max()),), np.uint8)
  buf[:data.size] = data
  every = np.asarray(multihost_utils.process_allgather(buf))
  BYTES_RECEIVED["bytes"] += every.nbytes - buf.nbytes
  return [pickle.loads(every[i, :int(sizes[i, 0])].tobytes())
          for i in range(jax.process_count())]


GATHER_TIMEOUT_S = 600.0


def gather_to_first(obj: Any, key: str, timeout_s: float = GATHER_TIMEOUT_S) -> list[Any] | None:
  """Every process's `obj` on process 0, in process order; None on the others, which
  receive nothing. `key` names this gather (unique while it runs, the same on every process).

  The bytes go point-to-point to process 0's host through the key-value store of JAX's
  coordination service (the one `jax.distributed.initialize` starts there; public JAX has
  no gather-to-one), and are deleted once read.
  """
  if jax.process_count() == 1:
    return [obj]
  from jax._src import distributed   # pylint: disable=import-outside-toplevel
  client = distributed.global_state.client
  me = jax.process_index()
  if me != 0:
    client.key_value_set_bytes(f"spice_jax/{key}/{me}", pickle.dumps(obj))
    return None
  out = [obj]
  for i in range(1, jax.process_count()):
    name = f"spice_jax/{key}/{i}"
    try:
      data = client.blocking_key_value_get_bytes(name, int(timeout_s * 1000))
    except Exception as e:  # the service raises its own error types
      raise TimeoutError(f"process {i} sent no {key!r} records in {timeout_s:.0f} s: {e}") from e
    client.key_value_delete(name)
    BYTES_RECEIVED["bytes"] += len(data)
    out.append(pickle.loads(data))
  return out
