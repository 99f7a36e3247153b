"""`config.engine` (sampling.config.EngineConfig): validated by its owner, carried by the run
config, and turned into the Sampler's settings."""
import dataclasses
import inspect
import os

import ml_collections
import pytest

from spice_jax import models
from spice_jax.errors import ConfigError
from spice_jax.run_config import RunConfig
from spice_jax.sampling import Sampler
from spice_jax.sampling import config as config_lib
from spice_jax.sampling.config import EngineConfig
from spice_jax.utils import cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("field,value,msg", [
    ("engine", "paged", r"config\.engine\.engine: 'paged'"),
    ("slots", 0, r"config\.engine\.slots: must be >= 1"),
    ("window", 0, r"config\.engine\.window: must be >= 1"),
    ("page_size", 0, r"config\.engine\.page_size: must be >= 1"),
    ("kv_pages", 1, r"config\.engine\.kv_pages: must be 0"),
    ("hbm_fraction", 1.5, r"config\.engine\.hbm_fraction: must be in \(0, 1\]"),
    ("kv_dtype", "fp8", r"config\.engine\.kv_dtype: 'fp8'"),
    ("prefill_chunk", 0, r"config\.engine\.prefill_chunk: must be >= 1"),
])
def test_bad_field_is_one_line_naming_it(field, value, msg):
  with pytest.raises(ConfigError, match=msg) as e:
    EngineConfig.from_config({field: value})
  assert "\n" not in str(e.value)


def test_unknown_field_names_the_nearest():
  with pytest.raises(ConfigError, match=r"config\.engine\.slot: unknown field; did you mean "
                     r"engine\.slots"):
    EngineConfig.from_config({"slot": 8})


def test_defaults_are_the_samplers_and_base_configs():
  """EngineConfig() reproduces Sampler's own defaults, and experiments/base.py's section is
  EngineConfig() field for field."""
  params = inspect.signature(Sampler.__init__).parameters
  kw = EngineConfig().sampler_kwargs()
  for name, val in kw.items():
    assert params[name].default == val, name
  base = cli.load_config_file(os.path.join(ROOT, "experiments", "base.py"))
  assert set(base.engine.keys()) == {f.name for f in dataclasses.fields(EngineConfig)}
  # The trainer may pin the engine ("continuous": its calls have stop ids, where "auto"
  # picks the engine anyway); every other field is the default.
  assert base.engine.engine in ("auto", "continuous")
  assert EngineConfig.from_config(base.engine) == EngineConfig(engine=base.engine.engine)


def test_run_config_carries_and_validates_engine():
  demo = cli.load_config_file(os.path.join(ROOT, "experiments", "demo_cpu.py"))
  demo.engine.slots, demo.engine.kv_dtype = 16, "bfloat16"
  rc = RunConfig.from_config(demo)
  assert rc.engine == EngineConfig(engine=demo.engine.engine, slots=16, kv_dtype="bfloat16")
  demo.engine.window = -2
  with pytest.raises(ConfigError, match=r"config\.engine\.window"):
    RunConfig.from_config(demo)
  del demo["engine"]  # configs saved before the section existed: the defaults
  assert RunConfig.from_config(demo).engine == EngineConfig()


def test_sampler_takes_the_settings(mesh1):
  cfg = models.PRESETS["tiny-llama"]
  eng = EngineConfig(engine="static", slots=8, window=4, page_size=16, kv_pages=64,
                     hbm_fraction=0.5, kv_dtype="bfloat16", prefill_chunk=64, prefill_rows=2)
  s = Sampler(cfg, mesh1, **eng.sampler_kwargs())
  c = s._continuous
  assert (s.engine, s.cache_dtype) == ("static", "bfloat16")
  assert (c.slots, c.window, c.page_size, c.kv_pages, c.hbm_fraction, c.prefill_chunk,
          c.prefill_rows) == (8, 4, 16, 64, 0.5, 64, 2)
  auto = Sampler(cfg, mesh1, **EngineConfig(kv_pages=0).sampler_kwargs())
  assert auto._continuous.kv_pages is None and auto.cache_dtype == "float32"  # cpu


class _Dev:
  def __init__(self, stats):
    self.stats = stats

  def memory_stats(self):
    return self.stats


def test_memory_budget():
  assert config_lib.device_budget(_Dev(None), 0.9) is None
  assert config_lib.device_budget(_Dev({"bytes_limit": 1000, "bytes_in_use": 300}),
                                  0.9) == pytest.approx(600.0)
  assert config_lib.pages_in_budget(600.0, 64) == 9
  assert config_lib.pages_in_budget(-5.0, 64) == 0


def test_default_config_round_trips():
  c = config_lib.default_config()
  assert isinstance(c, ml_collections.ConfigDict)
  assert EngineConfig.from_config(c) == EngineConfig()


def test_memory_cap_is_what_fits_measured_once(mesh1, monkeypatch):
  """The pool's memory cap: the pages the budget holds, down to a multiple of 16 (not a
  power of two), measured at the first call and kept when memory in use moves later."""
  assert config_lib.memory_pages(30120) == 30112
  assert config_lib.memory_pages(30112) == 30112
  assert config_lib.memory_pages(1) == 2
  cfg = models.PRESETS["tiny-llama"]
  eng = Sampler(cfg, mesh1, **EngineConfig(kv_pages=0).sampler_kwargs())._continuous
  from spice_jax.sampling import paged
  page = paged.page_bytes(cfg, eng.page_size, eng.s._cache_dt)
  budgets = iter([1000.5 * page, 10.0 * page])
  monkeypatch.setattr(config_lib, "device_budget", lambda device, fraction: next(budgets))
  monkeypatch.setattr(config_lib, "pool_share", lambda platform, n_layers: 1.0)
  assert eng._memory_pages() == 992          # 1000 pages fit: 992 = 62 x 16
  assert eng._memory_pages() == 992          # kept: the second budget is never read
