# kdnb: two commands do all the set-up.
#   make lab   create .venv (first time), install the pinned environment, open JupyterLab
#   make test  the same set-up, then the unit tests and nbval over every notebook
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: lab test unit nbval bench teachers results clean

# Re-install only when pyproject.toml changes; otherwise the set-up is a no-op.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (kdnb)" >/dev/null
	touch $(STAMP)

# JupyterLab refuses to start as root (containers, CI) unless told that this is intended.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP)
	$(BIN)/jupyter lab $(ROOT_FLAG) notebooks/00_start_here.ipynb

test: $(STAMP)
	$(BIN)/python -m pytest tests notebooks --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg -p no:cacheprovider

unit: $(STAMP)
	$(BIN)/python -m pytest tests

# Check one notebook, e.g.  make nbval NB=notebooks/00_start_here.ipynb
nbval: $(STAMP)
	$(BIN)/python -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg $(NB)

bench: $(STAMP)
	$(BIN)/python -m kdnb.bench

teachers: $(STAMP)
	$(BIN)/python -m kdnb.teachers build

# Recompute every shipped result table in data/results/ (about 15 minutes on 2 idle cores).
results: $(STAMP)
	$(BIN)/python -m kdnb.recipe
	$(BIN)/python -m kdnb.recipe default unregularized-2x800 --T 2 4 8 20 --out data/results/temperature_selection.csv
	$(BIN)/python -m kdnb.sweeps temperature
	$(BIN)/python -m kdnb.compression
	$(BIN)/python -m kdnb.soft_labels

clean:
	rm -rf $(VENV) .pytest_cache
