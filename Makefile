# Two entry points: `make demo` (the whole study on the built-in default) and `make test`.
# Each creates or reuses .venv and installs what it needs.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.ganprobe-installed

.PHONY: demo test lint system-deps install clean

system-deps:
	@bash scripts/system-deps.sh

$(PY):
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q "$(TORCH_SPEC)" || $(PIP) install -q torch
	$(PIP) install -q -e ".[test,flow]"
	touch $(STAMP)

install: system-deps $(STAMP)

demo: install
	$(VENV)/bin/ganprobe demo --out runs/demo
	@echo "Report: $(CURDIR)/runs/demo/report.html"

test: install
	$(VENV)/bin/ruff check ganprobe tests benchmarks
	$(VENV)/bin/pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check ganprobe tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache
