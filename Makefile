# The two commands of the README: `make run` and `make test`. Both create the
# virtual environment on first use; nothing else needs installing by hand.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# The CPU wheel of torch 2.13.0; pip takes it from its find-links or PyPI's CPU index.
PIP_INSTALL := $(BIN)/python -m pip install --disable-pip-version-check

.PHONY: install install-test install-notebook run test viz mlflow-ui notebook ipython readme-tables clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP_INSTALL) -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PIP_INSTALL) -e ".[test]"
	touch $@

$(VENV)/.installed-notebook: $(VENV)/.installed pyproject.toml
	$(PIP_INSTALL) -e ".[notebook]"
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

install-notebook: $(VENV)/.installed-notebook

# CriticalPathRunner: Kedro's ParallelRunner (the graph's independent nodes on every core)
# that starts the ready node with the longest remaining path first, so long chains do not run
# alone at the end; every node seeds itself, so the results tables equal SequentialRunner's
# (benchmarks/default_run.py compares them).
run: install
	$(BIN)/kedro run --runner transfer_lab.runners.CriticalPathRunner

test: install-test
	$(BIN)/python -m pytest

# ?types=nodes hides the ~300 datasets: the ten family boxes and the data flow between them
# (Kedro-Viz reads the enabled element types from the URL)
viz: install
	@echo "Kedro-Viz: the families at http://127.0.0.1:4141/?pid=__default__&types=nodes (all datasets: http://127.0.0.1:4141)"
	$(BIN)/kedro viz run --no-browser

mlflow-ui: install
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db

# The README's result tables, from the last run's data/08_reporting (leaderboard.csv, report.html)
readme-tables: install
	$(BIN)/python -m transfer_lab.reporting.readme --folder data/08_reporting

# Jupyter and IPython with the project loaded (catalog, context, pipelines, session). The
# venv's bin/ goes first on PATH so that `kedro` finds the venv's jupyter and IPython, and
# KEDRO_LOGGING_CONFIG gives kernels started in notebooks/ the project's quiet logging.
NOTEBOOK_ENV := PATH="$(CURDIR)/$(BIN):$$PATH" KEDRO_LOGGING_CONFIG="$(CURDIR)/conf/logging.yml"

notebook: install-notebook
	$(NOTEBOOK_ENV) $(BIN)/kedro jupyter notebook

ipython: install-notebook
	$(NOTEBOOK_ENV) $(BIN)/kedro ipython

# Run outputs only: the data/ layer folders and their .gitkeep stay.
clean:
	find data -mindepth 2 ! -name .gitkeep -delete
	rm -rf mlflow.db mlruns mlartifacts build
