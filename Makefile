# The README's two commands: `make demo` and `make test`. Each creates (or
# reuses) a virtualenv in .venv and installs xferjax with its pinned
# dependencies from PyPI before running.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.xferjax-installed

.PHONY: demo test install clean

$(STAMP): setup.py pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test,convert]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/xferjax study --gin_file=demo.gin

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

clean:
	rm -rf runs/demo
