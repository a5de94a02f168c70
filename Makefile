# Two commands do everything on a fresh machine with Python 3.11+:  make run  /  make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Re-install whenever pyproject.toml changes.
$(VENV)/.run-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.test-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.run-deps

run: $(VENV)/.run-deps
	$(BIN)/python -m bot serve

lint: $(VENV)/.test-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

bench: $(VENV)/.test-deps
	$(BIN)/python bench/route.py
	$(BIN)/python bench/groups.py
	$(BIN)/python bench/console.py
	$(BIN)/python bench/line_load.py
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/faults.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
