# The two commands a newcomer needs: `make up` (start the service) and `make test` (run the tests).
# Both create the virtual environment on first use.

VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test test-fast lint check clean

$(STAMP): pyproject.toml constraints.txt tests/reference-requirements.txt
	$(PYTHON) -m venv $(VENV)
	# constraints.txt pins torch: a CPU build from local disk here, the CUDA build from PyPI on a GPU box.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,reference]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt --no-deps \
		-r tests/reference-requirements.txt
	touch $(STAMP)

up: $(STAMP)  ## start the API and one worker on the embedded defaults
	$(BIN)/loss-search up

# The unit and API layers run on TEST_WORKERS processes (pytest-xdist; a test file stays on one
# process, so its module fixtures are built once). The integration tests start real API, worker,
# database and broker processes and time their faults, so they run one at a time.
TEST_WORKERS ?= 2

test: test-fast  ## run every test (integration tests skip PostgreSQL/Redis when unreachable, unless CI)
	$(BIN)/python -m pytest tests/integration

test-fast: $(STAMP)  ## the unit and API layers: every test but the real-process integration tests
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --ignore=tests/integration

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

check: lint test

clean:
	rm -rf $(VENV) .loss-search .pytest_cache .mypy_cache .ruff_cache
