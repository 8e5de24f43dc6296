# nslmodel: build, test and book targets. Needs only Python >= 3.11 and make.
#
#   make book        the main job: venv, execute the notebooks that changed (publication values
#                    of their parameters cells), build the site
#   make book-quick  the same with the quick set of notebooks/params.yml (what the tests use)
#   make test        the test suite, its files spread over TEST_WORKERS processes (each
#                    notebook executed once at the quick set for nbval's comparison, the book
#                    build and the browser check, and once in a second environment; not `slow`)
#   make lock        refresh requirements.lock (needs network; uv is installed into a scratch venv;
#                    an unchanged lock is left as it is, mtime included)
#   make artifact    archive the built book for deposit (site, notebooks, lock, metadata, SHA256SUMS)
#   make venv LOCKED=0  install from pyproject.toml's ranges instead of the lock (other platforms)
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
EXTRAS := test,book,dask,plot,dev
# requirements.lock pins every package of those extras, with hashes, for Python 3.11 on Linux;
# pip installs it (hash-checked) without any other tool. LOCKED=0 resolves pyproject's ranges.
LOCK := requirements.lock
LOCKED ?= 1
UV_VERSION := 0.13.9
PIP := $(VENV_PY) -m pip install --disable-pip-version-check --no-input --progress-bar off
ifeq ($(LOCKED),1)
# --no-deps: every package is pinned, so pip need not resolve; pip check proves the set complete.
INSTALL := $(PIP) --require-hashes --no-deps -r $(LOCK) && $(PIP) --no-deps --no-build-isolation -e . \
  && $(VENV_PY) -m pip check
STAMP := $(VENV)/.installed-locked
STAMP_DEPS := pyproject.toml $(LOCK)
else
INSTALL := $(PIP) -e '.[$(EXTRAS)]'
STAMP := $(VENV)/.installed-unlocked
STAMP_DEPS := pyproject.toml
endif
PYTEST_ARGS ?=
# pytest-xdist workers (default: one per core, at most 4). --dist loadfile keeps each test file
# on one worker, so that module and session fixtures (the book's notebooks, the wheel's clean
# venv) are set up once per run; files go out in collection order, the book's first
# (tests/conftest.py), as its chain of fixtures takes longest.
TEST_WORKERS ?= auto

.PHONY: help venv lock artifact test book book-quick bench nbval-reference clean distclean

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

venv: $(STAMP)

$(STAMP): $(STAMP_DEPS)
	@test -n "$(PYTHON)" || { echo "error: python3.11 (or python3) not found on PATH" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "error: $(PYTHON) is Python $$($(PYTHON) -c 'import platform; print(platform.python_version())'); nslmodel needs >= 3.11 (set PYTHON=...)" >&2; exit 1; }
	@start=$$SECONDS; \
	if [ ! -x $(VENV_PY) ]; then echo "Creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); fi; \
	echo "Installing nslmodel[$(EXTRAS)] into $(VENV), LOCKED=$(LOCKED) (log: $(VENV)/pip-install.log)"; \
	if ! { $(INSTALL); } > $(VENV)/pip-install.log 2>&1; then \
	  tail -n 40 $(VENV)/pip-install.log >&2; echo "error: pip install failed" >&2; exit 1; fi; \
	rm -f $(VENV)/.installed-*; touch $@; \
	echo "$(VENV) ready in $$((SECONDS - start)) s"

# The lock is compiled beside itself and moved into place only if its content changed: an
# unchanged lock keeps its mtime, so the venv stamp (which depends on it) stays up to date.
# rfc3987-syntax (with its parser generator, lark) is left out: jsonschema uses it only to
# check the "iri" string format, which nothing here needs, and imports it if present, which
# builds a grammar at import time (2.3 s in every process that imports nbformat or papermill).
NOT_LOCKED := rfc3987-syntax lark
lock:
	@test -x $(VENV)/uv/bin/uv || { $(PYTHON) -m venv $(VENV)/uv && \
	  $(VENV)/uv/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION); }
	@new=$(LOCK).new.$$$$; trap 'rm -f "$$new"' EXIT; \
	$(VENV)/uv/bin/uv pip compile pyproject.toml --all-extras --generate-hashes --upgrade \
	  --python-version 3.11 --python-platform linux --custom-compile-command "make lock" \
	  $(addprefix --no-emit-package ,$(NOT_LOCKED)) --quiet -o "$$new"; \
	if cmp -s "$$new" $(LOCK); then echo "$(LOCK): unchanged"; \
	else mv "$$new" $(LOCK); echo "$(LOCK): updated"; fi

# The deposit: everything a reader needs to check and rerun this copy of the book. SITE and
# FIGURES default to the outputs of `make book`; SOURCE_DATE_EPOCH (else the commit time)
# dates every member, so the same inputs give the same archive.
SITE ?= _build/html
FIGURES ?= book/figures
VERSION = $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' nslmodel/__init__.py)
ARTIFACT = _build/nslmodel-$(VERSION)-book.tar.gz
artifact:
	@test -f $(SITE)/index.html -a -f $(FIGURES)/provenance.json || { \
	  echo "error: no built book in $(SITE) and $(FIGURES); run make book first" >&2; exit 1; }
	@mkdir -p _build; stage=$$(mktemp -d _build/.artifact-XXXXXX); trap 'rm -rf "$$stage"' EXIT; \
	dir=$$stage/nslmodel-$(VERSION)-book; mkdir -p $$dir/notebooks; \
	cp -r $(SITE) $$dir/site; cp $(FIGURES)/*.ipynb $$dir/notebooks/; \
	cp $(FIGURES)/provenance.json $(LOCK) CITATION.cff .zenodo.json $$dir/; \
	(cd $$dir && find . -type f ! -path ./SHA256SUMS -printf '%P\0' | LC_ALL=C sort -z | xargs -0 sha256sum > SHA256SUMS); \
	epoch=$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null || date +%s)}; \
	tar --sort=name --mtime=@$$epoch --owner=0 --group=0 --numeric-owner -C $$stage \
	  -cf - nslmodel-$(VERSION)-book | gzip -9n > $$stage/out.tar.gz; \
	mv $$stage/out.tar.gz $(ARTIFACT); \
	echo "$(ARTIFACT): $$(du -h $(ARTIFACT) | cut -f1), $$(wc -l < $$dir/SHA256SUMS) files"

test: $(STAMP)
	@start=$$SECONDS; rc=0; \
	$(VENV_PY) -m pytest -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile \
	  --no-loadscope-reorder $(PYTEST_ARGS) \
	  || rc=$$?; \
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
	rm -rf $(VENV) *.egg-info dist
