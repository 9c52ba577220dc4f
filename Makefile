# driftline: the two commands a newcomer needs are `make demo` and `make test`.
# Both create the virtual environment, install the package at the versions pinned in
# requirements.lock and fetch the Kafka jars. `make lock` re-resolves the pins.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

BENCH_STAMP := $(VENV)/.installed-bench
LOCK   := requirements.lock

.PHONY: demo install system stack test test-unit lint bench bench-contracts bench-scorer bench-replay bench-monitor \
	bench-backtest bench-stream-latency bench-source-path \
	bench-window-cost bench-drift-quality bench-loop kafka-start kafka-stop lock clean

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages the tests drive besides Python's (kcat: a non-Python Kafka client;
# chromium: renders the drift report; prometheus and its promtool: the stack's Prometheus,
# checks and unit tests of the alert rules; postgresql: the stack's MLflow backend, its
# initdb outside PATH). Installed with apt-get as root, else asked for.
STACK_PACKAGES  := prometheus:prometheus '/usr/lib/postgresql/*/bin/initdb:postgresql'
SYSTEM_PACKAGES := kcat:kcat chromium:chromium promtool:prometheus $(STACK_PACKAGES)
system:
	scripts/system-packages $(SYSTEM_PACKAGES)

# The parts docker-compose.yaml runs, on this machine without Docker (docs/stack.md):
# Kafka, MLflow on PostgreSQL, Prometheus with the alert rules, scorer, monitor, retrainer.
# `driftline stack status` shows them; `driftline stack down` stops them.
stack: install
	scripts/system-packages $(STACK_PACKAGES)
	$(BIN)/driftline kafka fetch
	$(BIN)/driftline stack up

# The main job: the whole loop on this machine (broker, MLflow, scorer, monitor, retrainer,
# a drifting producer), live progress and a summary, in about four minutes.
demo: install
	$(BIN)/driftline kafka fetch
	$(BIN)/driftline demo

# Checks the import contracts ([tool.importlinter] in pyproject.toml), resolves the broker jars
# once (Maven cache), then runs every test. The test session uses DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS
# if set, else a Docker engine's Kafka, else the local broker it starts and stops itself.
test: install system
	$(BIN)/lint-imports --no-logo --cache-dir .driftline/import-linter-cache
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

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# Re-resolve every dependency of pyproject.toml (all extras together, so the benchmarks'
# environment is the tests' plus their own packages) and pin the result in requirements.lock.
# Run it after changing a dependency; commit both files together.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	mkdir -p .driftline
	$(BIN)/python -m pip install --quiet --dry-run --ignore-installed \
		--report .driftline/lock-report.json '.[dev,bench]'
	$(BIN)/python -c "import json, sys; \
	r = json.load(open('.driftline/lock-report.json')); \
	pins = sorted((i['metadata']['name'].lower(), i['metadata']['version']) \
	              for i in r['install'] if i['metadata']['name'].lower() != 'driftline'); \
	print('# Every package driftline installs, pinned: written by \`make lock\`, do not edit.'); \
	print(f'# Resolved for Python {sys.version_info[0]}.{sys.version_info[1]} on Linux.'); \
	[print(f'{n}=={v}') for n, v in pins]" > $(LOCK)

# Every benchmark, each against its anchor in the same run. Several minutes; best on a quiet
# machine (the ratios are measured in one run, the absolute numbers follow the load).
bench: bench-contracts bench-replay bench-scorer bench-stream-latency bench-monitor \
	bench-backtest bench-source-path bench-window-cost bench-drift-quality bench-loop

bench-contracts: install
	$(BIN)/python bench/bench_contracts.py

bench-replay: install
	$(BIN)/driftline kafka fetch
	$(BIN)/python bench/bench_replay.py

bench-scorer: install
	@command -v wrk >/dev/null || { echo "bench-scorer needs wrk: apt-get install -y wrk"; exit 2; }
	$(BIN)/driftline kafka fetch
	$(BIN)/python bench/bench_scorer.py

bench-stream-latency: install
	$(BIN)/driftline kafka fetch
	$(BIN)/python bench/bench_stream_latency.py

bench-monitor: install
	$(BIN)/driftline kafka fetch
	$(BIN)/python bench/bench_monitor.py --events 400000 --rounds 3

bench-backtest: install
	$(BIN)/driftline kafka fetch
	$(BIN)/python bench/bench_backtest.py --events 2000000

bench-source-path: install
	$(BIN)/python bench/bench_source_path.py

bench-window-cost: $(BENCH_STAMP)
	$(BIN)/python bench/bench_window_cost.py

bench-drift-quality: $(BENCH_STAMP)
	$(BIN)/python bench/bench_drift_quality.py both

# The closed loop at 1,000 events/s: onset to new champion serving and AUC recovery, retraining
# on drift against a fixed schedule (driftline retrain --every), in one run of 5 to 12 minutes.
bench-loop: install
	$(BIN)/driftline kafka fetch
	$(BIN)/python bench/bench_loop.py

# .env for docker compose: a random API key, Postgres and Grafana passwords (kept if set).
.PHONY: compose-env
compose-env:
	scripts/compose-env

clean:
	-$(BIN)/driftline kafka stop
	rm -rf .driftline .pytest_cache .ruff_cache .hypothesis .import_linter_cache

# Regenerates docs/configuration.md from the settings classes (a unit test checks it is current).
.PHONY: docs
docs: install
	$(BIN)/python -m driftline.settings_doc --write docs/configuration.md
