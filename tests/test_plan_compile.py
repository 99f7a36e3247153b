"""`plan --compile`: programs compiled for a TPU slice by the TPU compiler (libtpu), no TPU.

A reduced-depth (2-layer), full-width Qwen3-4B on the v5p-64 topology (32 chips, 8 hosts of
4): the update's micro-batch gradient and the engine's decode window, as the trainer runs
them, against the planner's bytes for the same programs.
"""

import os

import pytest

os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")   # xdist workers share libtpu

from spice_jax import plan  # noqa: E402
from spice_jax.planning import compile as compile_lib  # noqa: E402
from spice_jax.planning import hardware, memory  # noqa: E402
from spice_jax.planning import workload as wl  # noqa: E402

LAYOUT = "v5p-64"
# The per-chip bytes and costs are the TPU compiler's for the programs as users compile them.
pytestmark = pytest.mark.full_compile


def small_paper_config():
  """qwen3_4b on v5p-64 at 2 layers' depth and 1k-token sequences: the paper's widths,
  meshes, engine and dtypes, short enough to compile in a test."""
  config, _ = plan.load_config(f"experiments/qwen3_4b.py:{LAYOUT}")
  config.corpus.max_doc_tokens = 256
  config.spice.challenger_max_tokens = config.spice.reasoner_max_tokens = 256
  # A pool of the paper configs' order (about 1 GB per chip, as 21k pages of 2 layers), not
  # the few pages that 1k-token rows would want: the engine's pool temporaries are modelled
  # for that regime (sampling/config.py POOL_TEMPS).
  config.engine.kv_pages = 16384
  return config


@pytest.fixture(scope="module")
def report():
  # One role's engine programs (the Challenger's: the longer prompt); the Reasoner's differ
  # only in table width and sampling settings.
  return compile_lib.check(small_paper_config(), hardware.layout(LAYOUT), layers=2,
                           roles=("challenger",))


@pytest.mark.slow
def test_programs_compile_for_the_slice(report):
  kinds = {p.kind for p in report.programs}
  assert {"update/prepass", "update/grads", "update/step", "sampler/prepare",
          "sampler/window/challenger", "sampler/prefill/challenger"} <= kinds
  assert report.facts["mesh"] == {"data": 1, "fsdp": 32, "tensor": 1}
  assert report.facts["sampler_mesh"] == {"data": 1, "fsdp": 1, "tensor": 4}  # one host
  assert report.facts["attention"] == "splash" and report.facts["kv_dtype"] == "bfloat16"
  grads = next(p for p in report.programs if p.kind == "update/grads")
  # The gradient's output is the f32 gradient, sharded like the params over 32 chips.
  params = sum(x.size for x in __import__("jax").tree.leaves(compile_lib.abstract_params(
      report.model)))
  assert abs(grads.outputs / (4 * params / 32) - 1) < 0.02
  assert grads.flops > 0 and grads.roofline_s(report.layout.chip) > 0
  text = compile_lib.render(report)
  assert text.splitlines()[-1].startswith(f"compiled for {LAYOUT}: peak ")
  assert text.splitlines()[-1].endswith(": fits")


@pytest.mark.slow
def test_planner_within_15_percent_of_the_compiler(report):
  config = small_paper_config()
  layout = hardware.layout(LAYOUT)
  w = wl.from_config(config, layout.chips, platform="tpu")
  w = w.__class__(**{**w.__dict__, "model": w.model.replace(n_layers=2)})
  planned = memory.program_bytes(w, report.facts)
  assert len(report.programs) == 6
  # every program: update pre-pass, gradient, step; the engine's prepare, prefill, window
  ratios = {p.kind: planned[p.kind] / p.bytes for p in report.programs}
  assert all(abs(r - 1) <= 0.15 for r in ratios.values()), ratios


def test_unknown_slice_is_one_clear_line():
  bad = hardware.Layout("v5p-bogus", hardware.chips()["v5p"], 32, "",
                        {"name": "v5p:9x9x9", "chip_config": "megacore", "host_bounds": [2, 2, 1]})
  with pytest.raises(compile_lib.CompileError, match=r"cannot describe TPU slice v5p-bogus"):
    compile_lib.topology_devices(bad)


def test_a_gpu_layout_has_nothing_to_compile():
  with pytest.raises(compile_lib.CompileError, match="not a TPU slice"):
    compile_lib.topology_devices(hardware.layout("h100x8"))
