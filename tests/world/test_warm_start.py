"""The committed world warm start (tests/world/warm_start/) is what tools/world_warm_start.py
makes: the script's first PREFIX steps, re-run here, match the fingerprint it recorded when
it made the committed model (same tokenizer byte for byte, same losses, same weights), and
the committed files load as the world model.

Tolerance: XLA:CPU may order float32 sums differently on another CPU or device count (the
fingerprint was made with 1 CPU device, the suite simulates 8), so losses are compared to
rtol 1e-5 and per-tensor statistics to rtol 1e-4 (40 Adam steps at lr 3e-3 move weights by
~1e-1, a different data order or config would move these statistics by far more)."""

import importlib.util
import json
import os

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
WARM = os.path.join(HERE, "warm_start")


def _tool():
  path = os.path.join(HERE, "..", "..", "tools", "world_warm_start.py")
  spec = importlib.util.spec_from_file_location("world_warm_start_tool", path)
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  return mod


def _recorded():
  with open(os.path.join(WARM, "fingerprint.json")) as f:
    return json.load(f)


def test_committed_warm_start_loads_as_the_world_model():
  from experiments import world_small
  from spice_jax import models
  from spice_jax.models import presets
  fp = _recorded()
  m = models.load(WARM)
  want = presets.get(world_small.PRESET)
  for field in ("family", "vocab_size", "d_model", "n_layers", "n_heads", "mlp_dim"):
    assert getattr(m.config, field) == getattr(want, field), field
  assert m.tokenizer.vocab_size == want.vocab_size
  assert fp["steps"] == fp["final_step"] == world_small.sft_config().train.steps
  tool = _tool()
  assert tool._sha(os.path.join(WARM, "tokenizer.json")) == fp["tokenizer_sha256"]
  size = os.path.getsize(os.path.join(WARM, "model.safetensors"))
  assert size < 2_000_000, size          # a small file in the repository


@pytest.mark.slow
def test_the_script_reproduces_the_recorded_prefix(tmp_path):
  tool = _tool()
  got = tool.run(str(tmp_path / "out"), prefix_only=True, workdir=str(tmp_path / "work"))
  want = _recorded()
  assert got["prefix_steps"] == want["prefix_steps"]
  assert got["tokenizer_sha256"] == want["tokenizer_sha256"]
  assert set(got["losses"]) == {int(k) for k in want["losses"]}
  for step, loss in got["losses"].items():
    np.testing.assert_allclose(loss, want["losses"][str(step)], rtol=1e-5, err_msg=str(step))
  assert got["tensors"].keys() == want["tensors"].keys()
  for name, stats in got["tensors"].items():
    np.testing.assert_allclose(stats, want["tensors"][name], rtol=1e-4, atol=1e-7,
                               err_msg=name)
