# The course's two commands: `make lab` opens it, `make test` checks it.
# Both create .venv and install everything on first use; later runs are quick no-ops.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
KERNEL := nblib

.PHONY: lab test unit notebooks setup clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (nblib)"
	touch $(STAMP)

setup: $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/00_start_here.ipynb

unit: $(STAMP)
	$(BIN)/python -m pytest tests -q

notebooks: $(STAMP)
	$(BIN)/python -m pytest --nbval-lax notebooks -q -p no:cacheprovider

test: $(STAMP)
	$(BIN)/python -m pytest tests -q
	$(BIN)/python -m pytest --nbval-lax notebooks -q -p no:cacheprovider

clean-venv:
	rm -rf $(VENV)
