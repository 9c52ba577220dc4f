# driftline: the two commands a newcomer needs are `make demo` and `make test`.
# Both create the virtual environment, install the package and fetch the Kafka jars.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test test-unit lint bench bench-contracts bench-scorer bench-replay kafka-start kafka-stop clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Resolves the broker jars once (Maven cache), then runs every test. The test session uses
# DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS if set, else a Docker engine's Kafka, else the local broker
# it starts and stops itself.
test: install
	$(BIN)/driftline kafka fetch
	$(BIN)/python -m pytest

test-unit: install
	$(BIN)/python -m pytest -m "not integration"

lint: install
	$(BIN)/ruff check .

kafka-start: install
	$(BIN)/driftline kafka start

kafka-stop: install
	$(BIN)/driftline kafka stop

bench: bench-contracts

bench-contracts: install
	$(BIN)/python bench/bench_contracts.py

clean:
	-$(BIN)/driftline kafka stop
	rm -rf .driftline .pytest_cache .ruff_cache .hypothesis
