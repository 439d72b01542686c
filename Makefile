# mmsgate: `make run` starts the gateway with its embedded demo, `make test` runs every test.
GO ?= go
STATICCHECK_VERSION ?= v0.8.2
FUZZTIME ?= 20s

.PHONY: run test lint bench fuzz build deps web

run: deps
	$(GO) run ./cmd/gateway

build:
	$(GO) build -o bin/ ./cmd/...

deps:
	@./scripts/deps.sh

test:
	@./scripts/deps.sh --test
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	$(GO) test -race -timeout 25m ./...

lint:
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

bench:
	@./scripts/deps.sh --test
	$(GO) test -run '^$$' -bench . -benchmem ./...
	@for s in bench/*/run.sh; do [ -x "$$s" ] && "$$s" || true; done

# Refreshes the vendored hls.js (newest 1.x unless HLSJS_VERSION is set); needs npm.
HLSJS_VERSION ?=
web:
	./web/update-hlsjs.sh $(HLSJS_VERSION)

# Runs every fuzz target for FUZZTIME each (Go runs one -fuzz target at a time).
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done
