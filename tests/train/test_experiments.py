"""Every experiments/ config loads, validates (paths stubbed) and builds its shapes."""
import glob
import importlib.util
import os

import jax
import pytest

from spice_jax import models, parallel, train
from spice_jax.rl import state as state_lib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = sorted(
    p for p in glob.glob(os.path.join(ROOT, "experiments", "**", "*.py"), recursive=True)
    if os.path.basename(p) not in ("__init__.py", "base.py", "paper.py"))


def _load(path):
  spec = importlib.util.spec_from_file_location("cfg_" + os.path.basename(path)[:-3], path)
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  return mod.get_config()


def test_there_is_a_config_per_ablation():
  names = {os.path.basename(p)[:-3] for p in CONFIGS}
  for n in ["demo_cpu", "qwen3_4b", "qwen3_8b", "octothinker_3b", "octothinker_8b", "spice",
            "no_corpus", "fixed_challenger", "strong_challenger", "reward_absolute_zero",
            "reward_threshold", "reward_rzero", "mcq_only", "free_form_only",
            "corpus_math_only", "corpus_general_only", "r_zero"]:
    assert n in names, n


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: os.path.relpath(p, ROOT))
def test_config_validates_and_builds_shapes(path, tmp_path):
  c = _load(path)
  preset = c.model.arch or c.model.source
  assert preset in models.PRESETS, f"{path}: no preset for shape checks"
  c.model.source = preset
  if c.spice.challenger not in ("policy", "initial"):
    c.spice.challenger = preset
  if c.corpus.enabled and not c.corpus.build_demo:
    c.corpus.data_dir = str(tmp_path)
  train.validate(c)
  cfg = models.PRESETS[preset]
  mesh = parallel.make_mesh(tuple(c.mesh.shape))
  boxed = models.abstract_params(cfg)
  abstract = parallel.unbox(boxed)
  st = state_lib.abstract_state(abstract, dict(lr=c.rl.lr, b1=c.rl.b1, b2=c.rl.b2))
  n = sum(x.size for x in jax.tree.leaves(st.params))
  assert n == cfg.num_params()
  shard = parallel.shardings(boxed, mesh)
  assert len(jax.tree.leaves(shard)) == len(jax.tree.leaves(abstract))
