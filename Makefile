# Two entry points, each making its own virtual environment:
#   make demo   runs the endpoint end to end, offline, on the built-in Stripe stand-in
#   make test   runs lint, mypy --strict and every test
#   make fuzz   fuzzes the endpoint with 100,000 Hypothesis examples and prints the count
#   make load   sends 10,000 requests at concurrency 50 to the FastAPI example under uvicorn
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest fuzz load clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet --group dev -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

lint: $(STAMP)
	$(BIN)/ruff check src tests examples
	$(BIN)/ruff format --check src tests examples

typecheck: $(STAMP)
	$(BIN)/mypy src tests/typing
	# pyright --verifytypes looks for the package with the python on PATH.
	PATH="$(abspath $(BIN)):$$PATH" pyright --verifytypes issuing_elements --ignoreexternal

pytest: $(STAMP)
	$(BIN)/coverage run -m pytest $(PYTEST_ARGS)
	$(BIN)/coverage report

test: lint typecheck pytest

# The long fuzz profile: FUZZ_EXAMPLES in total, half through handle and half
# through ahandle, side by side in two processes; each prints its count, then
# the total (the operator's log lines stay in the logs). --noconftest: the suite-wide log check would hold every log record
# of the run in memory (the quick profile in `make test` runs under it).
FUZZ_EXAMPLES ?= 100000
FUZZ_PYTEST := $(BIN)/pytest tests/test_fuzz_endpoint.py -q -s -p no:cacheprovider -p no:logging --noconftest
fuzz: $(STAMP)
	@export ISSUING_ELEMENTS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES); dir=$$(mktemp -d); \
	echo "fuzzing with $(FUZZ_EXAMPLES) examples; logs in $$dir"; \
	($(FUZZ_PYTEST) -k test_handle_ > $$dir/handle.log 2>&1; echo $$? > $$dir/handle.rc) & \
	($(FUZZ_PYTEST) -k test_ahandle_ > $$dir/ahandle.log 2>&1; echo $$? > $$dir/ahandle.rc) & \
	wait; for twin in handle ahandle; do \
		if [ "$$(cat $$dir/$$twin.rc)" = 0 ]; then grep -E "^fuzz |passed" $$dir/$$twin.log; \
		else cat $$dir/$$twin.log; fi; \
	done; \
	awk '/^fuzz [a-z]+: [0-9]+ examples/ {n += $$3} END {print "fuzz total: " n " examples"}' $$dir/*.log; \
	test "$$(cat $$dir/handle.rc $$dir/ahandle.rc | tr -d '\n')" = 00

# A bounded load run, not a timed test: it prints its figures.
LOAD_REQUESTS ?= 10000
LOAD_CONCURRENCY ?= 50
load: $(STAMP)
	$(BIN)/python benchmarks/load.py --requests $(LOAD_REQUESTS) --concurrency $(LOAD_CONCURRENCY)

clean:
	rm -rf $(VENV) .coverage .mypy_cache .pytest_cache .ruff_cache
