# Two commands for a newcomer: `make run` and `make test`. Everything else is optional.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# uv installs the locked set in seconds; pinned so the lock file is read the same everywhere.
UV_VERSION := 0.13.9

.PHONY: run test venv lock lint bench clean

$(BIN)/.installed: pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip install -q --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	@touch $@

venv: $(BIN)/.installed

## Start the hub on the embedded default (PostgreSQL, Airflow, API, stand-ins) and run every pipeline once.
run: venv
	$(BIN)/ggzy run

## Run the whole test suite (creates .venv if needed).
test: venv
	$(BIN)/python -m pytest

## Re-resolve the lock after editing pyproject.toml dependencies.
lock:
	$(BIN)/uv pip compile pyproject.toml --extra test --universal -p 3.11 -o requirements.lock

lint: venv
	$(BIN)/ruff check .

bench: venv
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .ggzy
