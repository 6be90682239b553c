#!/usr/bin/env bash
# Builds Beam's Prism runner from the Go module proxy into $WIREWATCH_CACHE/bin/prism.
#
# Beam's DirectRunner downloads Prism from GitHub releases at run time; offline that fails and
# the run silently falls back to FnApiRunner, which is not a streaming runner. Building it with
# the Go toolchain needs only the module proxy, and wirewatch passes --prism_location to Beam
# whenever this binary exists (wirewatch.pipelines.runners).
#
# Idempotent: does nothing when the binary of this version is already there.
set -euo pipefail

BEAM_VERSION="${BEAM_VERSION:-2.77.0}"
CACHE="${WIREWATCH_CACHE:-$HOME/.cache/wirewatch}"
BIN_DIR="$CACHE/bin"
TARGET="$BIN_DIR/prism"
STAMP="$BIN_DIR/prism.version"

if [[ -x "$TARGET" && -f "$STAMP" && "$(cat "$STAMP")" == "$BEAM_VERSION" ]]; then
    echo "prism: $TARGET (Beam $BEAM_VERSION) already provisioned"
    exit 0
fi

if ! command -v go >/dev/null 2>&1; then
    echo "prism: the Go toolchain ('go') is needed to build Prism; install Go >= 1.22" >&2
    exit 1
fi

mkdir -p "$BIN_DIR"
start=$(date +%s)
# CGO off: a static binary that runs on any Linux of the same architecture.
CGO_ENABLED=0 GOBIN="$BIN_DIR" GOFLAGS="${GOFLAGS:-} -buildvcs=false" \
    go install "github.com/apache/beam/sdks/v2/go/cmd/prism@v$BEAM_VERSION"
echo "$BEAM_VERSION" > "$STAMP"
echo "prism: built $TARGET (Beam $BEAM_VERSION) in $(( $(date +%s) - start )) s"
