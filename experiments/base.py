"""SPICE paper defaults (SPEC §5–§6). Every other config is a small diff on this one.

Not launched directly: it names no corpus. See experiments/README.md for the runs.
"""

import ml_collections

from spice_jax import guard


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0

  c.model = ml_collections.ConfigDict()
  c.model.source = "qwen3-4b"           # preset name, HF checkpoint dir, or .gguf file
  c.model.dtype = "bfloat16"            # compute dtype; master weights stay float32
  c.model.remat = True                  # per-layer rematerialisation in the update
  c.model.arch = ""                     # architecture preset the source must have ("": any)
  c.model.attention = "auto"            # update attention: auto (by the mesh's platform) | dense | blockwise | splash

  c.mesh = ml_collections.ConfigDict()
  c.mesh.shape = (-1, 1, 1)             # ('data', 'fsdp', 'tensor'); one -1 fills
  c.mesh.coordinator_address = ""       # multi-host: jax.distributed.initialize(...)
  c.mesh.num_processes = 0
  c.mesh.process_id = -1

  c.corpus = ml_collections.ConfigDict()
  c.corpus.enabled = True               # False = ungrounded self-play (no_corpus, r_zero)
  c.corpus.data_dir = ""                # a built corpus (python -m spice_jax.data.build_corpus)
  c.corpus.build_demo = False           # build the bundled demo corpus into the workdir
  c.corpus.weights = ml_collections.ConfigDict()   # per-source mixture weights (empty: uniform)
  c.corpus.max_doc_tokens = 5992

  c.spice = ml_collections.ConfigDict()
  c.spice.num_docs = 128                # B documents per iteration
  c.spice.group_size = 8                # G Challenger trajectories kept per document
  c.spice.num_answers = 8               # K Reasoner answers per valid task
  c.spice.formats = ("mcq", "free_form")
  c.spice.format_selection = "model"    # "model" (SPEC §2.2) | "random" | "fixed" (formats[0])
  c.spice.challenger_style = "full"     # "full" (8-step JSON) | "compact" (line format)
  c.spice.template_dir = ""             # user template directory ("" = bundled templates)
  c.spice.chat_layout = "qwen3"         # both roles' layout: "qwen3" | "plain" (OctoThinker) | "chat" (model's own)
  c.spice.round_size = 8                # Challenger samples per document per round
  c.spice.max_challenger_attempts = 1024
  c.spice.challenger_temperature = 1.0
  c.spice.reasoner_temperature = 1.0
  c.spice.top_p = 1.0
  c.spice.challenger_max_tokens = 4096
  c.spice.reasoner_max_tokens = 4096
  c.spice.format_selection_max_tokens = 256
  c.spice.challenger_reward = "variance"  # variance | absolute_zero | threshold | rzero (spice/rewards.py)
  c.spice.reward_params = ml_collections.ConfigDict({"variance": {"sigma2": 0.01}})
  c.spice.invalid_reward = -0.1
  c.spice.answer_in_document = False      # extension: gold must occur in the document
  c.spice.pseudo_labels = "gold"        # "gold" (Challenger's answer) | "majority" (R-Zero)
  c.spice.challenger = "policy"         # "policy" | "initial" (fixed) | "<model source>" (strong)
  c.spice.train_challenger = True       # False: Challenger trajectories get no gradient
  c.spice.verify_timeout = 5.0          # seconds per answer
  c.spice.verify_workers = 4

  c.rl = ml_collections.ConfigDict()
  c.rl.lr = 1e-6
  c.rl.b1 = 0.9
  c.rl.b2 = 0.95
  c.rl.adam_eps = 1e-8
  c.rl.weight_decay = 0.0
  c.rl.clip_norm = 1.0
  c.rl.warmup_steps = 0
  c.rl.clip_eps = 0.2
  c.rl.kl_beta = 0.0                    # > 0: k3 KL to the frozen initial model
  c.rl.advantage = "dr_grpo"            # "dr_grpo" | "grpo" (std division)
  c.rl.minibatch_size = 128
  c.rl.micro_rows = 1                   # rows per device per micro-batch (memory vs fewer calls)
  c.rl.geometric_buckets = True         # micro-batch lengths also 1.5 x 2^k (less padding)
  c.rl.old_logprobs = "recompute"       # "recompute" (learner forward) | "sampler"

  c.train = ml_collections.ConfigDict()
  c.train.iterations = 640
  c.train.checkpoint_every = 10
  c.train.keep_checkpoints = 3
  c.train.keep_period = 100             # also keep every M-th checkpoint
  c.train.audit = True
  c.train.plots = True
  c.train.eval_every = 0                # 0: no in-training evaluation
  c.train.eval_data_dir = ""
  c.train.eval_benchmarks = ""
  c.train.eval_max_items = 64
  c.train.sampler_batch = 256           # rows per sampler call (the sampler pads/buckets)
  c.train.sampling = "global"           # "host_local": each host plays its own documents
  c.train.sampler_mesh = (-1, 1, 1)     # host-local sampler mesh (data, fsdp, tensor) per host
  c.train.compile_cache = "auto"        # persistent XLA cache: "auto" (~/.cache) | "" | dir

  # The sampling engine (spice_jax/sampling/config.py, EngineConfig): trainer and evaluation.
  c.engine = ml_collections.ConfigDict()
  c.engine.engine = "continuous"        # "continuous" (slots over paged KV) | "static"
  c.engine.slots = 64                   # decode slots (rows decoded at once)
  c.engine.window = 16                  # decode steps per device loop
  c.engine.page_size = 32               # tokens per KV page
  c.engine.kv_pages = 0                 # pool pages; 0 = enough for every slot, capped by:
  c.engine.hbm_fraction = 0.9           # device memory (resident + pool) the pool may fill
  c.engine.kv_dtype = "auto"            # "auto" (bf16 on accelerators, f32 on CPU) | dtype
  c.engine.prefill_chunk = 256          # prompt tokens per prefill program
  c.engine.prefill_rows = 8             # prompts per prefill program

  # Guardrails (spice_jax/guard.py): detectors over every iteration's metrics, each with an
  # action: "warn" | "skip_update" | "rollback" (to the last checkpoint marked good) | "off".
  c.guard = guard.default_config()
  c.guard.runaway_length.challenger_max_tokens = c.spice.get_ref("challenger_max_tokens")
  c.guard.runaway_length.reasoner_max_tokens = c.spice.get_ref("reasoner_max_tokens")
  return c
