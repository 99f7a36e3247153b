"""`runtime.enable_compilation_cache`: JAX's persistent cache, on by default in the entry
points, holds the programs compiled the way the sampler compiles them (`lower().compile()`)."""
import os

import jax
import jax.numpy as jnp
import pytest

from spice_jax.utils import runtime


def test_default_dir_under_user_cache(monkeypatch):
  monkeypatch.setenv("SPICE_JAX_CACHE", "/y/sj")
  assert runtime.default_compilation_cache_dir() == "/y/sj/xla"
  monkeypatch.delenv("SPICE_JAX_CACHE")    # the suite sets it (tests/conftest.py)
  monkeypatch.setenv("XDG_CACHE_HOME", "/x/cache")
  assert runtime.default_compilation_cache_dir() == "/x/cache/spice_jax/xla"
  monkeypatch.delenv("XDG_CACHE_HOME")
  assert runtime.default_compilation_cache_dir() == os.path.expanduser(
      "~/.cache/spice_jax/xla")


def test_empty_dir_leaves_cache_off(restore_cache_config):
  before = jax.config.jax_compilation_cache_dir
  assert runtime.enable_compilation_cache("") is None
  assert jax.config.jax_compilation_cache_dir == before


def test_compiled_program_written_to_cache(tmp_path, restore_cache_config):
  d = runtime.enable_compilation_cache(str(tmp_path / "xla"), min_compile_secs=0.0)
  assert d == str(tmp_path / "xla") and jax.config.jax_compilation_cache_dir == d

  def f(x):  # a program no other test compiles (the cache is keyed by the program)
    return jnp.cumsum(jnp.sin(x) * 1.2345, axis=0) @ x.T

  jax.jit(f).lower(jnp.ones((7, 5), jnp.float32)).compile()
  assert any("jit_f" in name for name in os.listdir(d)), os.listdir(d)
