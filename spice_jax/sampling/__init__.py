"""spice_jax.sampling: jitted batched generation (prefill + while_loop decode)."""
from spice_jax.sampling.requests import FollowUp
from spice_jax.sampling.sampler import (PromptError, SampleOutput, Sampler, Shapes, generate)
from spice_jax.sampling.strategies import Strategy, sample
from spice_jax.sampling import engine, paged, scheduler
