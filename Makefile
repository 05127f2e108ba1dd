# Tidings: `make serve` to run it, `make test` to check it. Both set up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install serve migrate test lint format bench bench-quick clean

$(STAMP): pyproject.toml clients/python/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]" -e ./clients/python
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install Tidings, its Python client and the development tools

serve: $(STAMP) ## Migrate the embedded SQLite store in ./tidings-data and serve on :8000
	$(BIN)/tidings serve

migrate: $(STAMP)
	$(BIN)/tidings migrate

lint: $(STAMP)
	$(BIN)/ruff check src tests bench clients
	$(BIN)/ruff format --check src tests bench clients
	$(BIN)/mypy

# The suite on two processes (its tests mostly wait on servers and receivers), then the
# resilience tests alone: they restart PostgreSQL, which the others must not see.
test: lint ## Lint, type-check and run the suite (SQLite, and PostgreSQL when reachable)
	$(BIN)/pytest -n 2 -m "not resilience"
	$(BIN)/pytest -m resilience

format: $(STAMP)
	$(BIN)/ruff format src tests bench clients
	$(BIN)/ruff check --fix src tests bench clients

bench: $(STAMP) ## Issue 8's benchmark on this machine: one table (bench/run.py --help)
	$(BIN)/python bench/run.py

bench-quick: $(STAMP) ## The same with small counts, under a minute; fails only if a run breaks
	$(BIN)/python bench/run.py --quick

clean:
	rm -rf $(VENV) tidings-data .pytest_cache .mypy_cache .ruff_cache
