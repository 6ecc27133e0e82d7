# The README's two commands: `make demo` and `make test`. Each creates (or
# reuses) a virtualenv in .venv and installs xferjax with its pinned
# dependencies from PyPI before running.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.xferjax-installed

.PHONY: demo test install clean bench

$(STAMP): setup.py pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test,convert]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/xferjax study --gin_file=demo.gin

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

# Not part of CI (tens of minutes on 2 cores): xferjax vs Hugging Face
# PyTorch train/eval throughput, scan vs unrolled compile time, and the
# 250k-vocabulary cross-entropy memory; figures go into benchmarks/RESULTS.md.
bench: $(STAMP)
	mkdir -p benchmarks/results
	$(BIN)/python benchmarks/train_eval_vs_hf.py --compile xlmr_base:classification --json benchmarks/results/train_eval_vs_hf.json
	$(BIN)/python benchmarks/train_eval_vs_hf.py --cases mt5_small:text_to_text --json benchmarks/results/mt5_small.json
	$(BIN)/python benchmarks/xent_memory.py --json benchmarks/results/xent_memory.json

clean:
	rm -rf runs/demo
