# redshield — the two commands: `make run` (everything up, with a demo) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KAFKA := deploy/kafka/kafka.sh
TEST_KAFKA_DIR := var/test-kafka

.PHONY: setup run test lint kafka-fetch clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

COCKPIT_WEB := services/analytics/web
ECHARTS_JS := $(COCKPIT_WEB)/node_modules/echarts/dist/echarts.min.js

# Apache ECharts for the cockpit page, from the npm registry (node_modules is never committed).
$(ECHARTS_JS): $(COCKPIT_WEB)/package.json $(COCKPIT_WEB)/package-lock.json
	npm ci --prefix $(COCKPIT_WEB) --no-audit --no-fund
	@touch $@

setup: $(STAMP) kafka-fetch $(ECHARTS_JS)

kafka-fetch:
	@bash $(KAFKA) fetch

# Kafka (unless KAFKA_BOOTSTRAP_SERVERS names one) + the five services + a demo feed; Ctrl-C stops all.
run: setup
	$(BIN)/redshield up

# The whole suite against a real Kafka broker on a free port (or KAFKA_BOOTSTRAP_SERVERS), and
# PostgreSQL too when REDSHIELD_TEST_POSTGRES_URL is set. Exit code = pytest's.
test: setup
	@set -euo pipefail; \
	if [ -n "$${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then \
	  $(BIN)/pytest $(PYTEST_ARGS); \
	else \
	  port=$$($(BIN)/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'); \
	  rm -rf $(TEST_KAFKA_DIR); \
	  bootstrap=$$(bash $(KAFKA) start --port $$port --data $(TEST_KAFKA_DIR)); \
	  export $$bootstrap; \
	  trap 'bash $(KAFKA) stop --data $(TEST_KAFKA_DIR) >/dev/null 2>&1 || true' EXIT; \
	  $(BIN)/pytest $(PYTEST_ARGS); \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf var/ $(VENV)
