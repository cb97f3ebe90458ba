# Storefront lead-qualification assistant.
# `make run` and `make test` are the two set-up commands; everything they need
# is installed from requirements.lock into .venv on first use.

SHELL := /bin/bash
.DEFAULT_GOAL := help

export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONDONTWRITEBYTECODE := 1

VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
MODEL_STAMP := models/.trained
MODEL := models/current.tar.gz
TRAINING_INPUTS := config.yml domain.yml $(shell find data -name '*.yml' -not -path 'data/flows/*' 2>/dev/null | sort)

.PHONY: help venv install install-dev migrate train run run-cluster haproxy shell test check imports lint typecheck validate pytest rasa-test bench clean lock browser vendor-js

help:
	@echo "make run    - install, migrate, train if needed, start Rasa + actions + web app"
	@echo "make run-cluster - the cluster profile: HAProxy, 2 Rasa servers, 2 action servers, 2 web apps"
	@echo "                   on PostgreSQL, Redis and RabbitMQ (README: the cluster profile)"
	@echo "make test   - lint, type-check, validate data, pytest (unit, api, e2e), rasa test stories"
	@echo "make check  - lint, types, import contracts, tests needing no model/browser/PostgreSQL"
	@echo "make bench  - benchmarks (README table)"
	@echo "make browser - install Debian's chromium + chromedriver if missing (make test does)"

# Python 3.10 is required by rasa 3.6. Look on PATH first, then in pyenv.
PYTHON310 := $(shell command -v python3.10 >/dev/null 2>&1 && python3.10 -c 'import sys' >/dev/null 2>&1 && command -v python3.10 || ls -d $$HOME/.pyenv/versions/3.10.*/bin/python3.10 2>/dev/null | sort -V | tail -1)

$(STAMP): requirements.lock
	@if [ -z "$(PYTHON310)" ]; then \
		echo "error: python3.10 not found. Rasa 3.6 needs Python 3.10: install it (e.g. 'pyenv install 3.10' or 'apt-get install python3.10 python3.10-venv') and re-run." >&2; \
		exit 1; \
	fi
	@test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip==24.0
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock
	$(PY) -m pip check --disable-pip-version-check
	@touch $@

# The dev tools (pytest, ruff, mypy, import-linter, selenium…) on top of the runtime pins,
# for make test / make check / make bench; make run never installs them.
$(DEV_STAMP): $(STAMP) requirements-dev.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-dev.lock
	$(PY) -m pip check --disable-pip-version-check
	@touch $@

venv install: $(STAMP)

install-dev: $(DEV_STAMP)

migrate: $(STAMP)
	$(PY) -m bot migrate

$(MODEL_STAMP): $(STAMP) $(TRAINING_INPUTS)
	@mkdir -p models
	$(BIN)/rasa train --quiet --fixed-model-name current --out models
	@touch $@

train: $(MODEL_STAMP)

run: $(STAMP) migrate $(MODEL_STAMP)
	$(PY) -m bot run --model $(MODEL)

# The cluster profile: every address from the environment (README, "the cluster
# profile"); it creates its PostgreSQL databases and migrates the lead store itself.
run-cluster: $(STAMP) $(MODEL_STAMP) haproxy
	$(PY) -m bot cluster --model $(MODEL)

# HAProxy for the cluster profile, from Debian, installed once when missing.
HAPROXY := /usr/sbin/haproxy

haproxy:
	@if [ ! -x $(HAPROXY) ]; then \
		echo "installing haproxy for the cluster profile"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy; \
	fi

# Chat in the terminal with the running stack (start `make run` in another terminal first).
# The action server answers only with ACTIONS_TOKEN: the environment's, else the one
# `make run` keeps in var/tokens.json.
shell: $(STAMP) $(MODEL_STAMP)
	@token="$${ACTIONS_TOKEN:-$$($(PY) -c 'import json; print(json.load(open("var/tokens.json")).get("ACTIONS_TOKEN", ""))' 2>/dev/null)}"; \
	if [ -z "$$token" ]; then \
		echo "error: no ACTIONS_TOKEN: set it, or start 'make run' once (it keeps one in var/tokens.json)." >&2; \
		exit 1; \
	fi; \
	ACTIONS_TOKEN="$$token" ACTIONS_PORT=$${ACTIONS_PORT:-5055} TRACKER_STORE_DIALECT=sqlite \
	TRACKER_STORE_URL=$${TRACKER_STORE_URL:-sqlite:///var/tracker.db} \
	$(PY) -m rasa_ext shell --model $(MODEL) --endpoints endpoints.yml

lint: $(DEV_STAMP)
	$(BIN)/ruff check bot actions rasa_ext tests bench tools
	$(BIN)/ruff format --check bot actions rasa_ext tests bench tools

typecheck: $(DEV_STAMP)
	$(BIN)/mypy bot actions rasa_ext bench

validate: $(DEV_STAMP)
	$(BIN)/rasa data validate --fail-on-warnings --quiet
	$(PY) -m bot catalog check
	$(PY) -m bot flows check
	$(PY) -m bot scoring check
	$(PY) -m bot handoffs check

# Headless Chromium and its driver for the browser tests (tests/browser), from Debian:
# installed once, when missing; Selenium is pointed at them and downloads nothing.
CHROMIUM := /usr/bin/chromium
CHROMEDRIVER := /usr/bin/chromedriver
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

browser:
	@if [ ! -x $(CHROMIUM) ] || [ ! -x $(CHROMEDRIVER) ]; then \
		echo "installing chromium and chromium-driver for the browser tests"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			chromium chromium-driver fonts-dejavu-core; \
	fi

pytest: $(DEV_STAMP) $(MODEL_STAMP) browser haproxy
	$(PY) -m pytest

# Conversation tests: the NLU reads each story's messages, the policies predict
# the bot's actions; any mismatch fails the run. Run through rasa_ext, as the server
# is, so the tracker cache and the dialogue-state reuse are what the stories exercise.
rasa-test: $(MODEL_STAMP)
	$(PY) -m rasa_ext test core --model $(MODEL) --stories tests/test_stories.yml \
		--fail-on-prediction-errors --out var/results/core

# Who may import whom ([tool.importlinter] in pyproject.toml): bot's layers, top to bottom,
# bot never imports Rasa, the actions or the Rasa extensions, and scoring no database code.
imports: $(DEV_STAMP)
	$(BIN)/lint-imports

# The quick gate before a push: lint, types, the import contracts and the tests that need
# no trained model, no browser, no PostgreSQL, Redis or RabbitMQ server (make test runs them all).
check: lint typecheck imports
	$(PY) -m pytest -q -m "not e2e and not browser and not postgres and not redis and not rabbitmq"

test: lint typecheck imports validate pytest rasa-test

bench: $(DEV_STAMP) $(MODEL_STAMP)
	$(PY) -m bench

# The browser libraries under bot/web/static/vendor, rebuilt from their package-lock.json
# (npm is needed only here; the web app serves the committed files).
VENDOR := bot/web/static/vendor

vendor-js:
	@tmp=$$(mktemp -d) && cp $(VENDOR)/package.json $(VENDOR)/package-lock.json $$tmp/ && \
		(cd $$tmp && npm ci --ignore-scripts --no-audit --no-fund --silent) && \
		cp $$tmp/node_modules/socket.io-client/dist/socket.io.min.js $(VENDOR)/ && \
		rm -rf $$tmp && grep -m1 -o 'Socket.IO v[0-9.]*' $(VENDOR)/socket.io.min.js

# One resolution of the runtime and dev inputs together with rasa (so rasa's pins win),
# split into the runtime pins (requirements.lock) and everything (requirements-dev.lock).
lock:
	rm -rf /tmp/lock-venv && $(PYTHON310) -m venv /tmp/lock-venv && /tmp/lock-venv/bin/pip install -q pip==24.0 && \
	/tmp/lock-venv/bin/pip install -q --dry-run --ignore-installed --report /tmp/lock-report.json \
		-r requirements.in -r requirements-dev.in && \
	/tmp/lock-venv/bin/python tools/split_lock.py /tmp/lock-report.json

clean:
	rm -rf var/results .pytest_cache .mypy_cache .ruff_cache
