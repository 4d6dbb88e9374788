# crmlab — the commands the README gives. Every target bootstraps .venv from pyproject.toml.
PY ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DATA ?= data/demo
REPORT_LANG ?= en
JOBS ?= 2
# Size of the simulated shop the exploration notebooks use under `make test`.
TEST_DEMO_CUSTOMERS ?= 4000

.PHONY: setup demo test test-spark lab bench clean help

help:
	@echo "make demo   simulate the demo shop, run every demo experiment, render the reports"
	@echo "make test   the test suite (unit tests, statistical references, notebooks)"
	@echo "make setup  create .venv and register the 'crmlab' Jupyter kernel"
	@echo "make lab    JupyterLab on the crmlab kernel"
	@echo "make bench  side-by-side benchmarks -> benchmarks/RESULTS.md"
	@echo "make clean  remove generated data, reports and caches"

# .venv is (re)installed when missing or older than pyproject.toml.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name crmlab --display-name "crmlab (Python 3.11)" >/dev/null
	@touch $(STAMP)

setup: $(STAMP)

# Runs every spec in experiments/ on the demo shop (a campaign is skipped when nothing it depends
# on changed); `make demo REPORT_LANG=ko` renders every report in Korean.
demo: $(STAMP)
	@test -f $(DEMO_DATA)/orders.parquet || $(BIN)/crmlab simulate --out $(DEMO_DATA)
	$(BIN)/crmlab run experiments --data $(DEMO_DATA) --out reports --jobs $(JOBS) \
		$(if $(filter-out file default undefined,$(origin REPORT_LANG)),--report-lang $(REPORT_LANG))
	@echo "portfolio: $(CURDIR)/reports/index.html"

test: $(STAMP)
	CRMLAB_DEMO_CUSTOMERS=$(TEST_DEMO_CUSTOMERS) $(BIN)/python -m pytest -q -p no:cacheprovider \
		tests $(wildcard notebooks/explore_*.ipynb notebooks/design_experiment.ipynb) --nbval-lax

test-spark: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,spark]'
	$(BIN)/python -m pytest -q -p no:cacheprovider -m spark tests

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf data/demo reports/*/ reports/index.html .pytest_cache benchmarks/.work
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
