# The two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
export CHUTE_CHDB_LIBRARY ?= $(CURDIR)/.venv/lib/python3.11/site-packages/chdb/_chdb.abi3.so

.PHONY: setup build run test lint fmt bench clean

setup:
	@scripts/setup.sh

build: setup
	$(CARGO) build --release --bin chute

run: build
	scripts/run-demo.sh

test: setup
	$(CARGO) nextest run --release --workspace --no-fail-fast

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	rm -rf target chute-data
