# The README's two entry points (demo, test), each making its own virtual environment,
# and the longer runs beside them:
#   make demo   runs the endpoint end to end, offline, on the built-in Stripe stand-in,
#               in a light environment of its own (.venv-demo: the library, its
#               runtime dependencies and Flask; the `demo` dependency group)
#   make test   runs lint, mypy --strict, the docs build and every test
#   make fuzz   fuzzes the endpoint with 100,000 Hypothesis examples and prints the count
#   make load   sends 10,000 requests at concurrency 50 to the FastAPI example under uvicorn
#   make faults reruns issue 15's fault table (a stalled or down Redis, a hung
#               Stripe, cancellations, ...) on loopback stand-ins; prints what
#               happens now beside what happened before and the tests that assert
#               each row (a report: the suite holds the checks)
#   make bench  prints one table of side-by-side ratios (BENCH_ARGS=--quick: a short run)
# and one that is neither CI nor part of `make test`:
#   make mutate mutation testing (mutmut) of the modules that decide; prints
#               the kill rate (tests/mutation/equivalent.md lists the survivors
#               that are equivalent)
#
# make test WHEEL=dist/issuing_elements-X-py3-none-any.whl tests that built
# wheel instead of src/: it is installed into a fresh virtual environment of
# its own (.venv-wheel), and a test checks that the package imported is the
# installed one. .ci/run does this.
PYTHON ?= python3
WHEEL  ?=
VENV   ?= $(if $(WHEEL),.venv-wheel,.venv)
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SITE   ?= site
# The venv that builds and checks the distributions and lints the workflows.
TOOLS  ?= .venv-release
# make demo's venv: what the demo runs, not the development environment.
DEMO_VENV ?= .venv-demo

.PHONY: demo test lint typecheck docs pytest dist workflows bench fuzz load faults mutate clean

ifeq ($(WHEEL),)
$(STAMP): pyproject.toml
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet --group dev -e .
	touch $(STAMP)
else
export ISSUING_ELEMENTS_EXPECT_INSTALLED := 1
# The how-to pages' venvs install this wheel in place of issuing-elements.
export ISSUING_ELEMENTS_WHEEL := $(abspath $(WHEEL))
$(STAMP): pyproject.toml $(WHEEL)
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet --group dev "$(WHEEL)"
	touch $(STAMP)
endif

$(DEMO_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv --clear $(DEMO_VENV)
	$(DEMO_VENV)/bin/python -m pip install --quiet --upgrade "pip>=25.1"
	$(DEMO_VENV)/bin/python -m pip install --quiet --group demo -e .
	touch $@

demo: $(DEMO_VENV)/.installed
	$(DEMO_VENV)/bin/python -m examples.demo

lint: $(STAMP)
	$(BIN)/ruff check src tests examples docs/hooks benchmarks
	$(BIN)/ruff format --check src tests examples docs/hooks benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy src tests/typing docs/hooks
	# pyright --verifytypes looks for the package with the python on PATH.
	PATH="$(abspath $(BIN)):$$PATH" pyright --verifytypes issuing_elements --ignoreexternal

# NO_MKDOCS_2_WARNING: Material prints a banner about MkDocs 2 on every build.
# No --quiet: it hides the warnings from --strict too, and the build passes.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir $(SITE)

# Parallel mode, then combine: [tool.coverage.paths] maps an installed
# wheel's site-packages back to src/, so the report reads the same either way.
pytest: $(STAMP)
	$(BIN)/coverage erase
	$(BIN)/coverage run --parallel-mode -m pytest $(PYTEST_ARGS)
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report

test: lint typecheck docs pytest

$(TOOLS)/.installed: pyproject.toml
	$(PYTHON) -m venv --clear $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade "pip>=25.1"
	$(TOOLS)/bin/python -m pip install --quiet --group release
	touch $@

# The sdist, and the wheel built from it, once; then the checks PyPI would make.
dist: $(TOOLS)/.installed
	rm -rf dist
	$(TOOLS)/bin/python -m build --outdir dist
	$(TOOLS)/bin/twine check --strict dist/*
	$(TOOLS)/bin/check-wheel-contents dist/*.whl

workflows: $(TOOLS)/.installed
	$(TOOLS)/bin/actionlint .github/workflows/*.yml
	$(TOOLS)/bin/zizmor --offline .github/workflows

bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# The long fuzz profile: FUZZ_EXAMPLES in total, half through handle and half
# through ahandle, side by side in two processes; each prints its count, then
# the total (the operator's log lines stay in the logs). --noconftest: the suite-wide log check would hold every log record
# of the run in memory (the quick profile in `make test` runs under it).
FUZZ_EXAMPLES ?= 100000
FUZZ_PYTEST := $(BIN)/pytest tests/doors/web/test_fuzz_endpoint.py -q -s -p no:cacheprovider -p no:logging --noconftest
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
	$(BIN)/python -m benchmarks.load --requests $(LOAD_REQUESTS) --concurrency $(LOAD_CONCURRENCY)

# Each fault of issue 15 once, against local stand-ins; about 30 s. A report: the
# checks of each row are asserted by the tests it names (benchmarks/faults.py's ASSERTED_BY).
faults: $(STAMP)
	$(BIN)/python benchmarks/faults.py

# mutmut copies the project into mutants/ and runs, for each mutant, only the
# tests that cover the mutated function (pyproject.toml, [tool.mutmut]).
$(VENV)/.mutation-installed: $(STAMP)
	$(BIN)/python -m pip install --quiet --group mutation
	touch $@

MUTATE_CHILDREN ?= 2

mutate: $(VENV)/.mutation-installed
	$(BIN)/mutmut run --max-children $(MUTATE_CHILDREN) > /dev/null
	$(BIN)/mutmut results --all true | $(BIN)/python tests/mutation/kill_rate.py tests/mutation/equivalent.md

clean:
	rm -rf mutants $(VENV) .venv-wheel $(TOOLS) $(DEMO_VENV) .coverage .mypy_cache .pytest_cache .ruff_cache dist $(SITE)
