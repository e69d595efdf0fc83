# libfed: `make serve` and `make test` are all a new machine needs (Python 3.11+).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config.toml
HOST ?= 127.0.0.1
PORT ?= 8080
export LIBFED_CONFIG := $(CONFIG)

.PHONY: install serve test lint bench clean browser translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

$(CONFIG):
	cp config.example.toml $(CONFIG)

serve: install $(CONFIG)
	$(BIN)/libfed db upgrade
	$(BIN)/libfed demo --if-empty
	$(BIN)/libfed serve --host $(HOST) --port $(PORT)

# The browser tests drive Debian's Chromium (Playwright cannot download its own here).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver; }

# The suite runs on SQLite, then again on PostgreSQL when LIBFED_TEST_POSTGRES_URL is set
# or a server answers on 127.0.0.1:5432 (tests/backends.py: a database per test).
POSTGRES_URL ?= $(or $(LIBFED_TEST_POSTGRES_URL),postgresql://postgres@127.0.0.1:5432/test)
POSTGRES_UP = $(BIN)/python -c "import psycopg; psycopg.connect('$(POSTGRES_URL)', connect_timeout=3).close()"

test: install browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 -q
	@if [ -n "$$LIBFED_TEST_POSTGRES_URL" ] || $(POSTGRES_UP) 2>/dev/null; then \
		echo "--- the suite again, on PostgreSQL ($(POSTGRES_URL))"; \
		LIBFED_TEST_BACKEND=postgresql LIBFED_TEST_POSTGRES_URL='$(POSTGRES_URL)' \
			$(BIN)/python -m pytest -n 2 -q; \
	else \
		echo "--- no PostgreSQL on 127.0.0.1:5432: the suite ran on SQLite only"; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.harvest bench/data/small.toml
	$(BIN)/python -m bench.intake
	$(BIN)/python -m bench.exchange
	$(BIN)/python -m bench.pages
	$(BIN)/python -m bench.postgres
	$(BIN)/python -m bench.search
	$(BIN)/python -m bench.explain
	$(BIN)/python -m bench.startup
	$(BIN)/python -m bench.federation
	$(BIN)/python -m bench.formats
	$(BIN)/python -m bench.unimarc
	$(BIN)/python -m bench.export
	$(BIN)/python -m bench.set_rules
	$(BIN)/python -m bench.bisection
	$(BIN)/python -m bench.history
	$(BIN)/python -m bench.reconcile
	$(BIN)/python -m bench.queue

# After changing visible text: refresh the catalogue and each language's file, then
# translate the new entries in libfed/translations/*/LC_MESSAGES/messages.po and run
# `make translations` again to compile them (the suite fails on any untranslated entry).
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_pgettext:1c,2 -k Message --project libfed \
		--version 0.1 --copyright-holder "libfed contributors" --no-location --sort-output -o libfed/translations/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete \
		-i libfed/translations/messages.pot -d libfed/translations
	$(BIN)/pybabel compile -d libfed/translations

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
