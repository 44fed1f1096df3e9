# The two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: setup build run test soak lint fmt bench clean

setup:
	@scripts/setup.sh

build: setup
	$(CARGO) build --release --bin chute

run: build
	scripts/run-demo.sh

test: setup
	$(CARGO) nextest run --release --workspace --no-fail-fast

# The crash test with 1,000 SIGKILLs instead of 20.
soak: setup
	SOAK_KILLS=1000 $(CARGO) nextest run --release -p chute --test durability every_acknowledged_sample

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	rm -rf target chute-data
