# Tidings: `make serve` to run it, `make test` to check it. Both set up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install serve migrate test lint format bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install Tidings with its development tools

serve: $(STAMP) ## Migrate the embedded SQLite store in ./tidings-data and serve on :8000
	$(BIN)/tidings serve

migrate: $(STAMP)
	$(BIN)/tidings migrate

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint ## Lint, type-check and run the suite (SQLite, and PostgreSQL when reachable)
	$(BIN)/pytest

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(STAMP) ## Publish N events to a local receiver; print deliveries/s and latency
	$(BIN)/python bench/delivery.py

clean:
	rm -rf $(VENV) tidings-data .pytest_cache .mypy_cache .ruff_cache
