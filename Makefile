# The two commands: `make run` and `make test`. Everything else is a helper for them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test install migrate seed lint fmt typecheck bench fuzz chaos soak clean ci browser-deps

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v '^WARNING: Location' || true
	@$(PY) -c "import django, celery, rest_framework" || { echo "dependency install failed" >&2; exit 1; }
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --no-input -v 0
	$(PY) manage.py translations compile

seed: migrate
	HUB_URL=http://127.0.0.1:$(PORT) $(PY) manage.py seed_demo

run: seed
	$(PY) manage.py collectstatic --no-input -v 0
	@echo ""
	@echo "  Web UI        http://127.0.0.1:$(PORT)/"
	@echo "  Admin         http://127.0.0.1:$(PORT)/admin/      (operator / operator-demo-pass)"
	@echo "  API docs      http://127.0.0.1:$(PORT)/api/v1/docs/"
	@echo "  Checkpoint    http://127.0.0.1:$(PORT)/api/v1/ledger/checkpoint?witnessed=2"
	@echo "  Witnesses     http://127.0.0.1:$(PORT)/api/v1/ledger/witnesses"
	@echo "  Readiness     http://127.0.0.1:$(PORT)/readyz"
	@echo ""
	@# honcho gives each process its own PORT; ours travel as HUB_PORT
	HUB_PORT=$(PORT) $(VENV)/bin/honcho -f Procfile.dev start

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

MYPY_PACKAGES := config core institutions webhooks ledger kyc settlement remittance wallet compliance partner_sdk
typecheck: install
	$(VENV)/bin/mypy $(MYPY_PACKAGES)

# What the browser tests need besides Python packages: axe-core from the npm registry (into
# var/vendor/, never committed) and Debian's Chromium (.ci/run installs it; locally the browser
# tests say "needs Chromium" and are skipped when it is missing).
AXE_VERSION := 4.14.1
browser-deps:
	@if [ ! -s var/vendor/axe.min.js ]; then \
	  if command -v npm >/dev/null; then \
	    mkdir -p var/vendor && tmp=$$(mktemp -d) && \
	    (cd $$tmp && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null && tar xzf axe-core-*.tgz) && \
	    cp $$tmp/package/axe.min.js var/vendor/axe.min.js && rm -rf $$tmp; \
	  else echo "npm not found: the browser tests will fail their accessibility checks" >&2; fi; \
	fi
	@test -x "$${CHROMIUM:-/usr/bin/chromium}" || echo "NOTE: no Chromium at $${CHROMIUM:-/usr/bin/chromium}: browser tests will be SKIPPED (apt-get install chromium)"

test: install browser-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy $(MYPY_PACKAGES)
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) manage.py makemigrations --check --dry-run -v 1
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) bench/run_all.py

# Schemathesis against a live hub on PostgreSQL + Redis (scripts/fuzz_api.py; FUZZ_* to tune).
fuzz: install
	$(PY) scripts/fuzz_api.py

# Fault harness (bench/chaos.py): kills and restarts real processes under load on its own
# database (remit_chaos), Redis db 6 and ports 8710-8712, then checks that nothing was lost,
# duplicated or rewritten. CHAOS_ARGS=--short for the CI version; --with-restarts adds
# PostgreSQL and Redis restarts (shared by everything on the machine: off by default).
chaos: install
	$(PY) bench/chaos.py $(CHAOS_ARGS)

# Soak (bench/soak.py): orders at a steady rate with the simulator answering, p50/p99 and each
# process's memory per minute. SOAK_ARGS="--minutes 30 --rate 40".
soak: install
	$(PY) bench/soak.py $(SOAK_ARGS)

clean:
	rm -rf var/ .pytest_cache
