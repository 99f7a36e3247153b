"""Fixtures shared by the self-play tests: the embedded tokenizer and a verifier pool."""
import pytest

from spice_jax import models
from spice_jax.models import tokenizer as tok_lib
from spice_jax.spice import verify


@pytest.fixture(scope="module")
def tok():
  return tok_lib.from_gguf(models.embedded_gguf_path())


@pytest.fixture(scope="module")
def pool():
  with verify.VerifierPool(1, timeout=10.0) as p:
    yield p
