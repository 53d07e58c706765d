# Build the host and the example plugins, run it, test it.
# `make run` sets everything up and watches watch_dir/; `make test` runs all tests.

GO        ?= go
BIN       := bin/host
CONFIG    ?= config.toml
PLUGINS   := $(patsubst plugins/%/main.go,plugins/%.wasm,$(wildcard plugins/*/main.go))
GOFILES   := $(shell find host cmd sdk internal -name '*.go' -not -name '*_test.go' 2>/dev/null)
SDKFILES  := $(wildcard sdk/*.go)
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/filehost/host/host.Version=$(VERSION)

DOCKER      ?= docker
IMAGE       ?= filehost/host:$(VERSION)
DOCKER_DIR  ?= bin/docker

.PHONY: build plugins test run input watch check clean bench vet fmt docker docker-inputs

build: $(BIN) plugins

$(BIN): $(GOFILES) go.mod go.sum
	$(GO) build -ldflags "$(LDFLAGS)" -o $@ ./cmd/host

plugins: $(PLUGINS)

# Each plugins/NAME/ builds to plugins/NAME.wasm, a WASI reactor.
plugins/%.wasm: plugins/%/*.go $(SDKFILES)
	GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -o $@ ./plugins/$*

test:
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet ./sdk/... ./plugins/...
	@test -z "$$(gofmt -l .)" || (echo "not gofmt'd:"; gofmt -l .; exit 1)
	$(GO) test -race -timeout 45m ./...

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

fmt:
	gofmt -w .
