# The two commands of the README: `make run` and `make test`. Both create the
# virtual environment on first use; nothing else needs installing by hand.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# The CPU wheel of torch 2.13.0; pip takes it from its find-links or PyPI's CPU index.
PIP_INSTALL := $(BIN)/python -m pip install --disable-pip-version-check

.PHONY: install install-test run test viz mlflow-ui readme-tables clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP_INSTALL) -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PIP_INSTALL) -e ".[test]"
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(BIN)/kedro run

test: install-test
	$(BIN)/python -m pytest

viz: install
	$(BIN)/kedro viz run --no-browser

mlflow-ui: install
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db

# The README's result tables, from the last run's data/08_reporting (leaderboard.csv, report.html)
readme-tables: install
	$(BIN)/python -m transfer_lab.reporting.readme --folder data/08_reporting

# Run outputs only: the data/ layer folders and their .gitkeep stay.
clean:
	find data -mindepth 2 ! -name .gitkeep -delete
	rm -rf mlflow.db mlruns mlartifacts build
