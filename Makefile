# make setup : create .venv from the pinned lock (idempotent: does nothing when up to date)
# make run   : set-up + the built-in California housing search on a LocalCluster
# make test  : set-up + the whole test suite
# make lint  : ruff + mypy on tuner/
# make lock  : re-resolve requirements.lock / requirements-dev.lock from the .in files

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Offline copy of the California housing data where one exists beside the project; elsewhere
# scikit-learn downloads it on first use into its usual cache.
SHARED_DATA := $(abspath ../shared/data/scikit_learn_data)
export SCIKIT_LEARN_DATA ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA),$(HOME)/scikit_learn_data)

.PHONY: setup run test lint lock clean

setup: $(STAMP)

$(STAMP): requirements.lock requirements-dev.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

run: setup
	$(BIN)/tuner run

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check tuner tests benchmarks
	$(BIN)/mypy

lock:
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile requirements.in --universal --python-version 3.11 --no-header -o requirements.lock
	$(BIN)/uv pip compile requirements-dev.in --universal --python-version 3.11 --no-header -o requirements-dev.lock

clean:
	rm -rf $(VENV) results .pytest_cache
