# The README's two commands are `make check` (main job) and `make test`; both set up
# the virtualenv from nothing when needed.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.docs-installed
EXTRAS  ?= dev,torch,docs

.PHONY: setup check test test-all bench figures reproduce docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	# compressai 1.2.8 declares numpy<2 but works with numpy 2; install it without that pin
	$(BIN)/python -m pip install --quiet --no-deps compressai==1.2.8
	$(BIN)/python -m pip install --quiet einops pytorch-msssim torch-geometric
	touch $(STAMP)

setup: $(STAMP)

## main job: every paper claim computed, REPORT.md + report.json + figures regenerated
check: $(STAMP)
	$(BIN)/python -m paper_checks

## default (fast) test suite; the 4-device sharding tests run in their own process
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

## everything including slow tests
test-all: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m ""

bench: $(STAMP)
	$(BIN)/python -m benchmarks

figures: $(STAMP)
	$(BIN)/python -m paper_checks --only-figures

## full budgets for every claim (CIFAR retraining: see docs/vision.md; resumable per epoch)
reproduce: $(STAMP)
	$(BIN)/python -m paper_checks --full

## API reference + guides -> site/ (strict: a broken link or docstring reference fails);
## mkdocstrings reads the source statically, so torch is not imported
$(DOCS_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(BIN)/python -m mkdocs build --strict

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis site
