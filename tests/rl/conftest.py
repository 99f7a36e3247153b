"""Shared fixtures for the rl tests: a tiny model, meshes and random mixed batches."""
import jax
import numpy as np
import pytest

from spice_jax import models, parallel
from spice_jax.spice import batch as batch_lib

VOCAB = 32
NORMS = {"challenger": 12.0, "reasoner": 8.0}


@pytest.fixture(scope="session")
def tiny_cfg():
  return models.PRESETS["tiny-llama"].replace(vocab_size=VOCAB)


@pytest.fixture(scope="session")
def mesh1():
  return parallel.make_mesh((1, 1, 1), jax.devices()[:1])


@pytest.fixture(scope="session")
def mesh8():
  return parallel.make_mesh((2, 2, 2), jax.devices()[:8])


def random_trajs(seed: int, n: int = 16, with_old: bool = False):
  """n trajectories, both roles, ragged prompt/completion lengths, 4 rows per group."""
  rng = np.random.default_rng(seed)
  out = []
  for i in range(n):
    P, C = int(rng.integers(1, 7)), int(rng.integers(1, 8))
    old = list(-rng.random(C) * 3) if with_old else None
    out.append(batch_lib.Trajectory(
        list(rng.integers(1, VOCAB, P)), list(rng.integers(1, VOCAB, C)),
        role=("challenger", "reasoner")[i % 2], group_id=i // 4,
        advantage=float(rng.normal()), old_logprobs=old))
  return out


def random_batch(seed: int = 0, n: int = 16, minibatch_size: int = 16, micro_rows: int = 4,
                 with_old: bool = False, **kw):
  return batch_lib.make_batch(random_trajs(seed, n, with_old), role_norms=NORMS, min_length=8,
                              minibatch_size=minibatch_size, micro_rows=micro_rows, **kw)


def padded(trajs, rows, T: int | None = None):
  """The unbucketed layout, written independently of spice.batch: trajectories `rows`
  right-padded to one length T (default: the longest), as numpy arrays [len(rows), T]."""
  seqs = [list(trajs[i].prompt_tokens) + list(trajs[i].completion_tokens) for i in rows]
  T = T or max(len(s) for s in seqs)
  out = {k: np.zeros((len(rows), T), np.float32) for k in ("loss_mask", "old_logprobs")}
  out.update({k: np.zeros((len(rows), T), np.int32) for k in ("tokens", "targets")})
  for b, (i, s) in enumerate(zip(rows, seqs)):
    P, tr = len(trajs[i].prompt_tokens), trajs[i]
    out["tokens"][b, :len(s)] = s
    out["targets"][b, :len(s) - 1] = s[1:]
    out["loss_mask"][b, P - 1:len(s) - 1] = 1
    if tr.old_logprobs is not None:
      out["old_logprobs"][b, P - 1:len(s) - 1] = tr.old_logprobs
  out["positions"] = np.broadcast_to(np.arange(T, dtype=np.int32), (len(rows), T))
  out["advantages"] = np.array([trajs[i].advantage for i in rows], np.float32)
  out["weight"] = np.array([trajs[i].weight for i in rows], np.float32)
  out["norm"] = np.array([NORMS[trajs[i].role] for i in rows], np.float32)
  out["has_old"] = np.array([trajs[i].old_logprobs is not None for i in rows])
  return out


def minibatch_rows(batch, i: int) -> list[int]:
  """Trajectory indices of minibatch i (position p of batch.order is in minibatch p % n)."""
  return list(batch.order[i::batch.num_minibatches])


@pytest.fixture(scope="session")
def data():
  """The helpers above (import-mode=importlib cannot import conftest as a module)."""
  import types
  return types.SimpleNamespace(NORMS=NORMS, VOCAB=VOCAB, random_batch=random_batch,
                               random_trajs=random_trajs, padded=padded,
                               minibatch_rows=minibatch_rows)


@pytest.fixture(scope="session")
def update_fn(tiny_cfg):
  """Memoised `make_update_fn(tiny_cfg, mesh, optim, **kw)`: tests sharing a configuration
  share one compiled executable (each compile costs seconds on CPU)."""
  from spice_jax.rl import update as update_lib
  cache = {}

  def get(mesh, optim, **kw):
    key = (id(mesh), optim, tuple(sorted(kw.items())))
    if key not in cache:
      cache[key] = update_lib.make_update_fn(tiny_cfg, mesh, optim, **kw)
    return cache[key]
  return get


@pytest.fixture(scope="session")
def params1(tiny_cfg, mesh1):
  """Random tiny params on one device (never donated: TrainState.create copies them)."""
  return models.init_params(tiny_cfg, mesh1, 0)


@pytest.fixture(scope="session")
def params8(tiny_cfg, mesh8):
  return models.init_params(tiny_cfg, mesh8, 0)
