"""Run directories as users type them: relative paths load; a missing one is one line."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from spice_jax import evaluate, models
from spice_jax.utils import checkpointing


@pytest.fixture
def relative_run(tmp_path, monkeypatch):
  """A trainer-like workdir `runs/x` (config.json + checkpoints/3) made through a relative
  path, with the working directory at its parent."""
  monkeypatch.chdir(tmp_path)
  model = models.load("tiny-bpe", seed=7)
  ckpt = checkpointing.Checkpointer(checkpointing.checkpoint_dir("runs/x"), async_save=False)
  ckpt.save(3, model.params, {"step": jnp.zeros((), jnp.int32)},
            {"iteration": 3, "model_source": "tiny-bpe", "dtype": "float32",
             "config": {"spice": {"chat_layout": "plain"}}})
  ckpt.close()
  (tmp_path / "runs" / "x" / "config.json").write_text("{}")
  return model


def _leaves(params):
  return [np.asarray(x) for x in jax.tree.leaves(params)]


def test_relative_run_dir_loads_like_the_absolute_one(relative_run, tmp_path):
  assert checkpointing.Checkpointer("runs/x/checkpoints").directory == str(
      tmp_path / "runs" / "x" / "checkpoints")
  step, meta, root = checkpointing.read_meta("runs/x")
  assert (step, meta["iteration"], root) == (3, 3, str(tmp_path / "runs" / "x" / "checkpoints"))
  rel, s_rel = checkpointing.load_params("runs/x")
  ab, s_ab = checkpointing.load_params(str(tmp_path / "runs" / "x"))
  assert s_rel == s_ab == 3
  for a, b, want in zip(_leaves(rel.params), _leaves(ab.params), _leaves(relative_run.params)):
    np.testing.assert_array_equal(a, want)
    np.testing.assert_array_equal(b, want)


def test_evaluate_takes_a_relative_trainer_workdir(relative_run):
  # --model=runs/x@3: a trainer workdir (it has a config.json, like HF dirs, and checkpoints/)
  assert evaluate.is_run_dir("runs/x")
  model, template, label = evaluate.load_model("runs/x@3")
  assert (template, label) == ("plain", "x@3")
  for a, b in zip(_leaves(model.params), _leaves(relative_run.params)):
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("call,match", [
    (lambda: checkpointing.load_params("runs/nope"), r"^runs/nope: no such run directory \("),
    (lambda: checkpointing.read_meta("runs/x", 5),
     r"^runs/x: no checkpoint of step 5 \(steps: 3\)$"),
    (lambda: checkpointing.read_meta("runs"), r"^runs: no checkpoints found in "),
])
def test_a_missing_run_or_step_is_one_line(relative_run, call, match):
  with pytest.raises(FileNotFoundError, match=match) as e:
    call()
  assert "\n" not in str(e.value)


def test_loading_a_checkpoint_warns_about_nothing(relative_run, caplog):
  """An evaluation loads one checkpoint per step: orbax's notices about the read-only
  manager it was asked for do not reach the terminal (the absl logger's warnings)."""
  import logging
  with caplog.at_level(logging.WARNING):
    checkpointing.load_params("runs/x")
  assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
  assert not any(isinstance(f, checkpointing._ReadOnlyNotice)
                 for f in logging.getLogger("absl").filters)
