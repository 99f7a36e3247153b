"""The evaluate CLI: benchmark selection, model sources, results merging, end-to-end run."""
import csv
import json
import os
import subprocess
import sys

import pytest

from spice_jax import evaluate, models
from spice_jax.eval import benchmarks as B

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "fixtures", "data")
ROOT = os.path.dirname(os.path.dirname(HERE))


def test_select_benchmarks():
  assert evaluate.select_benchmarks(["all"]) == list(B.BENCHMARKS)
  assert evaluate.select_benchmarks(["general"]) == list(B.GENERAL_BENCHMARKS)
  got = evaluate.select_benchmarks(["MATH-500", "math", "bbeh", "BBEH"])
  assert got == list(B.MATH_BENCHMARKS) + ["bbeh"]
  with pytest.raises(B.BenchmarkError, match="unknown benchmark"):
    evaluate.select_benchmarks(["hellaswag"])


def test_parse_files_and_load_items(tmp_path):
  p = tmp_path / "my_gsm.jsonl"
  p.write_text(json.dumps({"question": "q?", "answer": "x\n#### 3"}) + "\n")
  files = evaluate.parse_files([f"GSM8K={p}"])
  assert files == {"gsm8k": [str(p)]}
  items = evaluate.load_items(["gsm8k", "aime25"], data_dir=DATA, files=files, limit=2)
  assert [(it.benchmark, it.gold) for it in items] == [("gsm8k", "3"), ("aime25", "21"),
                                                      ("aime25", "24")]
  with pytest.raises(evaluate.EvalError, match="expected name=path"):
    evaluate.parse_files(["gsm8k"])
  with pytest.raises(evaluate.EvalError, match="no --data_dir"):
    evaluate.load_items(["gsm8k"])


def test_missing_benchmark_fails_before_loading_any_model(tmp_path):
  with pytest.raises(B.BenchmarkError, match="GPQA-Diamond"):
    evaluate.run_eval(["/nonexistent/model.gguf"], ["gpqa_diamond"], str(tmp_path / "o"),
                      data_dir=str(tmp_path))


def test_labels_and_run_dir_detection(tmp_path):
  assert evaluate._unique_labels(["a", "b", "a", "a"]) == ["a", "b", "a#2", "a#3"]
  hf = tmp_path / "hf"
  hf.mkdir()
  (hf / "config.json").write_text("{}")
  run = tmp_path / "run"
  (run / "checkpoints" / "3").mkdir(parents=True)
  assert evaluate.is_run_dir(str(run)) and not evaluate.is_run_dir(str(hf))
  assert not evaluate.is_run_dir(str(tmp_path / "nothing"))
  assert evaluate.split_step(f"{run}@3") == (str(run), 3)
  assert evaluate.split_step(str(run)) == (str(run), None)
  assert evaluate.split_step("org/model@v2") == ("org/model@v2", None)
  assert evaluate.split_step(f"{hf}@3") == (f"{hf}@3", None)  # not a run dir


def test_load_model_sources(tiny_run, tmp_path):
  """Run directory (dir@step), HF directories with / without tokenizer files, presets."""
  import jax
  import numpy as np
  from spice_jax.models import weights
  workdir, mesh = tiny_run
  m, template, label = evaluate.load_model(f"{workdir}@1", mesh=mesh)
  assert label == f"{os.path.basename(workdir)}@1" and template == "chat"
  vocab = models.PRESETS["tiny-bpe"].vocab_size          # the tiny run's preset
  assert m.tokenizer is not None and m.config.vocab_size == vocab
  leaf = np.asarray(jax.tree.leaves(m.params)[0])
  # An HF directory with tokenizer files, and one without (needs --tokenizer).
  with_tok, no_tok = str(tmp_path / "tiny_hf"), str(tmp_path / "bare_hf")
  weights.export_hf(m.params, m.config, with_tok, m.tokenizer)
  weights.export_hf(m.params, m.config, no_tok)
  mh, template, label = evaluate.load_model(with_tok, mesh=mesh)
  assert label == "tiny_hf" and template == "chat" and mh.tokenizer.vocab_size == vocab
  np.testing.assert_allclose(np.asarray(jax.tree.leaves(mh.params)[0]), leaf, rtol=1e-6)
  with pytest.raises(evaluate.EvalError, match="no tokenizer; pass --tokenizer"):
    evaluate.load_model(no_tok, mesh=mesh)
  mb, _, _ = evaluate.load_model(no_tok, mesh=mesh, tokenizer=with_tok)
  assert mb.tokenizer.encode("2 + 2") == m.tokenizer.encode("2 + 2")
  # Presets: random models without a tokenizer give a clear error.
  with pytest.raises(evaluate.EvalError, match="'tiny-llama' has no tokenizer"):
    evaluate.load_model("tiny-llama", mesh=mesh)
  with pytest.raises(evaluate.EvalError, match="larger than the model's"):
    evaluate.load_model("tiny-llama", mesh=mesh, tokenizer=with_tok)


def test_write_results_append_merges_rows(tmp_path):
  out = str(tmp_path)
  evaluate.write_results({"a": {"gsm8k": 0.5, "overall": 0.5}},
                         {"models": {"a": {"items": 3}}}, out)
  paths = evaluate.write_results({"b": {"gsm8k": 0.25, "overall": 0.25}},
                                 {"models": {"b": {"items": 3}}}, out, append=True)
  data = json.load(open(paths["json"]))
  assert list(data["results"]) == ["a", "b"] and set(data["meta"]["models"]) == {"a", "b"}
  assert open(paths["md"]).read().count("\n") == 4  # header, rule, 2 rows
  paths = evaluate.write_results({"c": {"gsm8k": 0.0}}, {"models": {}}, out)
  assert list(json.load(open(paths["json"]))["results"]) == ["c"]  # no append: replaced


@pytest.mark.slow
def test_cli_end_to_end_on_smollm2(tmp_path):
  """`python -m spice_jax.evaluate` on the embedded SmolLM2 (GGUF) over all 11 fixtures."""
  from spice_jax.models import model as model_lib
  gguf = model_lib.embedded_gguf_path()
  out = tmp_path / "eval"
  cmd = [sys.executable, "-m", "spice_jax.evaluate", f"--model={gguf}", "--benchmarks=all",
         f"--data_dir={DATA}", f"--out={out}", "--limit=2", "--max_new_tokens=8",
         "--aime_samples=2", "--batch_size=64", "--verifier_workers=1", "--noprogress"]
  # One CPU device (the CLI's default outside tests): generation needs no simulated mesh.
  env = dict(os.environ, XLA_FLAGS="")
  proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
  assert proc.returncode == 0, proc.stderr[-3000:]
  label = "SmolLM2-135M-Instruct.Q4_1"
  assert "items/s" in proc.stdout and f"| {label} |" in proc.stdout
  # Table: Markdown, CSV and JSON with all 11 benchmarks and the three averages.
  md = (out / "results.md").read_text().splitlines()
  assert md[0].startswith("| Model | MATH-500 | GSM8K | AMC23 | AIME'24 | AIME'25 |")
  assert md[0].endswith("| Math avg | General avg | Overall |") and len(md) == 3
  with open(out / "results.csv") as f:
    rows = list(csv.reader(f))
  assert rows[0] == ["model"] + list(B.BENCHMARKS) + ["math_avg", "general_avg", "overall"]
  res = json.load(open(out / "results.json"))
  acc = res["results"][label]
  assert set(acc) == set(B.BENCHMARKS) | {"math_avg", "general_avg", "overall"}
  assert all(0.0 <= v <= 1.0 for v in acc.values())
  assert acc["overall"] == pytest.approx(sum(acc[b] for b in B.BENCHMARKS) / 11)
  assert res["meta"]["models"][label]["items"] == 22
  # Per-answer JSONL: 9 greedy benchmarks x 2 items + 2 AIME x 2 items x 2 samples.
  recs = [json.loads(line) for line in open(out / label / "outputs.jsonl")]
  assert len(recs) == 9 * 2 + 2 * 2 * 2
  for r in recs:
    assert r["model"] == label and r["new_tokens"] <= 8 and r["prompt_tokens"] > 0
    assert r["temperature"] == (0.6 if r["benchmark"] in ("aime24", "aime25") else 0.0)
  assert {r["benchmark"] for r in recs} == set(B.BENCHMARKS)
  # Per-answer verdicts reproduce the table.
  from spice_jax.eval import scoring
  assert scoring.benchmark_accuracy(recs) == pytest.approx(
      {b: acc[b] for b in B.BENCHMARKS})
  assert json.load(open(out / label / "summary.json"))["stats"]["items_per_s"] > 0
  with open(out / "results.png", "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"
