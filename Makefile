# The two commands of the README. `make report` sets everything up on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SAMPLE_QUARTER := 2026-Q3

export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: report test install stack stack-down

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $@

# The quarterly report for the bundled sample workbook (its records cover 2026-Q1 to 2026-Q3).
report: install
	$(PY) -m flows.quarterly_report --quarter $(SAMPLE_QUARTER)

test: install
	$(PY) -m pytest -n 3 --dist loadfile  # a test file stays in one process: its servers and fixtures too

# Admins: the local Prefect stack (server, work pool, deployments, worker); UI at http://127.0.0.1:4200
stack: install
	$(PY) -m ops.stack up

stack-down: install
	$(PY) -m ops.stack down
