# Releases, signing keys and the ARM test run; included by the Makefile.
#
#   make dev-keys                                   a development key pair, outside the repo
#   make release VERSION=1.4.2 KEY=path/to/minisign.key
#   make test-arm                                   the tests under qemu (arm64, arm v7)
#
# make release writes into dist/, per architecture (armv6 armv7 arm64 amd64):
#   tolem-<version>-linux-<arch>.tar.gz           manifest.json, bin/kioskd, bin/kioskctl
#   tolem-<version>-linux-<arch>.tar.gz.minisig   its minisign signature
#   tolem_<version>_<arch>.deb                    the package that provisions a kiosk
# and SHA256SUMS over all of them.

GO       ?= go
GOBIN    ?= $(shell $(GO) env GOPATH)/bin
DIST     ?= dist
# nfpm v2.46 and later need modules the Go module proxy does not serve
# (go.digitalxero.dev); v2.45.2 is the newest that installs through it.
NFPM_VERSION ?= v2.45.2
NFPM     ?= $(GOBIN)/nfpm
DEV_KEY  ?= $(HOME)/.config/tolem/dev-minisign
RELEASE_ARCHS := armv6 armv7 arm64 amd64
# The version without a leading v: it names the release directory on the
# kiosk and must equal what kioskd reports, or every update rolls back.
REL_VERSION = $(patsubst v%,%,$(VERSION))
REL_LDFLAGS = -s -w -X main.version=$(REL_VERSION)
# Same bytes from the same commit: tar entries stamped with the commit time.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

goenv_armv6 := GOARCH=arm GOARM=6
goenv_armv7 := GOARCH=arm GOARM=7
goenv_arm64 := GOARCH=arm64
goenv_amd64 := GOARCH=amd64
# Debian's names; Raspberry Pi OS's armhf runs ARMv6 binaries too.
debarch_armv6 := armhf
debarch_armv7 := armhf
debarch_arm64 := arm64
debarch_amd64 := amd64

.PHONY: release release-check dev-keys test-arm

release: release-check $(NFPM) ## signed tarballs and .debs for every architecture: VERSION=x.y.z KEY=minisign.key
	@mkdir -p $(DIST)
	@set -e; for arch in $(RELEASE_ARCHS); do \
	  case $$arch in \
	    armv6) env="$(goenv_armv6)"; deb=$(debarch_armv6);; \
	    armv7) env="$(goenv_armv7)"; deb=$(debarch_armv7);; \
	    arm64) env="$(goenv_arm64)"; deb=$(debarch_arm64);; \
	    amd64) env="$(goenv_amd64)"; deb=$(debarch_amd64);; \
	  esac; \
	  echo "== $$arch"; \
	  env CGO_ENABLED=0 GOOS=linux $$env $(GO) build -trimpath -ldflags '$(REL_LDFLAGS)' \
	    -o $(DIST)/build/$$arch/ ./cmd/kioskd ./cmd/kioskctl; \
	  SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(GO) run ./cmd/release pack -version $(REL_VERSION) -arch $$arch \
	    -bin $(DIST)/build/$$arch -key '$(KEY)' -out $(DIST) -stage $(DIST)/stage/$$arch; \
	  sed 's|$${STAGE}|$(DIST)/stage/'$$arch'|g' configs/nfpm/nfpm.yaml > $(DIST)/nfpm-$$arch.yaml; \
	  VERSION=$(REL_VERSION) DEB_ARCH=$$deb SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) \
	    $(NFPM) package --packager deb --config $(DIST)/nfpm-$$arch.yaml \
	    --target $(DIST)/tolem_$(REL_VERSION)_$$arch.deb; \
	done
	cd $(DIST) && sha256sum tolem-$(REL_VERSION)-linux-*.tar.gz* tolem_$(REL_VERSION)_*.deb > SHA256SUMS-$(REL_VERSION)
	@echo "release $(REL_VERSION) in $(DIST)/; roll it out with:"
	@echo "  ansible-playbook -i inventory.ini configs/ansible/update.yml -e tolem_version=$(REL_VERSION)"

release-check:
	@case "$(origin VERSION)" in command*|environment*) ;; \
	  *) echo "make release needs VERSION=x.y.z (semantic version) on the command line"; exit 2;; esac
	@if [ -z "$(KEY)" ]; then echo "make release needs KEY=path/to/minisign.key (make dev-keys writes $(DEV_KEY).key)"; exit 2; fi
	@if [ ! -r "$(KEY)" ]; then echo "KEY $(KEY) is not a readable file"; exit 2; fi

$(NFPM):
	@echo "installing nfpm $(NFPM_VERSION)"
	@$(GO) install github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION) || { \
	  echo "could not install nfpm $(NFPM_VERSION) through the Go module proxy;"; \
	  echo "the .debs need it: install nfpm by other means and run make release NFPM=/path/to/nfpm"; \
	  exit 1; }

dev-keys: ## a development minisign key pair in ~/.config/tolem/dev-minisign.{key,pub} (DEV_KEY=prefix); never overwrites
	$(GO) run ./cmd/release genkey -out '$(DEV_KEY)'

QEMU_ARM     ?= qemu-arm-static
QEMU_AARCH64 ?= qemu-aarch64-static
ARM_PKGS     ?= ./...

test-arm: ## the tests under qemu-user for arm64 and arm v7 (ARM_PKGS=./kiosk/... to narrow); not part of make test
	@if ! command -v $(QEMU_ARM) >/dev/null || ! command -v $(QEMU_AARCH64) >/dev/null; then \
	  echo "installing qemu-user-static"; \
	  if [ "$$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi; \
	  $$sudo apt-get update && $$sudo apt-get install -y qemu-user-static; \
	fi
	@# Both architectures run even when the first fails: the two results
	@# together say whether a failure is about 32 bits.
	@rc=0; \
	echo "== linux/arm64 under $(QEMU_AARCH64)"; \
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) test -exec $(QEMU_AARCH64) -timeout 30m $(ARM_PKGS) || rc=1; \
	echo "== linux/arm v7 under $(QEMU_ARM)"; \
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) test -exec $(QEMU_ARM) -timeout 30m $(ARM_PKGS) || rc=1; \
	exit $$rc
