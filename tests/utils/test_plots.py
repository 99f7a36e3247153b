"""Tests for spice_jax.utils.plots: the run curves (module CLI) and the grouped bar chart."""

import json
import os

from spice_jax.utils import plots

PNG = b"\x89PNG\r\n\x1a\n"


def test_cli_writes_the_run_curves(tmp_path, capsys):
  with open(tmp_path / "metrics.jsonl", "w") as f:
    for step in range(3):
      f.write(json.dumps({"step": step, "loss": 1.0 / (step + 1), "reasoner/accuracy": 0.1 * step,
                          "challenger/valid_rate": 0.5}) + "\n")
  plots.main(["--workdir", str(tmp_path)])
  out = capsys.readouterr().out.strip()
  assert out == str(tmp_path / "plots" / "curves.png")
  with open(out, "rb") as f:
    assert f.read(8) == PNG


def test_grouped_bars(tmp_path):
  path = plots.grouped_bars({"base": [10.0, None, 30.0], "spice": [20.0, 25.0, 35.0]},
                            ["a", "b", "avg"], str(tmp_path / "sub" / "bars.png"), ymax=100,
                            split_at=2)
  with open(path, "rb") as f:
    assert f.read(8) == PNG
  assert os.path.getsize(path) > 3000
