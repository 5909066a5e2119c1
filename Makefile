# The two commands of the README. `make report` and `make test` set everything up on first use.
# The Python the venv is made from: Debian's own 3.11 where it can make a venv (python3.11-venv), else
# the python3 on PATH. Debian builds it statically linked and profile-optimised; pyenv's default
# build (this machine's python3) links libpython and skips that optimisation: the suite takes 10 %
# less CPU on Debian's (docs/performance.md). Another: `rm -r .venv && make PYTHON=/path/to/python3.11 test`.
PYTHON ?= $(shell /usr/bin/python3.11 -c 'import ensurepip, venv' >/dev/null 2>&1 && echo /usr/bin/python3.11 || echo python3)
VENV := .venv
PY := $(VENV)/bin/python
SAMPLE_QUARTER := 2026-Q3

export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: report test lint install test-packages lock stack stack-down

install: $(VENV)/.installed

# Every package pinned and checked against its hash (requirements.lock, made by `make lock`).
$(VENV)/.installed: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	touch $@

# The quarterly report for the bundled sample workbook (its records cover 2026-Q1 to 2026-Q3).
report: install
	$(PY) -m flows.quarterly_report --quarter $(SAMPLE_QUARTER)

# The static checks first, then the suite inside a PostgreSQL of its own (tests/postgres.py: a
# temporary cluster on a free loopback port, stopped afterwards). A test file stays in one process:
# its servers and fixtures too.
test: install test-packages lint
	$(PY) -m tests.postgres -- $(PY) -m pytest -n 3 --dist loadfile

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Headless Chromium and PostgreSQL from Debian's packages, when missing (as root; else it says what to install).
test-packages:
	@ops/test_packages.sh

# After changing requirements.txt or requirements-dev.txt: re-resolve and re-hash every package
# (pins already in the lock are kept where they still fit; `make lock UPGRADE=1` moves them all).
lock: install
	CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
		$(if $(UPGRADE),--upgrade) --output-file requirements.lock requirements.txt requirements-dev.txt

# Admins: the local Prefect stack (server, work pool, deployments, worker); UI at http://127.0.0.1:4200
stack: install
	$(PY) -m ops.stack up

stack-down: install
	$(PY) -m ops.stack down
