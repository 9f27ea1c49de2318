# The two commands a newcomer needs: `make run` (the whole platform locally) and `make test`.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)

.PHONY: run test setup lint typecheck

setup:
	@command -v uv >/dev/null || python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
	@uv sync --all-packages --frozen --quiet

run: setup
	@uv run --frozen python -m deploy.local

test: setup
	@uv run --frozen pytest

lint: setup
	@uv run --frozen ruff check . && uv run --frozen ruff format --check .

# mypy over the packages that are clean so far; a package joins the list once it is (#16).
TYPED := shared/src gateway/src services/correspondence/src services/notifier/src deploy tools

# Its own cache: mypy's incremental cache, shared with runs over other paths (where
# ebok_shared is found installed rather than as a source), reports false "no attribute" errors.
typecheck: setup
	@uv run --frozen mypy --cache-dir .mypy_cache/typecheck $(TYPED)
