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

.PHONY: setup book test unit nbval html benchmark clean constraints

setup: $(STAMP)

# torch first, and only when the environment cannot import it (a CUDA build is kept); then the
# package with every other dependency at the version in constraints.txt (what the committed
# outputs were produced with, so nbval compares like with like). The torch pin is left out of
# the constraints when another torch is already installed, so an existing build is never replaced.
CONSTRAINTS := constraints.txt
TORCH_PIN   := $(shell sed -n 's/^torch==//p' $(CONSTRAINTS))

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(BIN)/python || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@$(BIN)/python -c "import torch" 2>/dev/null || { echo "installing torch==$(TORCH_PIN)"; $(PIP) install torch==$(TORCH_PIN); }
	@grep -v '^torch==' $(CONSTRAINTS) > $(VENV)/constraints-without-torch.txt
	@echo "installing goldilocks_core[book,test] (versions from $(CONSTRAINTS))"
	@$(PIP) install -c $(VENV)/constraints-without-torch.txt -e ".[book,test]" 2>&1 | grep -v "^WARNING: Location" || true
	@$(BIN)/python -c "import goldilocks_core, torch, jupyter_book, nbval, papermill"
	@$(BIN)/python -c "import torch, sys; v = torch.__version__.split('+')[0]; \
		v == '$(TORCH_PIN)' or print(f'note: torch {v} here, the committed outputs used $(TORCH_PIN)', file=sys.stderr)"
	@touch $@

# After re-executing the book with new package versions: record them.
constraints: setup
	@{ sed -n '1,/^# Refresh/p' $(CONSTRAINTS); $(BIN)/python -m pip freeze --exclude-editable \
		| grep -v goldilocks | sed 's/^torch==\([^+]*\)+.*/torch==\1/' \
		| sed 's/^soupsieve==\(.*\)$$/soupsieve==\1; python_full_version >= "3.11.5"\nsoupsieve<3; python_full_version < "3.11.5"  # 3.x and 4.x need Python 3.11.5 (Debian 12 ships 3.11.2)/'; \
		} > $(CONSTRAINTS).new
	@mv $(CONSTRAINTS).new $(CONSTRAINTS) && echo "wrote $(CONSTRAINTS)"

book: setup
	$(BIN)/goldilocks book --profile $(PROFILE) --device $(DEVICE) \
		$(if $(KERNEL),--kernel $(KERNEL)) $(if $(CHAPTERS),--chapters $(CHAPTERS))

test: setup unit nbval html browser

unit: setup
	$(BIN)/python -m pytest tests -q

nbval: setup
	$(BIN)/python -m pytest -q --nbval --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider book/

html: setup
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "The book is at $(CURDIR)/_build/html/index.html"

benchmark: setup
	$(BIN)/python benchmarks/bench_curvature.py

clean:
	rm -rf _build

# --- offline math and the browser test (appended) -------------------------------------------
# `make mathjax` copies MathJax 3 from the npm registry into book/_static/mathjax (git-ignored),
# which the HTML build then serves itself (math renders without internet). Without npm, or
# when the registry cannot be reached, the book loads MathJax from the CDN (Sphinx's default);
# GOLDILOCKS_MATHJAX=cdn forces the CDN even with a local copy.
MATHJAX_VERSION ?= 3.2.2
MATHJAX_DIR     := book/_static/mathjax
BROWSER_ARGS    ?=

.PHONY: mathjax browser

mathjax: $(MATHJAX_DIR)/tex-mml-chtml.js

$(MATHJAX_DIR)/tex-mml-chtml.js:
	@if command -v npm >/dev/null 2>&1; then \
	  tmp=$$(mktemp -d); \
	  if (cd $$tmp && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null 2>&1 && tar xzf mathjax-$(MATHJAX_VERSION).tgz); then \
	    rm -rf $(MATHJAX_DIR) && mkdir -p $(MATHJAX_DIR) && \
	    rm -f $$tmp/package/es5/*svg*.js $$tmp/package/es5/*full*.js $$tmp/package/es5/node-main.js && \
	    cp -R $$tmp/package/es5/. $(MATHJAX_DIR)/ && cp $$tmp/package/LICENSE $(MATHJAX_DIR)/ && \
	    echo "MathJax $(MATHJAX_VERSION) copied to $(MATHJAX_DIR): the book renders math offline"; \
	  else echo "could not fetch mathjax@$(MATHJAX_VERSION) from npm: the book will load MathJax from the CDN"; fi; \
	  rm -rf $$tmp; \
	else echo "npm not found: the book will load MathJax from the CDN"; fi

# the HTML build picks up the local MathJax when there is one
html: mathjax

# Every page of the book in headless Chromium (tests/browser): console errors, images, math,
# table-of-contents links. Skips without chromium/chromedriver, fails in CI (CI=true).
browser: setup mathjax
	$(BIN)/python -m pytest tests/browser -q -p no:cacheprovider $(BROWSER_ARGS)

# --- the book as one PDF (appended) ----------------------------------------------------------
# `make pdf` prints every toc page of the HTML build, in toc order, into
# _build/html/goldilocks-book.pdf (linked from the intro) with the headless Chromium of the
# browser test: math typeset by MathJax, figures and tables kept (book/_ext/book_pdf.py).
.PHONY: pdf

pdf: html
	$(BIN)/python book/_ext/book_pdf.py --html _build/html
