# Build the host and the example plugins, run it, test it.
# `make run` sets everything up and watches watch_dir/; `make test` runs all tests.

GO        ?= go
BIN       := bin/host
CONFIG    ?= config.toml
PLUGINS   := $(patsubst plugins/%/main.go,plugins/%.wasm,$(wildcard plugins/*/main.go))
GOFILES   := $(shell find host cmd sdk internal -name '*.go' -not -name '*_test.go' 2>/dev/null)
SDKFILES  := $(wildcard sdk/*.go)
# Plugins in other languages (docs/PLUGINS.md): plugins/c/NAME/NAME.c builds
# to plugins/c-NAME.wasm, plugins/wat/NAME.wat to plugins/wat-NAME.wasm,
# plugins/rust/NAME/lib.rs to plugins/rust-NAME.wasm. Each set is built
# where its toolchain works and skipped, with a message, where not.
C_PLUGINS    := $(patsubst plugins/c/%/,plugins/c-%.wasm,$(wildcard plugins/c/*/))
WAT_PLUGINS  := $(patsubst plugins/wat/%.wat,plugins/wat-%.wasm,$(wildcard plugins/wat/*.wat))
RUST_PLUGINS := $(patsubst plugins/rust/%/lib.rs,plugins/rust-%.wasm,$(wildcard plugins/rust/*/lib.rs))
CLANG     ?= clang
# The same flags as internal/wasmtest.BuildC.
CFLAGS_WASM := --target=wasm32-wasi -O2 -Wall -Wextra -mexec-model=reactor -Wl,--strip-all
WAT2WASM  ?= wat2wasm
# The first rustc with the wasm32-wasi standard library: Debian's, from
# libstd-rust-dev-wasm32, when a rustup rustc without it comes first.
RUSTC     ?= $(shell for r in rustc /usr/bin/rustc; do d=$$($$r --print target-libdir --target wasm32-wasi 2>/dev/null) && ls $$d/libstd-*.rlib >/dev/null 2>&1 && { echo $$r; break; }; done)
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/filehost/host/host.Version=$(VERSION)

DOCKER      ?= docker
IMAGE       ?= filehost/host:$(VERSION)
DOCKER_DIR  ?= bin/docker

.PHONY: build plugins c-plugins wat-plugins rust-plugins test run input watch check clean bench vet fmt docker docker-inputs

build: $(BIN) plugins

$(BIN): $(GOFILES) go.mod go.sum
	$(GO) build -ldflags "$(LDFLAGS)" -o $@ ./cmd/host

plugins: $(PLUGINS) c-plugins wat-plugins rust-plugins

# Each plugins/NAME/ builds to plugins/NAME.wasm, a WASI reactor.
plugins/%.wasm: plugins/%/*.go $(SDKFILES)
	GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -o $@ ./plugins/$*

c-plugins:
	@if printf 'int main(void){return 0;}' | $(CLANG) $(CFLAGS_WASM) -x c -o /dev/null - 2>/dev/null; then \
		$(MAKE) --no-print-directory $(C_PLUGINS); \
	else echo "make: skipping the C plugins: $(CLANG) cannot build for wasm32-wasi here (apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32)"; fi

plugins/c-%.wasm: plugins/c/%/*.c $(wildcard plugins/c/*/*.h) plugins/c/*.h sdk/c/hostplugin.h
	$(CLANG) $(CFLAGS_WASM) -o $@ plugins/c/$*/*.c

wat-plugins:
	@if command -v $(WAT2WASM) >/dev/null; then $(MAKE) --no-print-directory $(WAT_PLUGINS); \
	else echo "make: skipping the WebAssembly text plugins: no $(WAT2WASM) (apt-get install wabt)"; fi

plugins/wat-%.wasm: plugins/wat/%.wat
	$(WAT2WASM) -o $@ $<

rust-plugins:
	@if [ -n "$(RUSTC)" ]; then $(MAKE) --no-print-directory RUSTC=$(RUSTC) $(RUST_PLUGINS); \
	else echo "make: skipping the Rust plugins: no rustc with the wasm32-wasi target (apt-get install rustc libstd-rust-dev-wasm32)"; fi

plugins/rust-%.wasm: plugins/rust/%/*.rs
	$(RUSTC) --edition 2021 --crate-type cdylib --target wasm32-wasi -O -C strip=symbols -o $@ plugins/rust/$*/lib.rs

# sdk/ is a module of its own (sdk/go.mod), which ./... leaves out. -count=1:
# the CLI tests run a host binary they build, which Go's test cache cannot see.
test:
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet ./plugins/...
	cd sdk && $(GO) vet ./... && GOOS=wasip1 GOARCH=wasm $(GO) vet ./...
	GOOS=darwin $(GO) build ./cmd/host ./host/... ./internal/...   # docs/FOLDERS.md, supported platforms
	GOOS=freebsd $(GO) build ./cmd/host ./host/... ./internal/...
	@test -z "$$(gofmt -l .)" || (echo "not gofmt'd:"; gofmt -l .; exit 1)
	cd sdk && $(GO) test -race -count=1 ./...
	$(GO) test -race -count=1 -timeout 45m ./...

# The main job: build everything and watch the folders of $(CONFIG).
run: watch

watch: build
	$(BIN) --config $(CONFIG) --watch

# Process one file: make input file=path/to/file
input: build
	@test -n "$(file)" || (echo "usage: make input file=PATH"; exit 2)
	$(BIN) --config $(CONFIG) --input "$(file)"

check: build
	$(BIN) --config $(CONFIG) --check

# Empty processed/ and failed/, keeping the folders.
clean:
	find watch_dir/processed watch_dir/failed -mindepth 1 ! -name .gitkeep -delete

# The image's inputs, in $(DOCKER_DIR): a static host binary, the example
# plugins, the config and the folders, owned by the image's user. Built
# without Docker, so it is tested where no engine runs (cmd/host/deploy_test.go).
docker-inputs: plugins
	rm -rf $(DOCKER_DIR)
	mkdir -p $(DOCKER_DIR)/plugins $(DOCKER_DIR)/.cache/wazero \
		$(DOCKER_DIR)/watch_dir/unprocessed $(DOCKER_DIR)/watch_dir/underprocess \
		$(DOCKER_DIR)/watch_dir/processed $(DOCKER_DIR)/watch_dir/failed
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o $(DOCKER_DIR)/host ./cmd/host
	cp $(PLUGINS) $(DOCKER_DIR)/plugins/
	cp config.toml $(DOCKER_DIR)/config.toml
	cp deploy/Dockerfile $(DOCKER_DIR)/Dockerfile
	printf 'Dockerfile\n.dockerignore\n' > $(DOCKER_DIR)/.dockerignore

# A small image: make docker IMAGE=name:tag. Run it with
#   docker run -v "$$PWD/watch_dir:/app/watch_dir" -p 5000:5000 -e HOST_DASHBOARD_TOKEN=secret IMAGE
docker: docker-inputs
	$(DOCKER) build -t $(IMAGE) $(DOCKER_DIR)

bench: build
	$(GO) run ./cmd/bench

vet:
	$(GO) vet ./...
	cd sdk && $(GO) vet ./...

fmt:
	gofmt -w .
