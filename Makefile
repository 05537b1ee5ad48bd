# hostprocess-admission build and test entry points.
# `make test` is the one command CI runs (.ci/run); it installs what it needs.

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
PKG     := github.com/hostprocess-admission/hostprocess-admission
LDFLAGS := -s -w -X $(PKG)/internal/version.Version=$(VERSION) -X $(PKG)/internal/version.Commit=$(COMMIT)
BIN     := $(CURDIR)/bin
GO      ?= go
export PATH := $(BIN):$(PATH)

.PHONY: all build build-all tools wine chromium generate generate-native test test-unit test-windows test-fuzz test-e2e vet fmt-check fuzz bench soak demo demo-down image image-windows clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/hostprocess-admission .

# Every platform the Dockerfile names.
build-all:
	CGO_ENABLED=0 GOOS=linux   GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/linux-amd64/hostprocess-admission .
	CGO_ENABLED=0 GOOS=linux   GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/linux-arm64/hostprocess-admission .
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/windows-amd64/hostprocess-admission.exe .

# The real control plane (kube-apiserver, etcd, kubectl, helm), built from Go modules, cached.
tools:
	hack/build-control-plane.sh

# wine and mingw from Debian's packages, plus the ProcessPrng stand-in DLL.
wine:
	hack/install-wine.sh

# chromium from Debian's packages, for the audit HTML report test.
chromium:
	hack/install-chromium.sh

# Files derived from Go types (the OpenReports CRDs), with a pinned controller-gen.
generate:
	hack/generate.sh
	hack/generate-native.sh

generate-native:
	hack/generate-native.sh

# hack/bench is a module of its own (its load generator stays out of the product's go.mod).
# Its programs are Linux only; elsewhere they build as a stub that says so.
# hack/operatortest is a module of its own (the SARIF schema validator and Prometheus' PromQL
# parser stay out of the product's go.mod); test-unit and vet run it too.
vet:
	$(GO) vet ./...
	GOOS=windows $(GO) vet ./...
	$(GO) -C hack/bench vet ./...
	GOOS=windows $(GO) -C hack/bench vet ./...
	cd hack/operatortest && $(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi

test: fmt-check vet build build-all tools wine chromium test-unit test-windows test-fuzz test-e2e

# The differential test of the native policies runs on its own with -v, so that
# its case count and disagreements are printed (go test hides the logs of
# passing tests); its whole log is shown when it fails.
DIFFERENTIAL := ^TestDifferentialAgainstTheAPIServer$$
test-unit:
	$(GO) test -count=1 -skip '$(DIFFERENTIAL)' ./...
	$(GO) -C hack/bench test -count=1 ./...
	cd hack/operatortest && $(GO) test -count=1 ./...
	@mkdir -p $(BIN); $(GO) test -count=1 -timeout 30m -v -run '$(DIFFERENTIAL)' ./nativepolicy > $(BIN)/differential.log 2>&1; rc=$$?; \
	  if [ $$rc -ne 0 ]; then tail -300 $(BIN)/differential.log; \
	  else grep -E 'differential test:|phase .*cases|^(--- |ok )' $(BIN)/differential.log; fi; exit $$rc

test-windows:
	hack/test-windows.sh

# The e2e suite: the chart installed with the real helm into a real control plane, driven
# with kubectl, all inside a network namespace of its own.
test-e2e:
	hack/e2e.sh

# Brief fuzz runs; `make fuzz` runs each target for 10 minutes.
FUZZTIME ?= 10s
test-fuzz:
	hack/fuzz.sh $(FUZZTIME)

fuzz:
	hack/fuzz.sh 10m

bench:
	hack/build-control-plane.sh psa-webhook
	$(GO) -C hack/bench run .

# serve for 10 minutes under a constant mix of valid and hostile traffic, checking every answer and
# that RSS, goroutines and open fds do not grow (bench/results/soak.json).
soak: tools
	$(GO) -C hack/bench run ./soak

# The README's first command: a running control plane with the chart and the examples.
demo:
	hack/demo.sh

demo-down:
	hack/demo-down.sh

# Container images with docker buildx (needs a Docker engine; not part of make test).
image:
	hack/image.sh linux

image-windows:
	hack/image.sh windows

clean:
	rm -rf $(BIN)
