"""The training attention implementations against the dense reference (`attend` over
`causal_mask`): value and gradient, padding, GQA, lengths not a multiple of the block; the
update's loss and gradient under each; the platform choice; splash compiled for a TPU."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from spice_jax import models, parallel
from spice_jax.models import attention
from spice_jax.models.config import ModelConfigError
from spice_jax.rl import update as update_lib

# float32 throughout: the implementations differ from dense only by summation order.
ATOL, RTOL = 2e-5, 1e-5


def qkv(seed, B, T, H, K, Dh):
  rng = np.random.default_rng(seed)
  q, k, v = (jnp.asarray(rng.normal(size=(B, T, n, Dh)), jnp.float32) for n in (H, K, K))
  return q, k, v


def padding_mask(B, T, seed=0):
  """kv_mask [B, T]: row 0 left-padded (its first queries have no key), row 1
  right-padded with a hole, the others random."""
  rng = np.random.default_rng(seed)
  m = rng.random((B, T)) > 0.3
  m[0] = np.arange(T) >= 5
  m[1] = np.arange(T) < T - 7
  m[1, 3:6] = False
  return jnp.asarray(m)


def cotangent(shape, mask, seed=1):
  """A fixed random cotangent, zero on queries with no key (padding rows; see the module
  docstring: their q/k gradient is not dense's)."""
  w = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
  has_key = np.cumsum(np.asarray(mask), axis=1) > 0
  return jnp.asarray(w * has_key[:, :, None, None])


def value_and_vjp(fn, mask, w):
  """jitted (q, k, v) -> (fn(q, k, v, mask), its vjp at w: (dq, dk, dv))."""
  def f(q, k, v):
    out, vjp = jax.vjp(lambda q, k, v: fn(q, k, v, mask), q, k, v)
    return out, vjp(w)
  return jax.jit(f)


def assert_close(a, b):
  np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=ATOL, rtol=RTOL)


def check_against_dense(fn, q, k, v, mask):
  w = cotangent(q.shape, mask)
  want, g_want = value_and_vjp(attention.dense, mask, w)(q, k, v)
  got, g_got = value_and_vjp(fn, mask, w)(q, k, v)
  assert not np.isnan(np.asarray(got)).any()
  assert_close(got, want)  # including the no-key rows (mean of v, dense's value)
  for a, b in zip(g_got, g_want):
    assert_close(a, b)
  assert min(float(jnp.abs(g).max()) for g in g_want) > 1e-2  # not vacuous


@pytest.mark.parametrize("T,block", [(37, 8), (20, 32)])
def test_blockwise_equals_dense(T, block):
  """GQA (4 query heads on 2 kv heads), padding, T a multiple of the block or not, one
  block or several."""
  q, k, v = qkv(0, 3, T, 4, 2, 16)
  mask = padding_mask(3, T)
  check_against_dense(lambda *a: attention.blockwise(*a, block=block), q, k, v, mask)


def test_splash_equals_dense_interpret_on_mesh():
  """Pallas interpret mode, head_dim 128, T=200 (padded to 256: two 128 tiles), GQA, under
  an 8-device mesh: shard_map over batch ('data', 'fsdp') and heads ('tensor')."""
  mesh = parallel.make_mesh((2, 2, 2), jax.devices()[:8])
  q, k, v = qkv(3, 4, 200, 4, 2, 128)
  mask = padding_mask(4, 200, seed=3)
  with jax.set_mesh(mesh):
    check_against_dense(lambda *a: attention.splash(*a, block=128), q, k, v, mask)


def test_splash_without_mesh_or_mask():
  q, k, v = qkv(4, 2, 128, 2, 2, 128)
  got = jax.jit(lambda *a: attention.splash(*a, block=128, interpret=True))(q, k, v, None)
  assert_close(got, attention.dense(q, k, v, None))


# ------------------------------------------------------------------ the update
def micro_batch(seed, r, T, vocab):
  """One micro-batch with sampler old log-probs (ratios != 1: clipping exercised)."""
  rng = np.random.default_rng(seed)
  P = rng.integers(2, T // 2, r)
  loss_mask = (np.arange(T)[None] >= P[:, None] - 1).astype(np.float32)
  return dict(
      tokens=rng.integers(1, vocab, (r, T)).astype(np.int32),
      positions=np.broadcast_to(np.arange(T, dtype=np.int32), (r, T)).copy(),
      targets=rng.integers(1, vocab, (r, T)).astype(np.int32), loss_mask=loss_mask,
      advantages=rng.normal(size=r).astype(np.float32), norm=np.full(r, T, np.float32),
      weight=np.ones(r, np.float32), role=(np.arange(r) % 2).astype(np.int32),
      old_logprobs=(-3 * rng.random((r, T))).astype(np.float32),
      has_old_logprobs=np.ones(r, bool))


def update_grads(impl, mesh_shape, batch):
  """The update's (gradient, metric sums) of `batch` for the tiny model under `impl`."""
  cfg = models.PRESETS["tiny-llama"]
  mesh = parallel.make_mesh(mesh_shape, jax.devices()[:int(np.prod(mesh_shape))])
  params = models.init_params(cfg, mesh, 0)
  upd = update_lib.make_update_fn(cfg.replace(attention=impl), mesh, old_logprobs="sampler")
  return jax.device_get(upd.grads(params, batch, batch["old_logprobs"], False))


@pytest.fixture(scope="module")
def update_batch():
  return micro_batch(0, 4, 24, models.PRESETS["tiny-llama"].vocab_size)


@pytest.fixture(scope="module")
def dense_update(update_batch):
  return update_grads("dense", (1, 1, 1), update_batch)


@pytest.mark.slow
@pytest.mark.parametrize("impl,mesh_shape", [("blockwise", (1, 1, 1)), ("splash", (2, 2, 2))])
def test_update_loss_and_gradient_unchanged(impl, mesh_shape, update_batch, dense_update,
                                            monkeypatch):
  """The update's loss sums and gradient (tiny model, remat scan of layers, float32) under
  blockwise (one device) / splash (8-device mesh, shard_map) equal the dense path's on one
  device; T=24 spans two 16-key blocks."""
  monkeypatch.setattr(attention, "BLOCK", 16)
  g_want, s_want = dense_update
  g_got, s_got = update_grads(impl, mesh_shape, update_batch)
  for key in ("loss_sum", "clipped"):
    np.testing.assert_allclose(float(s_got[key]), float(s_want[key]), rtol=1e-5, atol=1e-6)
  assert float(s_want["clipped"]) > 0
  for a, b in zip(jax.tree.leaves(g_got), jax.tree.leaves(g_want)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=2e-6, rtol=0)
  assert max(float(np.abs(g).max()) for g in jax.tree.leaves(g_want)) > 1e-3


# ------------------------------------------------------------------ selection
def test_resolve_by_platform_and_config_validation():
  assert attention.resolve("auto", "tpu") == "splash"
  assert attention.resolve("auto", "gpu") == "blockwise"
  assert attention.resolve("auto", "cpu") == attention.AUTO["cpu"]
  assert attention.resolve("blockwise", "tpu") == "blockwise"
  with pytest.raises(ModelConfigError, match="attention must be one of"):
    attention.resolve("flash", "cpu")
  with pytest.raises(ModelConfigError, match="attention must be one of"):
    models.PRESETS["tiny-llama"].replace(attention="flash")
  mesh = parallel.make_mesh((1, 1, 1), jax.devices()[:1])
  cfg = attention.for_mesh(models.PRESETS["tiny-llama"], mesh)
  assert cfg.attention == attention.AUTO["cpu"]


@pytest.mark.full_compile
def test_splash_backward_compiles_for_tpu_topology():
  """The splash gradient under shard_map compiles for a v5p (4 chips, batch over data,
  heads over tensor) with libtpu on this CPU host, and auto picks splash there."""
  os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")  # other processes may hold libtpu
  from jax.experimental import topologies
  from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P
  topo = topologies.get_topology_desc(
      platform="tpu", topology_name="v5p:2x2x1", chip_config_name="megacore",
      chips_per_host_bounds=(2, 2, 1), wrap=(False, False, False))
  mesh = Mesh(np.array(topo.devices).reshape(2, 1, 2), ("data", "fsdp", "tensor"),
              axis_types=(AxisType.Auto,) * 3)
  cfg = attention.for_mesh(models.PRESETS["tiny-llama"], mesh)
  assert cfg.attention == "splash"
  B, T, H, K, Dh = 2, 256, 4, 2, 128
  rows = NamedSharding(mesh, P("data"))
  arg = lambda *s: jax.ShapeDtypeStruct(s, jnp.bfloat16, sharding=rows)
  loss = lambda q, k, v, m: jnp.sum(
      attention.causal_attention("auto", q, k, v, m).astype(jnp.float32))
  with jax.set_mesh(mesh):
    compiled = jax.jit(jax.grad(loss, argnums=(0, 1, 2))).lower(
        arg(B, T, H, Dh), arg(B, T, K, Dh), arg(B, T, K, Dh),
        jax.ShapeDtypeStruct((B, T), jnp.bool_, sharding=rows)).compile()
  text = compiled.as_text()
  assert text.count("tpu_custom_call") == 3  # forward, dq and dkv kernels
  assert compiled.memory_analysis().temp_size_in_bytes > 0
