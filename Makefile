# The two commands of the README: `make run` boots the main job, `make test` passes the tests.
# Each creates the virtualenv it needs (.venv) on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
BYTECODE = $(VENV)/.compiled
SOURCES := $(shell find src -name '*.py')
IMAGE  ?= nvme.img

.PHONY: run test lint typecheck layers unit bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The package's bytecode, compiled ahead (the environment may set PYTHONDONTWRITEBYTECODE=1:
# Python then reads .pyc files but never writes them, so without this every `qrv` run compiles
# every module again), and the code of the methods @dataclass writes (qrv.dataclass_code).
# Redone for the sources changed since; a stale .pyc is never used (Python checks each one
# against its source's mtime and size), it only costs the compile.
$(BYTECODE): $(STAMP) $(SOURCES)
	$(BIN)/python -m compileall -q src
	$(BIN)/python -m qrv.dataclass_code
	touch $(BYTECODE)

run: $(STAMP) $(BYTECODE)
	$(BIN)/qrv emu --nvme --image '$(IMAGE)'

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP) $(BYTECODE)
	$(BIN)/pytest -n 2 -q

test: lint typecheck layers unit

bench: $(STAMP) $(BYTECODE)
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	find src -name __pycache__ -type d -prune -exec rm -rf {} +
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
