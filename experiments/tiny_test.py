"""A seconds-per-iteration config for tests: tiny random model, demo corpus.

Launch:  python -m spice_jax.train --config=experiments/tiny_test.py --workdir=/tmp/tiny
The preset `tiny-bpe` is a 2-layer, d=64 random model with a real 1,024-token BPE tokenizer
(trained on the demo corpus by tools/tiny_tokenizer.py) and a chat template, so every code path
runs on real token ids while the output head stays as small as the model. Cost: about a second
per iteration once compiled. `--config.model.source=tiny-smollm2` runs the same shapes with
SmolLM2's 49k-token vocabulary.
"""

from experiments import base


def get_config():
  c = base.get_config()
  c.model.source = "tiny-bpe"
  c.model.dtype = "float32"
  c.model.remat = False
  c.mesh.shape = (1, 1, 1)              # one device, whatever the host has (bitwise tests)
  c.corpus.build_demo = True
  c.corpus.max_doc_tokens = 96        # short passages keep the update batch small
  c.spice.num_docs = 2
  c.spice.group_size = 2
  c.spice.num_answers = 2
  c.spice.round_size = 2
  c.spice.max_challenger_attempts = 2
  c.spice.challenger_style = "compact"
  c.spice.format_selection = "random"
  c.spice.chat_layout = "chat"
  c.spice.challenger_max_tokens = 16
  c.spice.reasoner_max_tokens = 16
  c.spice.verify_workers = 1
  c.rl.lr = 1e-4
  c.rl.minibatch_size = 8
  c.train.iterations = 2
  c.train.checkpoint_every = 1
  c.train.keep_period = 0
  c.train.sampler_batch = 16
  return c
