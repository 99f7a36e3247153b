"""The H200 device check (`benchmarks/device_rollout_h200.py`) must be ready to run: its
`--tiny` mode (same code path, tiny Qwen3 shape, CPU) runs end to end and prints every row
and ratio the device run is read for. A session with a device gets one short try."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_device_script_runs_tiny():
  p = subprocess.run([sys.executable, "benchmarks/device_rollout_h200.py", "--tiny"], cwd=ROOT,
                     capture_output=True, text=True, timeout=600)
  assert p.returncode == 0, p.stderr[-3000:]
  out = p.stdout
  for part in ("uniform", "spice"):
    assert f"== {part}" in out
    for side in ("spice_jax static bf16", "spice_jax continuous bf16"):
      assert f"{part}: {side} / transformers bf16 tokens/s:" in out, out
  assert out.count("of the HBM roofline") == 2, out
