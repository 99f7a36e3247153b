"""CPU demo: the embedded SmolLM2-135M-Instruct on the bundled demo corpus.

Launch:  python -m spice_jax.train --config=experiments/demo_cpu.py --workdir=runs/demo
(or `make demo`). Cost: about 2 minutes per iteration on a 2-core CPU; 3 iterations.
Sized for a laptop: 2 passages of <= 128 tokens per iteration, G = 2, K = 4, 80-token
generations, the compact Challenger template (a 135M model rarely writes the full 8-step
JSON), random format. The update (float32 on CPU) dominates the time.
"""

from experiments import base


def get_config():
  c = base.get_config()
  c.model.source = "smollm2-135m-instruct"
  c.model.dtype = "float32"
  c.corpus.build_demo = True
  c.corpus.max_doc_tokens = 128
  c.spice.num_docs = 2
  c.spice.group_size = 2
  c.spice.num_answers = 4
  c.spice.round_size = 2
  c.spice.max_challenger_attempts = 6
  c.spice.challenger_style = "compact"
  c.spice.format_selection = "random"
  c.spice.chat_layout = "chat"
  c.spice.challenger_max_tokens = 80
  c.spice.reasoner_max_tokens = 80
  c.spice.challenger_temperature = 0.8
  c.spice.verify_workers = 1
  c.rl.lr = 1e-6
  c.rl.minibatch_size = 4
  c.train.iterations = 3
  c.train.checkpoint_every = 1
  c.train.keep_period = 0
  c.train.sampler_batch = 64
  return c
