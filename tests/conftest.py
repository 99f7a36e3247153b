"""Shared fixtures. Simulates 8 CPU devices before jax is imported anywhere."""
import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
if "--xla_force_host_platform_device_count" not in os.environ["XLA_FLAGS"]:
  os.environ["XLA_FLAGS"] += " --xla_force_host_platform_device_count=8"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# libtpu (the TPU compiler, for compiling for a TPU slice on this CPU host): both xdist
# workers may load it, and its logs stay quiet.
os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")
os.environ.setdefault("TPU_STDERR_LOG_LEVEL", "3")
os.environ.setdefault("TPU_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# What the suite's processes (both xdist workers and every subprocess they start) can reuse
# from one another: compiled programs (JAX's persistent cache, for programs that took 0.5 s
# or more to compile) and tokenizers built from GGUF files (spice_jax.utils.fs.cache_root).
# Kept in the clone (.cache/, git-ignored): a fresh clone starts cold, as CI does, and the
# suite never reads or writes the user's own ~/.cache/spice_jax.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ["SPICE_JAX_CACHE"] = os.path.join(ROOT, ".cache", "tests")
os.environ["JAX_COMPILATION_CACHE_DIR"] = os.path.join(ROOT, ".cache", "tests", "xla")
os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0.5"
# Compile effort. Many tests compile tiny programs and run them a few times, and XLA's CPU
# backend (LLVM) optimising them is most of their time (tests/sampling/test_engine.py: 581 s
# fully optimised, 320 s without, measured on 2026-12-07). The suite asks for XLA's least
# backend optimisation (`jax_disable_most_optimizations`: LLVM at -O0, no expensive LLVM passes;
# the HLO pipeline, and so fusion and buffer assignment, unchanged), subprocesses included,
# except in tests marked `full_compile`: the claims about the programs users run as they are
# compiled for them (the learning test's trajectory, programs compiled for a TPU slice).
# JAX_DISABLE_MOST_OPTIMIZATIONS=0 runs the whole suite at full optimisation.
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")

import pytest  # noqa: E402


def pytest_configure(config):
  config.addinivalue_line("markers", "slow: end-to-end tests (still run in CI)")
  config.addinivalue_line("markers", "full_compile: compiled with XLA's full optimisation, "
                          "as users' programs are (see the top of tests/conftest.py)")


def _compile_fully(on: bool) -> None:
  """Switches XLA's optimisation for the programs compiled from here on, and drops every
  compiled program held in this process so that none compiled the other way is reused."""
  import jax
  from spice_jax.sampling import sampler
  jax.config.update("jax_disable_most_optimizations", not on)
  jax.clear_caches()
  sampler._sampler_for.cache_clear()   # Sampler objects hold their compiled programs


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
  # Before the test's fixtures, module-scoped ones included, compile anything.
  if item.get_closest_marker("full_compile") and \
      os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"] != "0":
    _compile_fully(True)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
  if item.get_closest_marker("full_compile") and \
      os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"] != "0":
    _compile_fully(False)


@pytest.fixture
def restore_cache_config():
  """Puts JAX's persistent compilation cache settings back after a test that moves them
  (`runtime.enable_compilation_cache`, called by the entry points)."""
  import jax
  from jax.experimental.compilation_cache import compilation_cache
  keys = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs")
  old = {k: getattr(jax.config, k) for k in keys}
  yield
  for k, v in old.items():
    jax.config.update(k, v)
  compilation_cache.reset_cache()  # the next compile opens the restored directory


@pytest.fixture(scope="session")
def smollm2():
  """The embedded SmolLM2-135M-Instruct (real weights), loaded once per session."""
  from spice_jax import models
  return models.load(models.EMBEDDED)


# The longest tests, started first so that with `-n 2` they overlap the rest of the suite
# instead of running alone at its end (xdist hands the first block of tests to one worker and
# the rest out as workers free up). Cold fresh clone, 2026-12-07: the learning test 227 s,
# the TPU-slice compiles 84 s, the multi-host runs 57-75 s each; they came last in file order.
LONGEST_FIRST = ("tests/world/test_learning.py", "tests/test_plan_compile.py",
                 "tests/train/test_multihost.py")


def pytest_collection_modifyitems(config, items):
  def rank(item):   # LONGEST_FIRST in its order, then the rest; stable: file order within
    return next((i for i, p in enumerate(LONGEST_FIRST) if str(item.fspath).endswith(p)),
                len(LONGEST_FIRST))
  items.sort(key=rank)
