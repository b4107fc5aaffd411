# Remofile: the one entry point. `make serve` and `make test` set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SETUP_STAMP := $(VENV)/.setup-done
PACKAGES := remofile-core remofile-server remofile-client remofile-cli conformance
SERVE_DIRECTORY ?= served
SERVE_PORT ?= 6768
SERVE_ADDRESS ?= 127.0.0.1
# More options of `remofile run`, such as --new-token or --log-format json.
SERVE_OPTIONS ?=

.PHONY: setup proto lint test serve bench conformance docs reliability clean

setup: $(SETUP_STAMP)

$(SETUP_STAMP): requirements-dev.txt $(foreach p,$(PACKAGES),$(p)/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-r requirements-dev.txt $(foreach p,$(PACKAGES),-e ./$(p))
	touch $@

## Regenerate remofile.v1 from proto/ (commit the result).
proto: setup
	PATH=$(abspath $(BIN)):$$PATH tools/generate_proto.sh remofile-core/src

## ruff, mypy, buf lint (and buf breaking against the last proto release tag), generated code up to date.
lint: setup
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	cd proto && ../$(BIN)/buf lint
	PATH=$(abspath $(BIN)):$$PATH tools/check_generated.sh
	PATH=$(abspath $(BIN)):$$PATH tools/check_breaking.sh

## Lint, then every test of every distribution.
test: lint
	$(BIN)/python -m pytest

## Serve ./served on 127.0.0.1:6768 (SERVE_DIRECTORY, SERVE_ADDRESS, SERVE_PORT, SERVE_OPTIONS),
## printing the client settings; the directory keeps its token across restarts.
serve: setup
	mkdir -p $(SERVE_DIRECTORY)
	$(BIN)/remofile run --address $(SERVE_ADDRESS) $(SERVE_OPTIONS) $(SERVE_DIRECTORY) $(SERVE_PORT)

## The reliability campaign at its full counts (make test runs a short version).
reliability: setup
	REMOFILE_RELIABILITY=full $(BIN)/python -m pytest tests-reliability -q -p no:randomly

## Run the conformance suite against a server of our own.
conformance: setup
	$(BIN)/python -m pytest conformance/tests -q

## Compare transfer speed with peers on this machine; prints a table and ratios (then the
## S3 storage on a local SeaweedFS against boto3 straight to it).
bench: setup
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	$(BIN)/python bench/run.py
	$(BIN)/python bench/s3.py

## Build the documentation site into site/ (mkdocs.yml; any warning is an error).
docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

clean:
	rm -rf site $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
