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

import pytest  # noqa: E402


def pytest_configure(config):
  config.addinivalue_line("markers", "slow: end-to-end tests (still run in CI)")


@pytest.fixture(scope="session")
def smollm2():
  """The embedded SmolLM2-135M-Instruct (real weights), loaded once per session."""
  from spice_jax import models
  return models.load(models.EMBEDDED)


# The longest tests, started first so that with `-n 2` they overlap the rest of the suite
# instead of running alone at its end.
LONGEST_FIRST = ("tests/world/test_learning.py",)


def pytest_collection_modifyitems(config, items):
  first = lambda item: any(str(item.fspath).endswith(p) for p in LONGEST_FIRST)
  items.sort(key=lambda item: not first(item))   # stable: the rest keep their order
