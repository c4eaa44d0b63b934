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

# The PostgreSQL server of the cluster benchmarks: each run creates a database of its own on
# it (with psql) and drops it at the end.
BENCH_DATABASE ?= postgres://postgres@127.0.0.1:5432/postgres

# The benchmark figures quoted in the README, measured by the benchmark harness (its own
# binary, not part of `baton`) on the release `baton` next to it: on one standalone process,
# then on a cluster of 2 masters and 2 workers (real processes) on PostgreSQL, then failover
# times, then the trigger under a burst of 10,000 schedules due at the same second.
BENCH = ./target/release/baton-bench --baton ./target/release/baton

bench:
	$(CARGO) build --release -p baton -p baton-bench
	$(BENCH) fanout --tasks 10000 --executor shell
	$(BENCH) fanout --tasks 10000 --executor noop
	$(BENCH) chain --tasks 1000 --executor shell
	$(BENCH) chain --tasks 1000 --executor noop
	$(BENCH) fanout --cluster --tasks 10000 --executor shell --database $(BENCH_DATABASE)
	$(BENCH) fanout --cluster --tasks 10000 --executor noop --database $(BENCH_DATABASE)
	$(BENCH) chain --cluster --tasks 1000 --executor shell --database $(BENCH_DATABASE)
	$(BENCH) chain --cluster --tasks 1000 --executor noop --database $(BENCH_DATABASE)
	$(BENCH) failover --kills 5 --database $(BENCH_DATABASE)
	$(BENCH) schedules --schedules 10000
	$(BENCH) schedules --schedules 10000 --cluster --database $(BENCH_DATABASE)
