"""cli.log_to_file: INFO goes to the log file only; warnings and errors reach the terminal
too (the mechanism every entry point uses; train's own terminal: tests/train)."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ABSL_LINE = re.compile(r"^([IWEF])\d{4} .*\] (.*)$", re.M)

PROGRAM = """
import sys
from absl import app, logging
from spice_jax.utils import cli

def main(argv):
  path = cli.log_to_file(argv[1])
  print(f"log at {path}")
  logging.info("info one")
  logging.warning("warning one")
  logging.error("error one")
  logging.info("info two")

app.run(main)
"""


def _run(directory):
  env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
  p = subprocess.run([sys.executable, "-c", PROGRAM, directory], capture_output=True,
                     text=True, timeout=120, env=env, cwd=ROOT)
  assert p.returncode == 0, p.stderr[-2000:]
  return p


def test_info_to_the_file_warnings_and_errors_also_on_the_terminal(tmp_path):
  p = _run(str(tmp_path / "run"))
  terminal = ABSL_LINE.findall(p.stdout + p.stderr)
  assert terminal == [("W", "warning one"), ("E", "error one")]
  assert f"log at {tmp_path / 'run' / 'log.txt'}" in p.stdout
  logged = ABSL_LINE.findall((tmp_path / "run" / "log.txt").read_text())
  assert logged == [("I", "info one"), ("W", "warning one"), ("E", "error one"),
                    ("I", "info two")]


def test_a_uri_directory_logs_to_a_local_temporary_file(tmp_path):
  p = _run("gs://bucket-that-is-never-touched/run")
  path = re.search(r"log at (\S+)", p.stdout).group(1)
  assert path.endswith("/log.txt") and os.path.isfile(path)
  assert "info one" in open(path).read()
  os.remove(path)
  os.rmdir(os.path.dirname(path))


def test_stderr_to_catches_native_writes_and_restores(tmp_path, capfd):
  """What a C++ library writes to fd 2 inside the block lands in the file, not the
  terminal; after the block fd 2 is the terminal again (also after an exception)."""
  from spice_jax.utils import cli
  path = str(tmp_path / "log.txt")
  with cli.stderr_to(path):
    os.write(2, b"native line\n")
  try:
    with cli.stderr_to(path):
      raise KeyError("inside")
  except KeyError:
    pass
  os.write(2, b"after\n")
  err = capfd.readouterr().err
  assert err == "after\n"
  assert open(path).read() == "native line\n"


def test_cpu_only_host_is_decided_by_env_devices_and_plugins():
  from spice_jax.utils import cli
  assert cli.cpu_only_host(env={}, device_nodes=[], plugins=[])
  assert not cli.cpu_only_host(env={"JAX_PLATFORMS": "tpu"}, device_nodes=[], plugins=[])
  assert not cli.cpu_only_host(env={}, device_nodes=["/dev/accel0"], plugins=[])
  assert not cli.cpu_only_host(env={}, device_nodes=[], plugins=["jax_cuda12_plugin"])


def test_no_libtpu_chatter_on_a_cpu_host_terminal(tmp_path):
  """libtpu is installed here (test requirements) and there is no TPU: an entry point's
  terminal stays free of libtpu's probe errors, and JAX runs on the CPU."""
  from spice_jax.utils import cli
  if not cli.cpu_only_host(env={}):
    return   # a host with an accelerator: the property is about CPU hosts only
  program = ("import sys, jax\nfrom absl import app\nfrom spice_jax.utils import cli\n"
             "def main(argv):\n  cli.log_to_file(argv[1])\n"
             "  print('backend', jax.default_backend(), len(jax.devices()))\napp.run(main)\n")
  env = {k: v for k, v in os.environ.items() if k not in ("JAX_PLATFORMS", "JAX_PLATFORM_NAME")}
  env["PYTHONPATH"] = ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")
  p = subprocess.run([sys.executable, "-c", program, str(tmp_path / "run")],
                     capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
  assert p.returncode == 0, p.stderr[-2000:]
  assert "backend cpu" in p.stdout
  assert "libtpu" not in p.stderr and "TPU_WORKER" not in p.stderr, p.stderr[-2000:]
