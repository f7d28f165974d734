# kdnb: two commands do all the set-up.
#   make lab   create .venv (first time), install the pinned environment, open JupyterLab
#   make test  the same set-up, then the unit tests, nbval over every notebook (English and Chinese), and
#              the browser suite
#              (tests/browser: a real JupyterLab and Voila in headless Chromium; skipped, with a message,
#              where /usr/bin/chromium is missing)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: lab present zh test browser unit nbval nbval-other-kernels bench teachers results cheatsheet clean

# Re-install only when pyproject.toml or this Makefile changes; otherwise the set-up is a no-op.
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ipykernel)" >/dev/null
	touch $(STAMP)

# JupyterLab refuses to start as root (containers, CI) unless told that this is intended.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP)
	$(BIN)/jupyter lab $(ROOT_FLAG) notebooks/00_start_here.ipynb

# Classroom mode: the temperature explorer, the playground and the pruning slider as one Voila page.
# make present LANG=zh serves it in Chinese. (LANG=zh is not a locale: the page's processes keep C.UTF-8.)
PRESENT_LANG := $(if $(filter zh zh_%,$(LANG)),zh,en)
present: $(STAMP)
	LANG=$(if $(findstring .,$(LANG)),$(LANG),C.UTF-8) $(BIN)/python -m kdnb.classroom --lang $(PRESENT_LANG)

# The Chinese edition: rebuild notebooks/zh/ from the English notebooks and data/zh/*.yaml, execute
# each one, and re-cut the Chinese font subset to the characters in use (needs fonts-noto-cjk).
zh: $(STAMP)
	$(BIN)/python -m kdnb.i18n update
	$(BIN)/python -m kdnb.fonts build
	$(BIN)/python -m kdnb.zh build --all --execute

CHROMIUM ?= $(or $(KDNB_CHROMIUM),/usr/bin/chromium)
# Workers for the unit tests and nbval (pytest-xdist; one kernel per worker, each notebook on one worker).
# The browser suite then runs alone: it times slider redraws, which other work would slow.
JOBS ?= 2
PYTEST_NB := --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg -p no:cacheprovider
test: $(STAMP)
	@test -x "$(CHROMIUM)" || echo "make test: no Chromium at $(CHROMIUM), so the browser suite (tests/browser) is SKIPPED. To run it: sudo apt-get install chromium fonts-noto-cjk"
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest -n $(JOBS) --dist loadfile -m "not browser" tests notebooks $(PYTEST_NB)
	$(BIN)/python -m pytest tests/browser -p no:cacheprovider

# The notebooks again, with other float kernels: a stand-in for another CPU (Intel, Apple silicon,
# another AMD), whose sums round differently. Committed outputs must not depend on the last bits.
OTHER_KERNELS := MKL_CBWR=COMPATIBLE ONEDNN_MAX_CPU_ISA=SSE41 ATEN_CPU_CAPABILITY=default
nbval-other-kernels: $(STAMP)
	$(OTHER_KERNELS) OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest -n $(JOBS) --dist loadfile notebooks $(PYTEST_NB)

unit: $(STAMP)
	$(BIN)/python -m pytest tests -m "not browser"

# The browser suite alone (about 10 minutes): screenshots land in tests/browser/screenshots/.
browser: $(STAMP)
	$(BIN)/python -m pytest tests/browser -p no:cacheprovider

# Check one notebook, e.g.  make nbval NB=notebooks/00_start_here.ipynb
nbval: $(STAMP)
	$(BIN)/python -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg $(NB)

# The performance record: make bench (about 20 minutes on 2 cores; it writes data/results/bench_figures.csv), make bench ARGS=--tiny (seconds),
# ARGS="--skip-notebooks --seeds 5 --repeats 5" and more: python -m kdnb.bench --help.
bench: $(STAMP)
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m kdnb.bench $(ARGS)

# The two-page cheat sheets and the booklets (Markdown and HTML, English and Chinese), rendered from data/questions.yaml.
cheatsheet: $(STAMP)
	$(BIN)/python -m kdnb.cheatsheet

teachers: $(STAMP)
	$(BIN)/python -m kdnb.teachers build

# Recompute every shipped result table in data/results/ (hours on 2 idle cores; `python -m kdnb.results list`
# shows each table, its maker and its time; `python -m kdnb.results make NAME` makes one). Notebook 06's int8
# backends table needs torchao installed. The bench's own tables are `make bench`'s.
results: $(STAMP)
	$(BIN)/python -m kdnb.results make all

clean:
	rm -rf $(VENV) .pytest_cache
