# Two commands for a fresh machine: `make demo` and `make test`.
# Everything they need (virtualenv, Kafka, a schema registry, Prism, the Flink job server) is
# installed here, into .venv and $(WIREWATCH_CACHE), never by hand.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export WIREWATCH_CACHE ?= $(HOME)/.cache/wirewatch

.PHONY: help demo test lint provision venv venv-dev clean

help:
	@echo "make demo   - set up .venv and run the batch pipeline on the bundled samples into out/"
	@echo "make test   - set up everything (venv, Kafka, schema registry, Prism, Flink job server)"
	@echo "             and run all tests"
	@echo "make lint   - ruff check"
	@echo "make clean  - remove .venv and out/"

$(VENV)/.base: setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -e .
	touch $@

$(VENV)/.dev: $(VENV)/.base
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev,gcp]'
	touch $@

venv: $(VENV)/.base
venv-dev: $(VENV)/.dev

demo: venv
	$(BIN)/wirewatch run --feeds samples/feeds.yaml --output out --overwrite
	$(BIN)/wirewatch inspect out

lint: venv-dev
	$(BIN)/ruff check .

# Services and binaries the tests use; each script is idempotent and caches under WIREWATCH_CACHE.
provision: venv-dev
provision: provision-kafka provision-registry provision-prism provision-flink

.PHONY: provision-kafka provision-registry provision-prism provision-flink
provision-kafka:
	deploy/local/kafka.sh provision

provision-registry:
	deploy/local/registry.sh provision

provision-prism:
	deploy/local/prism.sh

provision-flink:
	deploy/local/flink.sh

test: lint provision
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) out
