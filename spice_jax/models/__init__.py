"""Models: config, presets, the Flax transformer, weights import/export, tokenizers."""
from spice_jax.models.config import ModelConfig, ModelConfigError, RopeScaling
from spice_jax.models.model import (EMBEDDED, Model, abstract_params, describe, embedded_gguf_path,
                                    init_params, load, param_shardings)
from spice_jax.models.presets import PRESETS
from spice_jax.models.transformer import Transformer
from spice_jax.models.weights import WeightsError, export_hf
