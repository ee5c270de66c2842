GO ?= go
BIN := bin/zkfs
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
DATA ?= data
MNT ?= mnt

.PHONY: build run test lint bench bench-writes chaos kazoo-suite clean install uninstall

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/zkfs

# install puts the binary on the PATH, with its bash completion, the
# systemd unit (deploy/zkfs.service) and the README; DESTDIR stages it.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
UNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR ?= $(PREFIX)/share/doc/zkfs
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/zkfs
	install -d $(DESTDIR)$(COMPLETIONDIR)
	./$(BIN) completion bash > $(DESTDIR)$(COMPLETIONDIR)/zkfs
	sed 's|/usr/local/bin/zkfs|$(BINDIR)/zkfs|' deploy/zkfs.service > zkfs.service.tmp
	install -D -m 0644 zkfs.service.tmp $(DESTDIR)$(UNITDIR)/zkfs.service
	rm -f zkfs.service.tmp
	install -D -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/zkfs $(DESTDIR)$(COMPLETIONDIR)/zkfs $(DESTDIR)$(UNITDIR)/zkfs.service
	rm -rf $(DESTDIR)$(DOCDIR)

# run starts one standalone replica with its data in ./data, mounted at ./mnt.
run: build
	mkdir -p $(MNT)
	./$(BIN) server --data-dir $(DATA) --mount $(MNT)

# The chaos run goes alone: it starts replicas on ports picked a moment
# earlier, which a test package running beside it could take. kazoo's own
# suite comes last (see kazoo-suite), once and without reruns, less the two
# tests whose sub-second windows a loaded machine misses (run.sh --untimed
# lists them; make kazoo-suite runs them). -count=1: the tests start
# processes and mounts whose behaviour go's test cache cannot see, so a
# second make test runs them again instead of replaying the first.
test: lint
	$(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -v /test/chaos)
	$(GO) test -race -count=1 -timeout 10m ./test/chaos/...
	$(MAKE) kazoo-suite READ_ONLY_RUNS=0 KAZOO_FLAGS=--untimed

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff
	@if $(GO) list -deps ./zkclient ./wire | grep -E 'hashicorp/raft|cockroachdb/pebble'; then echo "zkclient and wire must link neither raft nor Pebble"; exit 1; fi

# chaos runs the fault-injection harness (test/chaos) for DURATION, with
# SEED (random when empty) and REPLICAS (3 or 5); the history, summary and
# server logs of every run stay in chaos-runs/.
DURATION ?= 30m
chaos:
	CHAOS_DURATION=$(DURATION) CHAOS_SEED=$(SEED) CHAOS_REPLICAS=$(REPLICAS) CHAOS_DIR=$(CURDIR)/chaos-runs \
		$(GO) test -v -count=1 -timeout 0 -run '^TestChaos$$' ./test/chaos/

# bench starts a ZooKeeper 3.8 ensemble and a zkfs ensemble side by side,
# prints the table and writes bench/results/<date>.md. BENCHFLAGS passes
# options to the harness (go run ./bench --help lists them).
bench: build
	$(GO) run ./bench --zkfs $(BIN) $(BENCHFLAGS)

# bench-writes is the short mode: only the write goals (create, set and
# delete at every size and session count), into
# bench/results/<date>-writes.md; BENCHFLAGS='--rounds 3' repeats each point.
bench-writes: build
	$(GO) run ./bench --zkfs $(BIN) --short $(BENCHFLAGS)

# kazoo-suite runs kazoo's own test suite (Debian's python3-kazoo, unmodified)
# against three zkfs replicas that kazoo's harness starts through
# test/kazoo-suite/shim/java, then its read-only test alone READ_ONLY_RUNS
# times. KAZOO_RERUNS runs a failed test again that many times. Logs stay
# in the directory it prints.
READ_ONLY_RUNS ?= 10
KAZOO_RERUNS ?= 0
kazoo-suite: build
	ZKFS=$(CURDIR)/$(BIN) test/kazoo-suite/run.sh --read-only-runs $(READ_ONLY_RUNS) --reruns $(KAZOO_RERUNS) $(KAZOO_FLAGS)

clean:
	rm -rf bin
