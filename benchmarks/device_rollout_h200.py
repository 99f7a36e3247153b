r"""Device check (one H200): static vs continuous vs transformers bf16 `generate`, Qwen3-1.7B
shape with random bf16 weights; tokens/s and the fraction of the HBM-bandwidth roofline
reached in decode. Uses only the jax, torch and transformers already installed; downloads
nothing. Sized for < 8 minutes (a time guard skips what is left after `--budget_s`).

  python benchmarks/device_rollout_h200.py            # on the device (GPU)
  python benchmarks/device_rollout_h200.py --tiny     # end-to-end smoke run on CPU

Parts, each printing its table as soon as it is done:
  1. uniform: B rows, distinct P-token prompts, exactly N new tokens (roofline at B >= 128);
  2. spice: D documents x G attempts sharing a P-token prompt, then K answers per task to
     Q-token prompts, lognormal per-row caps (see benchmarks/rollout.py).
Roofline of a decode step = (bf16 weight bytes + KV bytes read at the mean context) / HBM
bandwidth; the fraction is that over the measured decode time per step (decode only).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rollout  # noqa: E402  (benchmarks/rollout.py: workload and runners)

_TINY = flags.DEFINE_bool("tiny", False, "Tiny Qwen3 shape and workload (CPU smoke run).")
_HBM = flags.DEFINE_float("hbm_tb_s", 4.8, "HBM bandwidth in TB/s (H200: 4.8).")
_BUDGET = flags.DEFINE_float("budget_s", 420.0, "Skip remaining parts after this many seconds.")
flags.FLAGS.set_default("slots", 128)  # rollout.py's flag: continuous engine decode slots
_SLOTS = rollout._SLOTS


def qwen3_1p7b():
  from spice_jax import models
  return models.PRESETS["qwen3-1.7b"]


def tiny_qwen3():
  return qwen3_1p7b().replace(vocab_size=512, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2,
                              head_dim=32, mlp_dim=128, max_seq_len=4096)


def hf_model(cfg, device: str, dtype):
  """transformers Qwen3 with the same shape, random weights, built on `device`."""
  import torch
  import transformers
  hc = transformers.Qwen3Config(
      vocab_size=cfg.vocab_size, hidden_size=cfg.d_model, intermediate_size=cfg.mlp_dim,
      num_hidden_layers=cfg.n_layers, num_attention_heads=cfg.n_heads,
      num_key_value_heads=cfg.n_kv_heads, head_dim=cfg.head_dim, rms_norm_eps=cfg.rms_eps,
      rope_theta=cfg.rope_theta, tie_word_embeddings=cfg.tie_embeddings,
      max_position_embeddings=cfg.max_seq_len)
  torch.manual_seed(0)
  with torch.device(device):
    m = transformers.Qwen3ForCausalLM(hc)
  return m.to(dtype).eval()


def roofline_fraction(cfg, r: dict, rows: int, mean_ctx: float, tb_s: float) -> float:
  """Roofline decode-step time over the measured one (weights + KV, bf16)."""
  if not r.get("decode_steps"):
    return float("nan")
  weight_bytes = 2 * cfg.num_params()
  kv_bytes = rows * mean_ctx * rollout.kv_bytes_per_token(cfg, 2)
  ideal = (weight_bytes + kv_bytes) / (tb_s * 1e12)
  return ideal / (r["decode_s"] / r["decode_steps"])


def main(argv):
  del argv
  import jax
  import torch
  from spice_jax import models, parallel, sampling
  t_start = time.perf_counter()
  tiny = _TINY.value
  cfg = tiny_qwen3() if tiny else qwen3_1p7b()
  gpu = torch.cuda.is_available() and not tiny
  device = "cuda" if gpu else "cpu"
  print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}; torch {torch.__version__} "
        f"on {device}; params {cfg.num_params() / 1e9:.2f} B", flush=True)
  mesh = parallel.make_mesh((1, 1, 1), devices=jax.devices()[:1])
  params = models.init_params(cfg, mesh, seed=0)
  hf = hf_model(cfg, device, torch.bfloat16)
  if tiny:
    uni = dict(B=8, P=32, N=16)
    spice = dict(docs=2, attempts=4, prompt_len=48, answers=2, question_len=16, max_new=32,
                 cap_median=8.0, cap_sigma=1.0)
  else:
    uni = dict(B=128, P=512, N=256)
    spice = dict(docs=8, attempts=16, prompt_len=1024, answers=4, question_len=64,
                 max_new=512, cap_median=64.0, cap_sigma=1.0)
  rng = np.random.default_rng(0)
  uniform = [(rng.integers(3, cfg.vocab_size, (uni["B"], uni["P"])).tolist(), [uni["N"]] * uni["B"])]
  parts = [("uniform", uniform, uni["B"]),
           ("spice", rollout.spice_workload(cfg.vocab_size, **spice), _SLOTS.value)]
  mk = lambda engine: sampling.Sampler(
      cfg, mesh, dtype="bfloat16", cache_dtype="bfloat16", engine=engine,
      max_prompt_len=max(uni["P"], spice["prompt_len"]), decode_slots=_SLOTS.value,
      window=32, prefill_chunk=512)
  samplers = {e: mk(e) for e in ("static", "continuous")}
  for name, calls, static_rows in parts:
    rows = {}
    for engine, s in samplers.items():
      if time.perf_counter() - t_start > _BUDGET.value:
        print(f"[{name}] {engine}: skipped (time budget)")
        continue
      work = [rollout.call_job(*c)
              for c in rollout.batched(calls, static_rows if engine == "static" else None)]
      r = rollout.run_ours(s, params, work)
      if name == "uniform":
        r["roofline"] = roofline_fraction(cfg, r, uni["B"], uni["P"] + uni["N"] / 2,
                                          _HBM.value)
      rows[f"spice_jax {engine} bf16"] = r
      print(f"[{name}] {engine}: {r['tok_s']:.0f} tok/s, compiles {r['compiles']} "
            f"({r['compile_s']:.0f} s), t={time.perf_counter() - t_start:.0f}s", flush=True)
    if time.perf_counter() - t_start < _BUDGET.value:
      rows["transformers bf16"] = rollout.run_transformers(
          hf, rollout.batched(calls, static_rows), device=device)
    print(f"== {name}")
    print(rollout.table(rows))
    for k, r in rows.items():
      if "roofline" in r:
        print(f"{k}: decode {r['decode_s'] / max(1, r['decode_steps']) * 1e3:.2f} ms/step, "
              f"{100 * r['roofline']:.1f}% of the HBM roofline")
    if "transformers bf16" in rows:
      for k in [k for k in rows if k.startswith("spice_jax")]:
        print(f"{name}: {k} / transformers bf16 tokens/s: "
              f"{rows[k]['tok_s'] / rows['transformers bf16']['tok_s']:.2f}x")
    sys.stdout.flush()
  print(f"total {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
  app.run(main)
