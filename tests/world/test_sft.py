"""The SFT step: loss equals a reference NLL over completion tokens; prompt targets get no
gradient; a step lowers the loss; a short run exports a model `models.load` accepts."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from spice_jax import models, parallel, sft, sft_data
from spice_jax.models.config import ModelConfig
from spice_jax.rl import state as state_lib

CFG = ModelConfig(family="llama", vocab_size=50, d_model=32, n_layers=2, n_heads=4,
                  n_kv_heads=2, head_dim=8, mlp_dim=64, rms_eps=1e-5, rope_theta=1e4,
                  tie_embeddings=True, max_seq_len=64)


@pytest.fixture(scope="module")
def model():
  mesh = parallel.make_mesh((1, 1, 1))
  return models.Model(CFG, models.init_params(CFG, mesh, 0), None, mesh)


def _batch(seed=0):
  rng = np.random.default_rng(seed)
  enc = [sft_data.Encoded(tuple(rng.integers(1, 50, 7)), tuple(rng.integers(1, 50, 5))),
         sft_data.Encoded(tuple(rng.integers(1, 50, 3)), tuple(rng.integers(1, 50, 9)))]
  return sft_data.pad_rows(enc, 16, pad_id=0), enc


def test_pad_rows_masks_exactly_the_completion_targets():
  b, enc = _batch()
  for i, e in enumerate(enc):
    seq = list(e.prompt) + list(e.completion)
    on = np.nonzero(b["loss_mask"][i])[0]
    assert list(b["targets"][i, on]) == list(e.completion)
    assert list(b["tokens"][i, :len(seq) - 1]) == seq[:-1]


def test_loss_matches_reference_nll(model):
  b, enc = _batch()
  got = float(jax.jit(lambda p, x: sft.sft_loss(model.module(), p, x))(model.params, b))
  nll = []
  for e in enc:  # reference: full forward of the unpadded sequence, numpy log-softmax
    seq = np.array([list(e.prompt) + list(e.completion)])
    logits = model.logits(seq[:, :-1])[0].astype(np.float64)
    logp = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1,
                                                                             keepdims=True)) \
        - logits.max(-1, keepdims=True)
    for t in range(len(e.prompt) - 1, seq.shape[1] - 1):
      nll.append(-logp[t, seq[0, t + 1]])
  np.testing.assert_allclose(got, np.mean(nll), rtol=2e-5)


def test_prompt_targets_get_no_gradient(model):
  b, _ = _batch()
  grad = jax.jit(jax.grad(lambda p, x: sft.sft_loss(model.module(), p, x)))
  g0 = grad(model.params, b)
  changed = dict(b)
  t = b["targets"].copy()
  t[b["loss_mask"] == 0] = 7  # rewrite every prompt / padding target
  changed["targets"] = t
  g1 = grad(model.params, changed)
  for a, c in zip(jax.tree.leaves(g0), jax.tree.leaves(g1)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(c))
  assert any(float(jnp.abs(x).max()) > 0 for x in jax.tree.leaves(g0))


def test_step_lowers_the_loss(model):
  b, _ = _batch()
  st = state_lib.create(jax.tree.map(jnp.copy, model.params), state_lib.OptimConfig(lr=1e-2))
  step = sft.make_step(model.module())
  st, m0 = step(st, b)
  for _ in range(5):
    st, m = step(st, b)
  assert float(m["loss"]) < float(m0["loss"]) - 0.1
  assert int(st.step) == 6


def test_short_run_exports_a_loadable_model_and_resumes(tmp_path):
  from experiments import world_small
  from spice_jax.data import world_build
  files = world_build.build(str(tmp_path / "world"), n_warm=300, n_spice=4, n_renamed=4)
  c = world_small.sft_config()
  c.data.examples = files.warm_examples
  c.train.update(steps=4, batch_size=4, checkpoint_every=2, log_every=2)
  wd = str(tmp_path / "sft")
  out = sft.train(c, wd)
  assert np.isfinite(out["loss"])
  m = models.load(wd)
  assert m.tokenizer.eos_ids and m.tokenizer.chat_template
  assert m.config.vocab_size == m.tokenizer.vocab_size == 600
  c.train.steps = 6                       # resume from the step-4 checkpoint
  sft.train(c, wd)
  assert len(open(os.path.join(wd, "sft_metrics.jsonl")).readlines()) == 3
