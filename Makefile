# tolem — cash-in kiosk firmware. `make` lists the targets.

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
BIN       := bin
DIST      := dist
CMDS      := kioskd kioskctl banksim acceptorsim
STATICCHECK_VERSION ?= v0.8.2
GOBIN     ?= $(shell $(GO) env GOPATH)/bin
# Pure Go everywhere: the SQLite driver needs no cgo, so every target cross-builds.
export CGO_ENABLED ?= 0

.DEFAULT_GOAL := help

.PHONY: help build run test test-deps test-short bench check fmt vet staticcheck cross clean fuzz torture soak fleet-sim

help: ## list the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build every command into bin/
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ $(addprefix ./cmd/,$(CMDS))

run: build ## the whole kiosk simulated in this terminal (kioskd --sim; ARGS='--data-dir DIR' passes options)
	$(BIN)/kioskd --sim $(ARGS)

test: test-deps ## every test, with the race detector
	CGO_ENABLED=1 $(GO) test -race -timeout 12m ./...

# The fleet test (cmd/kioskctl) runs configs/ansible/update.yml over SSH to
# this machine: it needs sshd and ansible-playbook, installed here with
# apt-get when missing. Without root or passwordless sudo it only says so,
# and that test skips itself.
FLEET_PKGS := openssh-server ansible-core
# The power-cut tests (internal/testfs/lazyfs) mount a FUSE file system: they
# need /dev/fuse and, unless root, fusermount3 from fuse3. Without them they
# say so and skip.
FUSE_PKGS := fuse3
test-deps: ## install what the fleet and power-cut tests need (sshd, ansible-playbook, fuse3) when missing
	@if [ -x /usr/sbin/sshd ] && command -v ansible-playbook >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	else echo "test-deps: no root and no passwordless sudo to install $(FLEET_PKGS): the fleet test will be skipped"; exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then echo "test-deps: no apt-get to install $(FLEET_PKGS): the fleet test will be skipped"; exit 0; fi; \
	echo "test-deps: installing $(FLEET_PKGS)"; \
	install="$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(FLEET_PKGS)"; \
	$$install >/dev/null 2>&1 || { $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && $$install >/dev/null; } || \
	  echo "test-deps: apt-get could not install $(FLEET_PKGS): the fleet test will be skipped"
	@if command -v fusermount3 >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	else echo "test-deps: no root and no passwordless sudo to install $(FUSE_PKGS): the power-cut tests will be skipped"; exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then echo "test-deps: no apt-get to install $(FUSE_PKGS): the power-cut tests will be skipped"; exit 0; fi; \
	echo "test-deps: installing $(FUSE_PKGS)"; \
	install="$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(FUSE_PKGS)"; \
	$$install >/dev/null 2>&1 || { $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && $$install >/dev/null; } || \
	  echo "test-deps: apt-get could not install $(FUSE_PKGS): the power-cut tests will be skipped"

# The monitoring test (metrics/) checks configs/monitoring with promtool,
# from Debian's prometheus package, installed here when missing (the same
# way, and skipped the same way, as the fleet test's tools). Only promtool is
# wanted: the Prometheus service the package sets up is stopped again.
test-deps: test-deps-promtool
.PHONY: test-deps-promtool
test-deps-promtool:
	@if command -v promtool >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	else echo "test-deps: no root and no passwordless sudo to install promtool: the alert rules will not be checked"; exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then echo "test-deps: no apt-get to install promtool: the alert rules will not be checked"; exit 0; fi; \
	echo "test-deps: installing promtool (Debian package prometheus)"; \
	install="$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus"; \
	$$install >/dev/null 2>&1 || { $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && $$install >/dev/null; } || \
	  { echo "test-deps: apt-get could not install prometheus: the alert rules will not be checked"; exit 0; }; \
	$$sudo systemctl disable --now prometheus >/dev/null 2>&1 || true

# The power-cut torture test (docs/reliability.md): kioskd killed CUTS times
# while customers pay in; SEED=n replays a run's choices. Its data dir is on
# the power-cut file system (TORTURE_FS=lazyfs, FUSE needed: make test-deps),
# so each SIGKILL also loses what kioskd had not fsynced; TORTURE_FS=disk
# runs it on the disk. PROTOCOL=id003 runs it over the ID-003 acceptor
# instead of CCNET. make test runs it with 30 cuts over each protocol, on
# lazyfs where FUSE works.
CUTS ?= 1000
SEED ?=
COLLECT_EVERY ?=
TORTURE_FS ?= lazyfs
PROTOCOL ?= ccnet
torture: ## kill kioskd CUTS times (default 1000) mid-payment, power cuts on lazyfs, and check every bill is credited once; SEED=n replays, PROTOCOL=id003
	TORTURE_CUTS=$(CUTS) TORTURE_SEED=$(SEED) TORTURE_FS=$(TORTURE_FS) TORTURE_COLLECT_EVERY=$(COLLECT_EVERY) TORTURE_PROTOCOL=$(PROTOCOL) CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 0 \
	  -run '^TestTorturePowerCuts$$' -v ./cmd/kioskd/

# Cost as the work grows (BENCHMARKS.md): the soak samples kioskd --sim's
# memory, goroutines and files over TOPUPS top-ups with a flapping bank; the
# fleet simulation runs KIOSKS outboxes through a bank outage on a virtual
# clock and writes its curve to OUT.
TOPUPS ?= 3000
soak: ## kioskd --sim through TOPUPS (3000) top-ups with a flapping bank: RSS, goroutines, files stay flat
	SOAK_TOPUPS=$(TOPUPS) $(GO) test -count=1 -timeout 0 -run '^TestSoak$$' -v ./cmd/kioskd/

KIOSKS ?= 10000
OUT ?= .
fleet-sim: ## KIOSKS (10000) outboxes through a 60 min bank outage on a virtual clock; CSV and SVG into OUT
	FLEET_SIM=1 FLEET_KIOSKS=$(KIOSKS) FLEET_OUT=$(OUT) $(GO) test -count=1 -timeout 0 -run '^TestFleetOutage$$' -v ./sync/outbox/

test-short: ## the fast tests only
	$(GO) test -short ./...

bench: ## the benchmarks behind BENCHMARKS.md
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz: ## a short run of every fuzz target (FUZZTIME=30s each)
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-30s} $$pkg || exit 1; \
	  done; done

check: fmt vet staticcheck ## gofmt, go vet, staticcheck and the ARM cross-builds
	GOOS=linux GOARCH=arm GOARM=6 $(GO) build -o /dev/null ./...
	GOOS=linux GOARCH=arm GOARM=7 $(GO) build -o /dev/null ./...
	GOOS=linux GOARCH=arm64 $(GO) build -o /dev/null ./...

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

$(GOBIN)/staticcheck:
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

staticcheck: $(GOBIN)/staticcheck
	$(GOBIN)/staticcheck ./...

cross: ## kioskd and kioskctl for linux arm v6, arm v7, arm64 and amd64 into dist/
	@mkdir -p $(DIST)
	GOOS=linux GOARCH=arm GOARM=6 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(DIST)/linux-armv6/ ./cmd/kioskd ./cmd/kioskctl
	GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(DIST)/linux-armv7/ ./cmd/kioskd ./cmd/kioskctl
	GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(DIST)/linux-arm64/ ./cmd/kioskd ./cmd/kioskctl
	GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(DIST)/linux-amd64/ ./cmd/kioskd ./cmd/kioskctl

clean: ## remove build output
	rm -rf $(BIN) $(DIST)

include release.mk
