# libfed: `make serve` and `make test` are all a new machine needs (Python 3.11+).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config.toml
HOST ?= 127.0.0.1
PORT ?= 8080
export LIBFED_CONFIG := $(CONFIG)

.PHONY: install serve test lint bench clean

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

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 -q

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.harvest bench/data/small.toml
	$(BIN)/python -m bench.exchange

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
