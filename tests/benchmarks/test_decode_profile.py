"""`benchmarks/decode_profile.py` maps trace events back to HLO ops: on a tiny model the
decode loop's breakdown names its matmuls and their shapes (an unmapped op prints '?')."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_decode_profile_names_the_decode_ops():
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  env.pop("XLA_FLAGS", None)
  p = subprocess.run([sys.executable, "benchmarks/decode_profile.py", "--model=tiny-llama",
                      "--batch=4", "--prompt_len=8", "--new_tokens=8", "--top=50"], cwd=ROOT,
                     env=env, capture_output=True, text=True, timeout=300)
  assert p.returncode == 0, p.stderr[-3000:]
  out = p.stdout
  assert "top ops of jit_decode" in out, out
  rows = [l for l in out.splitlines() if re.match(r"\s*\d+\.\d%", l)]
  assert rows, out
  # tiny-llama: d_model 64, 4 x 16 q heads + 2 x 2 x 16 k/v heads = 128 fused q/k/v outputs.
  assert any("f32[4,128]" in l and "dot_general" in l for l in rows), out
  assert sum(float(l.split("%")[0]) for l in rows) <= 100.5
  assert not any(" ? " in l for l in rows), out
