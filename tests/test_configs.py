"""Typed config sections: unknown fields name the nearest known one; each owner validates."""
import os
import subprocess
import sys

import ml_collections
import pytest

from spice_jax.errors import ConfigError, SpiceError
from spice_jax.run_config import RunConfig
from spice_jax.spice.config import SpiceConfig
from spice_jax.utils import cli, configs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "experiments", "demo_cpu.py")


def test_nearest_known_field():
  known = ["train.iterations", "train.checkpoint_every", "spice.num_docs", "rl.lr"]
  assert configs.nearest("num_iterations", known)[0] == "train.iterations"
  assert configs.nearest("spice.num_doc", known)[0] == "spice.num_docs"


def test_unknown_spice_field_and_bad_enum():
  with pytest.raises(ConfigError, match=r"config\.spice\.group_sise: unknown field; did you "
                     r"mean spice\.group_size"):
    SpiceConfig.from_config({"group_sise": 4})
  with pytest.raises(ConfigError, match=r"config\.spice\.format_selection: 'modle'"):
    SpiceConfig.from_config({"format_selection": "modle"})
  with pytest.raises(ConfigError, match=r"config\.spice\.reward_params: threshold: unknown "
                     r"parameter 'sigma2'"):
    SpiceConfig.from_config({"challenger_reward": "threshold",
                             "reward_params": {"threshold": {"sigma2": 0.1}}})
  with pytest.raises(ConfigError, match="expected int"):
    SpiceConfig.from_config({"group_size": "8"})
  assert issubclass(ConfigError, SpiceError) and issubclass(ConfigError, ValueError)


def test_legacy_fields_from_saved_runs_are_read():
  sp = SpiceConfig.from_config({"reasoner_template": "plain", "reward_sigma2": 0.05,
                                "rzero_p": "gold"})
  assert sp.chat_layout == "plain" and sp.reward_kwargs == {"sigma2": 0.05}


def test_run_config_checks_every_section():
  c = cli.load_config_file(DEMO)
  rc = RunConfig.from_config(c)
  assert rc.spice.chat_layout == "chat" and rc.train.iterations == c.train.iterations
  c.rl.advantage = "gae"
  with pytest.raises(ConfigError, match=r"config\.rl\.advantage: 'gae'"):
    RunConfig.from_config(c)
  c.rl.advantage, c.rl.micro_rows = "dr_grpo", 0
  with pytest.raises(ConfigError, match=r"config\.rl\.micro_rows: 0: must be >= 1"):
    RunConfig.from_config(c)
  c.rl.micro_rows, c.rl.adam_eps = 1, 0.0
  with pytest.raises(ConfigError, match=r"config\.rl\.adam_eps: 0\.0: must be > 0"):
    RunConfig.from_config(c)
  c.rl.adam_eps = 1e-3
  assert RunConfig.from_config(c).rl.optim().eps == 1e-3


def test_unknown_override_message():
  msg = cli.unknown_override(["prog", f"--config={DEMO}", "--config.num_iterations=1"])
  assert msg.startswith("config.num_iterations: unknown field; did you mean train.iterations")
  assert cli.unknown_override(["prog", f"--config={DEMO}", "--config.train.iterations=1"]) is None


def test_mistyped_override_is_one_line_on_the_command_line(tmp_path):
  p = subprocess.run([sys.executable, "-m", "spice_jax.train", f"--config={DEMO}",
                      f"--workdir={tmp_path}", "--config.num_iterations=1"],
                     capture_output=True, text=True, timeout=120, cwd=ROOT)
  assert p.returncode == 2
  lines = p.stderr.strip().splitlines()
  assert len(lines) == 1, lines
  assert lines[0].startswith("error: config.num_iterations: unknown field; did you mean "
                             "train.iterations")


def test_model_arch_checks_the_loaded_shape():
  from spice_jax import models
  from spice_jax.run_config import ModelSection, check_arch
  check_arch(ModelSection(source="tiny-llama", arch="tiny-llama"), models.PRESETS["tiny-llama"])
  with pytest.raises(ConfigError, match=r"config\.model\.source: 'tiny-qwen3' is not a "
                     r"tiny-llama \(config\.model\.arch\): .*family=qwen3"):
    check_arch(ModelSection(source="tiny-qwen3", arch="tiny-llama"),
               models.PRESETS["tiny-qwen3"])
  with pytest.raises(ConfigError, match=r"config\.model\.arch: 'qwen9' is not a preset"):
    ModelSection(source="tiny-llama", arch="qwen9").validate()
