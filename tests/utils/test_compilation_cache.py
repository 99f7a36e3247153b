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


def test_threshold_from_jax_variable_else_half_a_second(monkeypatch, tmp_path,
                                                       restore_cache_config):
  """The entry points keep JAX's $JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS where a user set
  it (the suite's trainer subprocesses: 0, tests/train/conftest.py), else 0.5 s; an argument
  wins over both; a value that is not a number is one clear error."""
  key = "jax_persistent_cache_min_compile_time_secs"
  monkeypatch.setenv(runtime.MIN_COMPILE_ENV, "0.25")
  tmp = str(tmp_path / "xla")
  runtime.enable_compilation_cache(tmp)
  assert getattr(jax.config, key) == 0.25
  runtime.enable_compilation_cache(tmp, min_compile_secs=2.0)
  assert getattr(jax.config, key) == 2.0
  monkeypatch.delenv(runtime.MIN_COMPILE_ENV)
  runtime.enable_compilation_cache(tmp)
  assert getattr(jax.config, key) == 0.5
  monkeypatch.setenv(runtime.MIN_COMPILE_ENV, "soon")
  with pytest.raises(ValueError, match=r"JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS='soon' "
                     "is not a number of seconds"):
    runtime.enable_compilation_cache(tmp)
