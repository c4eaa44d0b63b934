# The two commands: `make run` starts Baton standalone with the examples loaded;
# `make test` builds everything and runs every test. Both work on a fresh machine with cargo
# (the web UI is built when npm is there; `make test` needs npm for the UI's tests).

CARGO ?= cargo
LISTEN ?= 127.0.0.1:12345
DATA_DIR ?= ./baton-data

.PHONY: run test build lint deny tools bench fmt etcd promtool moto smtpd ui ui-deps ui-test chromium

run:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) ui; else \
		echo "npm is not on PATH: building Baton without its web UI (/ will say how to build it)"; fi
	$(CARGO) build --release --bin baton
	./target/release/baton standalone --listen $(LISTEN) --data-dir $(DATA_DIR) --apply examples

build:
	$(CARGO) build --workspace --all-targets

test: etcd promtool moto smtpd build lint deny ui-test
	$(CARGO) test --workspace --all-targets --no-fail-fast

# The web UI (ui/): its Node packages as pinned by package-lock.json (installed again only
# when the lock file is newer than node_modules), then the Vite build into ui/dist, which
# the next cargo build embeds (crates/web).
UI_STAMP := ui/node_modules/.package-lock.json

ui-deps: $(UI_STAMP)

$(UI_STAMP): ui/package-lock.json ui/package.json
	cd ui && npm ci
	@touch $@

ui: ui-deps
	cd ui && npm run build

# The UI's checks: strict type check, unit tests (vitest), then the browser tests
# (Playwright's library driving Debian's chromium, headless) against a real
# `baton standalone` (target/debug/baton, built by `build`).
ui-test: ui chromium build
	cd ui && npm run typecheck
	cd ui && npm test
	cd ui && npm run e2e

# Debian's chromium, for the UI's browser tests, if missing (nothing downloads a browser).
chromium:
	@test -x /usr/bin/chromium || { \
		if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	}

# The etcd server that the registry's etcd tests start (Debian's etcd-server), if missing.
etcd:
	@command -v etcd >/dev/null 2>&1 || { \
		if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server; \
	}

# promtool (Debian's prometheus), which the metrics test checks /metrics with, if missing.
promtool:
	@command -v promtool >/dev/null 2>&1 || { \
		if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus; \
	}

# $(call python_venv,DIR,REQUIREMENT): a Python virtual environment in DIR with REQUIREMENT
# installed from PyPI (Debian's python3-venv first, if Python cannot make one).
python_venv = if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then \
		if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y python3 python3-venv; \
	fi; \
	rm -rf $(1) && python3 -m venv $(1) && $(1)/bin/pip install --quiet '$(2)'

# moto's S3 server (moto[server] from PyPI), which the log archive's tests store logs in, if
# missing: into the project's own .tools/moto.
MOTO_VERSION := >=5.1,<6
MOTO_DIR := $(CURDIR)/.tools/moto
moto:
	@command -v moto_server >/dev/null 2>&1 || test -x $(MOTO_DIR)/bin/moto_server || { \
		$(call python_venv,$(MOTO_DIR),moto[server]$(MOTO_VERSION)); \
	}

# aiosmtpd (from PyPI), the SMTP server that the email alert tests run as a process of their
# own (tests/common/smtp_server.py), if no python3 has it: into the project's own .tools/smtpd.
AIOSMTPD_VERSION := >=1.4,<2
SMTPD_DIR := $(CURDIR)/.tools/smtpd
smtpd:
	@python3 -c 'import aiosmtpd' >/dev/null 2>&1 || $(SMTPD_DIR)/bin/python -c 'import aiosmtpd' >/dev/null 2>&1 || { \
		$(call python_venv,$(SMTPD_DIR),aiosmtpd$(AIOSMTPD_VERSION)); \
	}

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# Tools the checks use, installed from crates.io into the project's own .tools/ (gitignored)
# when missing, so that nothing needs installing on the machine by hand.
TOOLS_DIR := $(CURDIR)/.tools
CARGO_DENY_VERSION := 0.20.2
CARGO_DENY := $(TOOLS_DIR)/bin/cargo-deny

tools: $(CARGO_DENY)

$(CARGO_DENY):
	$(CARGO) install --locked cargo-deny --version $(CARGO_DENY_VERSION) --root $(TOOLS_DIR)

# The dependency policy of deny.toml: licenses, bans and sources always. Advisories need the
# RustSec database, which is fetched from GitHub: where that cannot be reached (and no copy of
# it was fetched before), they are NOT checked, and this says so.
ADVISORY_DBS = $${CARGO_HOME:-$$HOME/.cargo}/advisory-dbs
deny: $(CARGO_DENY)
	$(CARGO_DENY) check --hide-inclusion-graph licenses bans sources
	@if timeout 120 $(CARGO_DENY) fetch db >/dev/null 2>&1; then \
		$(CARGO_DENY) check --hide-inclusion-graph advisories; \
	elif ls -d $(ADVISORY_DBS)/advisory-db-*/.git >/dev/null 2>&1; then \
		echo "cargo deny: the advisory database cannot be fetched; checking against the copy fetched before"; \
		$(CARGO_DENY) --offline check --hide-inclusion-graph advisories; \
	else \
		echo "cargo deny: advisories NOT checked: the RustSec advisory database cannot be fetched from this network"; \
	fi

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
