# ContentHub task service. `make run` and `make test` are all a newcomer needs.
GO      ?= go
BIN     ?= bin
# Build tags of every build and test. nomsgpack leaves gin's MessagePack
# binding (github.com/ugorji/go/codec, 3 MiB of code) out: the service never
# speaks MessagePack, and the binary's code pages are part of its RSS (issue
# 20: 5 MiB less at rest). Exported so the binaries tests build get it too.
TAGS    ?= nomsgpack
export GOFLAGS := -tags=$(TAGS) $(GOFLAGS)
# FUZZTIME, when set (e.g. FUZZTIME=30s), fuzzes every target that long;
# unset, each runs the count of inputs given below, about 3 s of this VM. A
# count, not a duration: Go 1.26's fuzzing coordinator can fail a target with
# a bare "context deadline exceeded" as a -fuzztime duration ends (a race
# fixed in Go 1.27, golang/go#75804; it failed a CI run of a clean clone).
FUZZTIME ?=
# axe-core for the dashboard's browser test (.ci/run installs it there).
CONTENTHUB_AXE_CORE ?= $(wildcard $(HOME)/.cache/contenthub/axe/node_modules/axe-core/axe.min.js)
export CONTENTHUB_AXE_CORE

# Fuzz targets run by `make test`: package:target:inputs.
FUZZ_TARGETS := \
	./adapters/signature:FuzzParseRawSignature:100000x \
	./adapters/signature:FuzzParseStandardSignatures:60000x \
	./adapters/signature:FuzzCanonicalize:60000x \
	./adapters/signature:FuzzVerify:40000x \
	./adapters/httpapi:FuzzDecodeCallback:5000x \
	./adapters/httpapi:FuzzDecodeCallbackMatchesEncodingJSON:300x \
	./adapters/httpapi:FuzzPeekCallback:3000x \
	./adapters/httpapi:FuzzValidJSONMatchesEncodingJSON:4000x \
	./domain:FuzzDescribeArticle:25000x \
	./adapters/httpapi:FuzzCallbackEndpoint:20x

.PHONY: all build run test unit fuzz bench bench-load generate lint migrate clean test-reliability

all: build

build:
	$(GO) build -o $(BIN)/contenthub ./cmd/contenthub
	$(GO) build -o $(BIN)/content-creator-sim ./cmd/content-creator-sim

## run: start the service on the embedded SQLite store with the bundled simulator.
run: build
	LOG_FORMAT=$${LOG_FORMAT:-console} ./$(BIN)/contenthub serve

## test: lint, every test (race detector on), then each fuzz target briefly (FUZZTIME=30s for longer).
test: lint unit fuzz

unit:
	$(GO) test -race -count=1 ./...

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; budget=$${rest#*:}; \
		budget=$${FUZZTIME:-$$budget}; \
		echo "fuzz $$pkg $$name ($$budget)"; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$$budget $$pkg; \
	done

## test-reliability: fault and abuse scenarios against `make build`'s binaries on a private PostgreSQL
## cluster (RELIABILITY_SHORT=1 for a smaller run; RELIABILITY_REPORT=file keeps the figures table).
test-reliability: build
	CONTENTHUB_BIN_DIR=$(abspath $(BIN)) $(GO) test -tags $(TAGS),reliability -count=1 -timeout 30m -v \
		-run '^TestReliability$$' ./cmd/contenthub/

## bench: the micro-benchmarks, with realistic bodies; one asserts a ratio (a crafted 5 MiB article ≤ 3× a plain one).
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

## bench-load: the real binary under load on PostgreSQL and SQLite, against the bare transaction (docs/benchmarks.md).
## BENCH_LOAD_FLAGS passes options, e.g. BENCH_LOAD_FLAGS='-stores postgres -rounds 5'; '-subscribe' adds one
## webhook endpoint (§13) so the callback path also writes and sends an outbox message; '-only-dispatch' runs only the
## dispatch section (backlog drains of 1 and 200 accounts, batch against single creates; issue 16). Not part of `make test`.
bench-load: build
	$(GO) build -o $(BIN)/contenthub-notrace -tags $(TAGS),notrace ./cmd/contenthub
	$(GO) build -o $(BIN)/contenthub-loadbench ./cmd/contenthub-loadbench
	./$(BIN)/contenthub-loadbench -contenthub $(BIN)/contenthub -contenthub-notrace $(BIN)/contenthub-notrace $(BENCH_LOAD_FLAGS)

## generate: regenerate the gomock mocks of ports/.
generate:
	$(GO) generate ./...

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

## migrate: DIR=up|down|status (default up) against DATABASE_URL.
migrate: build
	./$(BIN)/contenthub migrate $(or $(DIR),up)

clean:
	rm -rf $(BIN)
