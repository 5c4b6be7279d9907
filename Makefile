# cgroupmem — the two commands are `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
TOOLS := $(GO) tool -modfile=$(CURDIR)/tools/go.mod
BUILD_DIR := _build
COLLECTOR := $(BUILD_DIR)/otelcol-cgroupmem
RUN_CONFIG ?= testdata/config/run.yaml
# Iterations rather than seconds: a time-bounded run can end in a spurious "context deadline
# exceeded" when the deadline meets the minimisation of a new input.
FUZZTIME ?= 100000x

.PHONY: all run build test lint unit-test race-test soak soak-short soak-if-root fuzz generate bench tools e2e e2e-if-installed demo

all: test

tools:
	$(TOOLS) mdatagen --version >/dev/null
	$(TOOLS) builder version >/dev/null
	$(TOOLS) staticcheck -version >/dev/null

## generate: regenerate mdatagen code and documentation (commit the result).
generate:
	cd receiver/cgroupmemreceiver && $(TOOLS) mdatagen metadata.yaml
	cd processor/memdivergenceprocessor && $(TOOLS) mdatagen metadata.yaml
	# eBPF objects (needs clang, llvm and libbpf-dev from Debian; the output is committed).
	$(GO) generate ./internal/dentrybpf/

## build: build the collector with ocb from builder-config.yaml.
build: $(COLLECTOR)

$(COLLECTOR): builder-config.yaml go.mod $(shell git ls-files '*.go' 2>/dev/null)
	$(TOOLS) builder --config=builder-config.yaml --skip-strict-versioning

## run: build the collector and run it on this host with the default config.
run: build
	$(COLLECTOR) --config=$(RUN_CONFIG)

## test: every test (unit, golden, live cgroup integration where permitted, brief fuzzing);
## builds the collector first so the deploy config can be validated with it.
test: build lint unit-test race-test fuzz soak-if-root e2e-if-installed

## lint: staticcheck (a tool of the tools module, pinned there) over every package, tests
## included; any finding fails.
lint:
	$(TOOLS) staticcheck ./...

unit-test:
	$(GO) vet ./...
	# bench/cadvisorpeer is a Go module of its own (cAdvisor stays out of the product's go.mod).
	cd bench/cadvisorpeer && $(GO) vet ./...
	$(GO) test -count=1 ./...

## e2e: as root, the collector against a real container (containerd + runc) and real backends:
## OTLP/gRPC into a stock collector build (e2e/backend-builder.yaml, built here with ocb) that
## writes OTLP JSON and forwards to a real Prometheus (Debian's) by remote write; then every
## query of deploy/dashboards and deploy/alerts against that Prometheus (e2e/).
E2E_BACKEND := $(BUILD_DIR)/e2e-backend/otelcol-e2e-backend

$(E2E_BACKEND): e2e/backend-builder.yaml
	mkdir -p $(BUILD_DIR)
	$(TOOLS) builder --config=e2e/backend-builder.yaml --skip-strict-versioning

e2e: build $(E2E_BACKEND)
	CGROUPMEM_E2E_COLLECTOR=$(CURDIR)/$(COLLECTOR) CGROUPMEM_E2E_BACKEND=$(CURDIR)/$(E2E_BACKEND) \
	  $(GO) test -count=1 -timeout 6m -v -run '^TestE2E$$' ./e2e/

# make test runs make e2e where its pieces are there (root, containerd, runc, prometheus,
# busybox-static: .ci/run installs them), and says why not elsewhere.
e2e-if-installed:
	@if [ "$$(id -u)" = 0 ] && command -v containerd >/dev/null && command -v runc >/dev/null && \
	    command -v prometheus >/dev/null && [ -x /bin/busybox ]; then \
	  $(MAKE) e2e; \
	else \
	  echo "make e2e skipped: it needs root, containerd, runc, prometheus and busybox-static (.ci/run installs them)"; \
	fi

## demo: as root, the incidents reproduced live in real cgroups of this host (temp-file churn,
## a file read back, a log growing toward its limit, an unread socket of tiny datagrams), the
## collector run over them, and per workload what it did beside what the product concluded.
demo: build
	CGROUPMEM_DEMO_COLLECTOR=$(CURDIR)/$(COLLECTOR) $(GO) test -count=1 -timeout 5m -v -run '^TestDemo$$' ./demo/

## race-test: the packages that run goroutines or share state between them, under the race
## detector (needs cgo: gcc). Of the receiver and the kubelet client only the tests of their
## concurrent parts run (scrape loop and shutdown; lookups during a fetch, shutdown): their
## other tests are single-threaded or timed, and the detector's slowdown makes timed tests
## flaky on a loaded machine. The tests that bound allocations on 100 MB bodies are skipped.
RACE_PKGS := ./processor/memdivergenceprocessor/ ./internal/sockets/ ./internal/cgroupfs/ ./internal/oomwatch/
race-test:
	CGO_ENABLED=1 $(GO) test -race -count=1 -skip 'BoundedMemory' $(RACE_PKGS)
	CGO_ENABLED=1 $(GO) test -race -count=1 -run 'Receiver|Shutdown|Batches' ./receiver/cgroupmemreceiver/
	CGO_ENABLED=1 $(GO) test -race -count=1 -run 'LookupsDoNotWait|Shutdown|LifecycleWithoutStart|Sightings' ./internal/k8smeta/

## soak: as root, the collector under churn (bench/collectorrss in churn mode): SOAK_STABLE
## stable containers and SOAK_RATE pods of one container created and removed a second (each
## living 2 s) for SOAK_FOR, with every metric the receiver enables by default (sockets on) and
## the deployed processors (memdivergence included). It samples RSS, Go heap, threads, fds and
## error lines every 5 s into $(BUILD_DIR)/soak.json and fails when the churn's RSS is 20 %
## over the steady state or any of them still grows. Not in CI at full length; soak-short
## (60 s at 20 a second) runs in make test where it can (root).
SOAK_STABLE ?= 100
SOAK_RATE ?= 50
SOAK_FOR ?= 10m
SOAK_OUT ?= $(BUILD_DIR)/soak.json
# The least share of SOAK_RATE the harness's own process starts must reach for a run to count.
SOAK_MIN_RATE ?= 0.9
soak: build
	$(GO) build -o $(BUILD_DIR)/collectorrss ./bench/collectorrss
	$(BUILD_DIR)/collectorrss -collector $(COLLECTOR) -containers $(SOAK_STABLE) -sockets \
	  -churn-rate $(SOAK_RATE) -churn-for $(SOAK_FOR) -min-rate $(SOAK_MIN_RATE) -warmup 65 -steady-for 30s -sample-every 5s -out $(SOAK_OUT)

# 20 a second, and half of it is enough: on a loaded machine (this one at a load of 15 on 2
# cores) the harness's own process starts reached 15 a second.
soak-short:
	$(MAKE) soak SOAK_FOR=60s SOAK_RATE=20 SOAK_MIN_RATE=0.5 SOAK_OUT=$(BUILD_DIR)/soak-short.json

soak-if-root:
	@if [ "$$(id -u)" = 0 ]; then $(MAKE) soak-short; else echo "make soak-short skipped: it needs root to create cgroups"; fi

## fuzz: run every fuzz target briefly (FUZZTIME each: 100000x, or a duration like 30s).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/func //'); do \
	    echo "fuzz $$pkg $$f"; \
	    $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg; \
	  done; \
	done

## bench: as root, the receiver's live-cgroup benchmarks beside the kernel's floors (6 runs,
## benchstat), the whole collector's RSS and CPU at 1,000 containers, cAdvisor side by side
## with it at 200 and 1,000 containers (and a perf profile of the collector), and README.md's
## performance section regenerated from them (bench/run.sh). Other packages' benchmarks:
## go test -run='^$' -bench=. ./internal/...
bench: build
	GO=$(GO) BUILD_DIR=$(BUILD_DIR) COLLECTOR=$(COLLECTOR) bench/run.sh
