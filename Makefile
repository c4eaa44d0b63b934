# The two commands: `make run` starts Baton standalone with the examples loaded;
# `make test` builds everything and runs every test. Both work on a fresh machine with cargo.

CARGO ?= cargo
LISTEN ?= 127.0.0.1:12345
DATA_DIR ?= ./baton-data

.PHONY: run test build lint bench fmt etcd

run:
	$(CARGO) build --release --bin baton
	./target/release/baton standalone --listen $(LISTEN) --data-dir $(DATA_DIR) --apply examples

build:
	$(CARGO) build --workspace --all-targets

test: etcd build lint
	$(CARGO) test --workspace --all-targets --no-fail-fast

# The etcd server that the registry's etcd tests start (Debian's etcd-server), if missing.
etcd:
	@command -v etcd >/dev/null 2>&1 || { \
		if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server; \
	}

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# The benchmark figures quoted in the README.
bench:
	$(CARGO) build --release --bin baton
	./target/release/baton bench fanout --tasks 10000 --executor shell
	./target/release/baton bench fanout --tasks 10000 --executor noop
	./target/release/baton bench chain --tasks 1000 --executor shell
	./target/release/baton bench chain --tasks 1000 --executor noop
