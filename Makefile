# The two commands: `make run` and `make test`. Everything else is a helper of theirs.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
MYSQL_STAMP := $(VENV)/.installed-mysql
HOST ?= 127.0.0.1
PORT ?= 8000

# Tests read settings from the environment like production does; these are test-only.
TEST_ENV := DJANGO_DEBUG=1 SECRET_KEY=test-only-not-secret

.PHONY: run test lint install migrate

install: $(STAMP) $(NODE_STAMP)

$(STAMP): requirements/runtime.txt requirements/base.txt requirements/test.txt requirements/constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements/test.txt
	touch $@

# Front-end files served as static assets (lightweight-charts); no build step.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# mysqlclient builds against libmariadb-dev; installed only when DATABASE_URL asks for it.
$(MYSQL_STAMP): requirements/mysql.txt $(STAMP)
	$(BIN)/pip install -q -r requirements/mysql.txt
	touch $@

DB_DEPS := $(if $(filter mysql%,$(DATABASE_URL)),$(MYSQL_STAMP))

migrate: $(STAMP) $(NODE_STAMP) $(DB_DEPS)
	mkdir -p var
	DJANGO_DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DJANGO_DEBUG=1 $(BIN)/python manage.py loaddata fixtures/currencies.json

run: migrate
	HOST=$(HOST) PORT=$(PORT) bash scripts/run_demo.sh

test: $(STAMP) $(NODE_STAMP) $(DB_DEPS)
	$(TEST_ENV) $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
