# The two commands of the README:
#   make book   — set up, execute every chapter (papermill, PROFILE), build _build/html
#   make test   — set up, unit tests, nbval over book/, HTML build from the committed outputs
# Options: PROFILE=quick|paper DEVICE=auto|cpu|cuda KERNEL=<jupyter kernel> CHAPTERS="02_preliminaries ..."
#          VENV=<existing environment to use instead of .venv> PYTHON=<interpreter that creates .venv>

PYTHON  ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV    ?= .venv
PROFILE ?= quick
DEVICE  ?= auto
KERNEL  ?=
CHAPTERS ?=
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.goldilocks-installed
PIP     := $(BIN)/python -m pip --disable-pip-version-check -q
export MPLBACKEND ?= Agg
export PYTHONHASHSEED ?= 0

.PHONY: setup book test unit nbval html benchmark clean

setup: $(STAMP)

# torch first, and only when the environment cannot import it (a CUDA build is kept);
# installing the package afterwards finds torch>=2.4 satisfied and pulls no other build.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@$(BIN)/python -c "import torch" 2>/dev/null || { echo "installing torch==2.13.0"; $(PIP) install torch==2.13.0; }
	@echo "installing goldilocks_core[book,test]"
	@$(PIP) install -e ".[book,test]" 2>&1 | grep -v "^WARNING: Location" || true
	@$(BIN)/python -c "import goldilocks_core, torch, jupyter_book, nbval, papermill" 
	@touch $@

book: setup
	$(BIN)/goldilocks book --profile $(PROFILE) --device $(DEVICE) \
		$(if $(KERNEL),--kernel $(KERNEL)) $(if $(CHAPTERS),--chapters $(CHAPTERS))

test: setup unit nbval html

unit: setup
	$(BIN)/python -m pytest tests -q

nbval: setup
	$(BIN)/python -m pytest -q --nbval --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider book/

html: setup
	$(BIN)/python -m jupyter_book build . -W -n --keep-going
	@echo "The book is at $(CURDIR)/_build/html/index.html"

benchmark: setup
	$(BIN)/python benchmarks/bench_curvature.py

clean:
	rm -rf _build
