"""spice_jax.rl: the PPO-clip / Dr. GRPO loss, the train state, and the update step."""
from spice_jax.rl.loss import finalize, ppo_loss, ppo_sums, token_logprobs
from spice_jax.rl.state import OptimConfig, TrainState, create, make_optimizer
from spice_jax.rl.update import make_update_fn
