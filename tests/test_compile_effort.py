"""The suite's compile effort (tests/conftest.py): XLA's least backend optimisation, except
in tests marked `full_compile`, which see the programs as users' runs compile them."""
import os

import jax
import jax.numpy as jnp
import pytest
from jax._src import compiler

CHEAP = os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"] != "0"


def _double():
  return jax.jit(lambda x: 2 * x)


def test_the_suite_compiles_with_least_optimisation():
  assert compiler._DISABLE_MOST_OPTIMIZATIONS.value is CHEAP


@pytest.mark.full_compile
def test_a_full_compile_test_compiles_fully():
  assert compiler._DISABLE_MOST_OPTIMIZATIONS.value is False
  assert float(_double()(jnp.float32(3))) == 6.0


def test_the_next_test_is_cheap_again():
  assert compiler._DISABLE_MOST_OPTIMIZATIONS.value is CHEAP
