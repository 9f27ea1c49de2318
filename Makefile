# The two commands a newcomer needs: `make run` (the whole platform locally) and `make test`.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)

.PHONY: run test test-web test-containers test-fast test-service setup bytecode browser lint typecheck

setup:
	@command -v uv >/dev/null || python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
	@uv sync --all-packages --frozen --quiet

run: setup
	@uv run --frozen python -m deploy.local

# The browser tests drive Debian's Chromium (never Playwright's download): installed when missing.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "Installing Debian's chromium for the browser tests…"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; \
	  elif command -v sudo >/dev/null; then SUDO="sudo"; \
	  else echo "Chromium is missing and I cannot install it (neither root nor sudo): run" \
	    "'apt-get install chromium' as root, then 'make test' again." >&2; exit 1; fi; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
	    && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
	    || { echo "Installing chromium with apt failed (see above); the browser tests need" \
	      "/usr/bin/chromium." >&2; exit 1; }; \
	fi

# The whole suite, after the code passes ruff and mypy (a style or type error fails CI too).
# Its modules run side by side in TEST_WORKERS processes (pytest-xdist, a whole module to a
# worker, so a module's stack starts once): the tests wait on processes, broker and disk more
# than on CPU. Every test isolates its data, so the workers never meet.
TEST_WORKERS ?= 2
test: setup bytecode browser lint typecheck
	@uv run --frozen pytest -n $(TEST_WORKERS) --dist loadfile

# Every module compiled to bytecode once, before the tests: each whole stack a test starts is
# about twenty Python processes, and without .pyc files (a fresh venv, or PYTHONDONTWRITEBYTECODE
# set, as on these machines) each of them compiles every module it imports from source again:
# about a third of a stack's start-up CPU (measured: 29.5 s -> 18.8 s CPU per stack). Files
# already compiled are skipped (a few seconds); one that does not compile only stays uncached.
SITE_PACKAGES = $$(uv run --frozen python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
bytecode: setup
	@uv run --frozen python -m compileall -q -j 0 $(SITE_PACKAGES) \
	  shared/src gateway/src web/src services deploy tools bench tests >/dev/null || true

# The portal's page and browser tests alone.
test-web: setup bytecode browser
	@uv run --frozen pytest tests/web

# The images built with podman and the stack run from them (installs podman, runc and
# debootstrap with apt when missing; the base image is cached in ~/.cache/ebok). Part of
# `make test` too; this runs it alone, printing image sizes and timings.
test-containers: setup
	@uv run --frozen pytest tests/deploy/test_containers.py -s

# Tiers: unit (no I/O, seconds), service (real PostgreSQL and RabbitMQ, minutes).
test-fast: setup
	@uv run --frozen pytest -m unit -q

test-service: setup
	@uv run --frozen pytest -m "unit or service" -q

lint: setup
	@uv run --frozen ruff check . && uv run --frozen ruff format --check .

# mypy over every package of the platform and its tests (the tests call our code as users do:
# a renamed helper or a changed signature fails here before a test runs).
TYPED := shared/src gateway/src web/src $(wildcard services/*/src) deploy tools bench tests

# Its own cache: mypy's incremental cache, shared with runs over other paths (where
# ebok_shared is found installed rather than as a source), reports false "no attribute" errors.
typecheck: setup
	@uv run --frozen mypy --cache-dir .mypy_cache/typecheck $(TYPED)
