# Two entry points: `make demo` (the whole study on the built-in default) and `make test`.
# Each creates or reuses .venv and installs what it needs.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# torchvision (for LPIPS) only imports beside a matching torch; fall back to the CPU wheel.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
TORCH_FALLBACK ?= torch==2.13.0
STAMP := $(VENV)/.ganprobe-installed

.PHONY: demo test lint system-deps install clean

system-deps:
	@bash scripts/system-deps.sh

$(PY):
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -c "import torch, torchvision" 2>/dev/null || $(PIP) install -q $(TORCH_SPEC) \
		|| $(PY) -c "import torch" 2>/dev/null || $(PIP) install -q $(TORCH_FALLBACK)
	$(PIP) install -q -e ".[test,flow,lpips,biggan]"
	touch $(STAMP)

install: system-deps $(STAMP)

demo: install
	$(VENV)/bin/ganprobe demo --out runs/demo
	@echo "Report: $(CURDIR)/runs/demo/report.html"

test: install
	$(VENV)/bin/ruff check ganprobe tests benchmarks scripts
	$(VENV)/bin/pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check ganprobe tests benchmarks scripts

clean:
	rm -rf $(VENV) .pytest_cache
