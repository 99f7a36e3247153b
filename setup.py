"""spice_jax: SPICE self-play RL on JAX/Flax."""
import os

from setuptools import find_packages, setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "requirements.txt")) as f:
  requires = [l.strip() for l in f if l.strip() and not l.startswith("#")]

setup(
    name="spice_jax",
    version="0.1.0",
    description="SPICE (Self-Play In Corpus Environments) training stack on JAX/Flax",
    packages=find_packages(include=["spice_jax", "spice_jax.*"]),
    package_data={"spice_jax": ["spice/templates/*", "data/demo_corpus/*",
                               "planning/hardware.json", "models/tiny_bpe/*"]},
    include_package_data=True,
    python_requires=">=3.10",
    install_requires=requires,
    # Accelerator builds of the same jax; gcsfs lets etils.epath (and so metrics, audit,
    # plots, config) write to gs:// (orbax reaches gs:// through tensorstore by itself).
    extras_require={
        "tpu": ["jax[tpu]>=0.10.0,<0.11", "gcsfs>=2024.2"],
        "cuda": ["jax[cuda12]>=0.10.0,<0.11", "gcsfs>=2024.2"],
    },
)
