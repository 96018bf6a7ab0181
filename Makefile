# Two entry points, each making its own virtual environment:
#   make demo   runs the endpoint end to end, offline, on the built-in Stripe stand-in
#   make test   runs lint, mypy --strict and every test
#   make bench  prints one table of side-by-side ratios (BENCH_ARGS=--quick: a short run)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet --group dev -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

lint: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy src tests/typing
	# pyright --verifytypes looks for the package with the python on PATH.
	PATH="$(abspath $(BIN)):$$PATH" pyright --verifytypes issuing_elements --ignoreexternal

pytest: $(STAMP)
	$(BIN)/coverage run -m pytest $(PYTEST_ARGS)
	$(BIN)/coverage report

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .coverage .mypy_cache .pytest_cache .ruff_cache
