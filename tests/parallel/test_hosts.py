"""`hosts` gathers across two real JAX processes on localhost: to every process, and to
process 0 alone (the others receive nothing)."""
import json
import os
import socket
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = textwrap.dedent("""
    import json, sys
    import jax
    pid, port = int(sys.argv[1]), sys.argv[2]
    jax.distributed.initialize(f"localhost:{port}", num_processes=2, process_id=pid)
    from spice_jax.parallel import hosts
    mine = {"process": pid, "text": "x" * (1000 * (pid + 1))}
    every = hosts.allgather_objects(mine)
    after_all = hosts.BYTES_RECEIVED["bytes"]
    first = hosts.gather_to_first([mine["text"][:10 * (pid + 1)]], "t/1")
    again = hosts.gather_to_first(pid, "t/2")    # a second gather under its own key
    print(json.dumps(dict(every=[e["process"] for e in every], after_all=after_all,
                          total=hosts.BYTES_RECEIVED["bytes"], first=first, again=again)))
""")


def _port():
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def test_gathers_to_every_process_and_to_the_first():
  env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT,
             XLA_FLAGS="--xla_force_host_platform_device_count=1")
  port = str(_port())
  procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, str(i), port], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
           for i in range(2)]
  outs = [p.communicate(timeout=300) for p in procs]
  for p, (_, err) in zip(procs, outs):
    assert p.returncode == 0, err[-3000:]
  r0, r1 = (json.loads(out.strip().splitlines()[-1]) for out, _ in outs)
  assert r0["every"] == r1["every"] == [0, 1]
  # allgather pads to the larger payload: each process receives one padded copy of it.
  assert r0["after_all"] == r1["after_all"] > 2000
  assert r0["first"] == [["x" * 10], ["x" * 20]] and r0["again"] == [0, 1]
  assert r1["first"] is None and r1["again"] is None
  assert r1["total"] == r1["after_all"]              # process 1 received nothing more
  assert r0["total"] > r0["after_all"]                # process 0 received process 1's
