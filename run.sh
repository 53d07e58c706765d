#!/bin/sh
# run.sh: the shell alternative to the Makefile, for machines without make.
#
#   ./run.sh run          build, then watch the folders of config.toml (also: watch)
#   ./run.sh input FILE   build, then process one file through the folder protocol
#   ./run.sh check        build, then validate the config and load every plugin
#   ./run.sh build        build bin/host and plugins/*.wasm
#
# Environment: GO (default go), CONFIG (default config.toml), BIN (default
# bin/host). Extra arguments after the command go to the host.
set -eu

GO=${GO:-go}
CONFIG=${CONFIG:-config.toml}
BIN=${BIN:-bin/host}

cd "$(dirname "$0")"

usage() {
	sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
}

build() {
	version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
	mkdir -p "$(dirname "$BIN")"
	"$GO" build -ldflags "-X github.com/filehost/host/host.Version=$version" -o "$BIN" ./cmd/host
	for dir in plugins/*/; do
		name=$(basename "$dir")
		[ -f "$dir/main.go" ] || continue
		GOOS=wasip1 GOARCH=wasm "$GO" build -buildmode=c-shared -o "plugins/$name.wasm" "./plugins/$name"
	done
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
run | watch)
	build
	exec "$BIN" --config "$CONFIG" --watch "$@"
	;;
input)
	if [ $# -lt 1 ]; then
		echo "usage: ./run.sh input FILE" >&2
		exit 2
	fi
	file=$1
	shift
	build
	exec "$BIN" --config "$CONFIG" --input "$file" "$@"
	;;
check)
	build
	exec "$BIN" --config "$CONFIG" --check "$@"
	;;
build)
	build
	;;
help | -h | --help)
	usage
	;;
*)
	usage >&2
	exit 2
	;;
esac
