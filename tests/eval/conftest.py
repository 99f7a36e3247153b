"""Shared fixtures for tests/eval: fixture paths, a byte tokenizer and a scripted sampler."""
import os

import numpy as np
import pytest

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
DATA = os.path.join(FIXTURES, "data")
ALT = os.path.join(FIXTURES, "alt")


class ByteTokenizer:
  """UTF-8 bytes as token ids (+1, so 0 stays the pad id); no chat template."""
  vocab_size = 257
  bos_id = None
  eos_ids = ()
  pad_id = 0
  chat_template = None
  bos_token = eos_token = ""

  def encode(self, text):
    return [b + 1 for b in text.encode("utf-8")]

  def decode(self, ids, skip_special=True):
    return bytes(i - 1 for i in ids if i > 0).decode("utf-8", errors="replace")


class ScriptedGenerate:
  """A generate_fn: answers by looking up the question text inside each decoded prompt.

  answers: {substring of the question: response text}; unknown prompts get `default`.
  Records every call's kwargs and row count in `calls`.
  """

  def __init__(self, tokenizer, answers, default="I do not know."):
    self.tok, self.answers, self.default = tokenizer, dict(answers), default
    self.calls = []

  def response_for(self, prompt_text, row):
    for key, resp in self.answers.items():
      if key in prompt_text:
        return resp(row) if callable(resp) else resp
    return self.default

  def __call__(self, prompts, *, max_new_tokens, temperature=0.0, top_p=1.0, seed=0,
               stop_ids=()):
    from spice_jax.sampling import SampleOutput
    self.calls.append(dict(n=len(prompts), max_new_tokens=max_new_tokens,
                           temperature=temperature, top_p=top_p, seed=seed))
    rows = []
    for r, p in enumerate(prompts):
      ids = self.tok.encode(self.response_for(self.tok.decode(p), (seed, r)))
      rows.append(ids[:max_new_tokens])
    n = len(prompts)
    tokens = np.zeros((n, max_new_tokens), np.int32)
    for r, ids in enumerate(rows):
      tokens[r, :len(ids)] = ids
    lengths = np.array([len(ids) for ids in rows], np.int32)
    return SampleOutput(tokens=tokens, logprobs=np.zeros_like(tokens, np.float32),
                        model_logprobs=np.zeros_like(tokens, np.float32), lengths=lengths,
                        finish_reason=["stop" if len(ids) < max_new_tokens else "length"
                                       for ids in rows])


@pytest.fixture
def byte_tok():
  return ByteTokenizer()


@pytest.fixture(scope="session")
def verifier_pool():
  from spice_jax.spice import verify
  with verify.VerifierPool(1, timeout=10.0) as pool:
    yield pool


@pytest.fixture
def scripted():
  """The ScriptedGenerate class (build one per test with the answers it needs)."""
  return ScriptedGenerate


@pytest.fixture
def fixture_dirs():
  return {"data": DATA, "alt": ALT}


def one_device_mesh():
  import jax
  from spice_jax import parallel
  return parallel.make_mesh((1, 1, 1), devices=jax.devices()[:1])


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
  """A run directory with tiny-bpe checkpoints at steps 1 and 2, laid out as the trainer
  writes them (experiments/tiny_test.py config in the metadata). Returns (workdir, mesh);
  the mesh is a single device (a 2-layer model needs no more)."""
  import json

  import jax
  from experiments import tiny_test
  from spice_jax import models
  from spice_jax.utils import checkpointing
  mesh = one_device_mesh()
  workdir = str(tmp_path_factory.mktemp("tiny_run"))
  cfg = tiny_test.get_config()
  ck = checkpointing.Checkpointer(checkpointing.checkpoint_dir(workdir), async_save=False,
                                  max_to_keep=10)
  m = models.load("tiny-bpe", seed=0, mesh=mesh)
  for s in (1, 2):
    params = jax.tree.map(lambda x, s=s: x * (1.0 + 0.1 * s), m.params)
    meta = {"iteration": s, "seed": 0, "data_state": None, "model_source": "tiny-bpe",
            "dtype": "float32", "config": json.loads(cfg.to_json_best_effort())}
    ck.save(s, params, {"step": s}, meta)
  ck.wait()
  ck.close()
  return workdir, mesh
