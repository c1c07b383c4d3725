#!/usr/bin/env bash
# Builds the pinned Jaeger v2 (one binary: OTLP in, the query API out; memory storage) from
# the Go module proxy into the shared tool cache; the stack runs it with TRACING=1.
# `go install github.com/jaegertracing/jaeger/cmd/jaeger@<version>` refuses the module (its
# go.mod has a replace directive), so the binary is built inside the downloaded module.
set -euo pipefail
source "$(dirname "$0")/versions.sh"

bin="$JAEGER_BIN"
if [ -x "$bin" ]; then
  exit 0
fi
echo "==> building Jaeger $JAEGER_VERSION with go (first run only, ~15 min)"
src_dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/jaegertracing/jaeger@$JAEGER_VERSION" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
mkdir -p "$(dirname "$bin")"
(cd "$src_dir" && GOFLAGS=-mod=mod go build -trimpath -o "$bin.partial" ./cmd/jaeger)
mv "$bin.partial" "$bin"
echo "==> Jaeger installed at $bin"
