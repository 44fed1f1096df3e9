# The two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: setup build run test soak lint fmt bench bench-compare clean

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
	SOAK_KILLS=1000 $(CARGO) nextest run --profile soak --release -p chute --test durability every_acknowledged_sample

# Throughput and latency figures of this machine (docs/benchmarks.md); about 10 minutes.
bench: setup
	scripts/bench.sh

# Two `make bench` results side by side: make bench-compare A.json B.json (or A=... B=...).
ifeq (bench-compare,$(firstword $(MAKECMDGOALS)))
COMPARE_FILES := $(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS))
ifneq ($(COMPARE_FILES),)
$(eval $(COMPARE_FILES):;@:)
endif
endif
bench-compare:
	@test -n "$(or $(A),$(word 1,$(COMPARE_FILES)))" -a -n "$(or $(B),$(word 2,$(COMPARE_FILES)))" \
	  || { echo "usage: make bench-compare A.json B.json"; exit 2; }
	@$(CARGO) build --release --bin chute -q
	@target/release/chute bench compare $(or $(A),$(word 1,$(COMPARE_FILES))) $(or $(B),$(word 2,$(COMPARE_FILES)))

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	rm -rf target chute-data
