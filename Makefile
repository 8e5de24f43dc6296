# nslmodel: build, test and book targets. Needs only Python >= 3.11 and make.
#
#   make book        the main job: venv, execute every notebook (publication set), build the site
#   make book-quick  the same with the quick parameter set (what the tests use)
#   make test        the test suite (nbval, book build and browser check included; not `slow`)
#   make bench       the benchmarks in bench/
#   make nbval-reference  store the quick-set outputs of '# NBVAL_CHECK_OUTPUT' cells in notebooks/
#   make clean       remove build outputs (make distclean also removes .venv)

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules --warn-undefined-variables

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
VENV_PY := $(VENV)/bin/python
EXTRAS := test,book,dask,plot
# Re-install whenever pyproject.toml changes.
STAMP := $(VENV)/.installed-$(EXTRAS)
PYTEST_ARGS ?=

.PHONY: help venv test book book-quick bench nbval-reference clean distclean

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: python3.11 (or python3) not found on PATH" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "error: $(PYTHON) is Python $$($(PYTHON) -c 'import platform; print(platform.python_version())'); nslmodel needs >= 3.11 (set PYTHON=...)" >&2; exit 1; }
	@start=$$SECONDS; \
	if [ ! -x $(VENV_PY) ]; then echo "Creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); fi; \
	echo "Installing nslmodel[$(EXTRAS)] into $(VENV) (log: $(VENV)/pip-install.log)"; \
	if ! $(VENV_PY) -m pip install --disable-pip-version-check --no-input --progress-bar off \
	    -e '.[$(EXTRAS)]' > $(VENV)/pip-install.log 2>&1; then \
	  tail -n 40 $(VENV)/pip-install.log >&2; echo "error: pip install failed" >&2; exit 1; fi; \
	rm -f $(VENV)/.installed-*; touch $@; \
	echo "$(VENV) ready in $$((SECONDS - start)) s"

test: $(STAMP)
	@start=$$SECONDS; rc=0; \
	$(VENV_PY) -m pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests (exit status 5)" >&2; fi; \
	echo "make test: exit status $$rc after $$((SECONDS - start)) s"; \
	exit $$rc

book: $(STAMP)
	@start=$$SECONDS; \
	$(VENV_PY) scripts/build_notebooks.py --set publication; \
	$(VENV_PY) scripts/build_book.py; \
	echo "make book: done in $$((SECONDS - start)) s; open _build/html/index.html"

book-quick: $(STAMP)
	@start=$$SECONDS; \
	$(VENV_PY) scripts/build_notebooks.py --set quick; \
	$(VENV_PY) scripts/build_book.py; \
	echo "make book-quick: done in $$((SECONDS - start)) s; open _build/html/index.html"

bench: $(STAMP)
	@for f in bench/bench_*.py; do echo "== $$f"; $(VENV_PY) "$$f"; done

nbval-reference: $(STAMP)
	$(VENV_PY) scripts/build_notebooks.py --update-nbval-reference

clean:
	rm -rf _build book/figures .pytest_cache .hypothesis dask-worker-space
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info
