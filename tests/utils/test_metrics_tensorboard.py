"""MetricsWriter's TensorBoard events: written without importing PyTorch, and readable."""
import json
import os
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_WRITE = """
import json, sys
from spice_jax.utils import metrics
w = metrics.MetricsWriter(sys.argv[1])
w.write(3, {"loss": 0.5, "reward/mean": -1.25, "note": "text"})
w.close()
loaded_after_writer = "torch" in sys.modules
import torch                                   # still importable afterwards
print(json.dumps({"torch_loaded_by_writer": loaded_after_writer,
                  "torch_tensor": torch.ones(2).sum().item()}))
"""


def _scalars(logdir):
  """{(tag, step): value} from the TFRecord-framed Event protos of every events file."""
  from tensorboardX.proto import event_pb2
  out = {}
  for name in os.listdir(logdir):
    with open(os.path.join(logdir, name), "rb") as f:
      data = f.read()
    pos = 0
    while pos < len(data):
      (length,) = struct.unpack("<Q", data[pos:pos + 8])
      event = event_pb2.Event.FromString(data[pos + 12:pos + 12 + length])
      pos += 12 + length + 4                   # length, its crc, payload, payload crc
      for v in event.summary.value:
        out[(v.tag, event.step)] = v.simple_value
  return out


def test_events_written_without_torch_and_torch_still_imports(tmp_path):
  env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu")
  p = subprocess.run([sys.executable, "-c", _WRITE, str(tmp_path)], env=env, cwd=ROOT,
                     capture_output=True, text=True, timeout=300)
  assert p.returncode == 0, p.stderr[-3000:]
  got = json.loads(p.stdout.strip().splitlines()[-1])
  assert got == {"torch_loaded_by_writer": False, "torch_tensor": 2.0}
  assert _scalars(tmp_path / "tensorboard") == {("loss", 3): 0.5, ("reward/mean", 3): -1.25}
