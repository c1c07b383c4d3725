#!/usr/bin/env bash
# Builds the pinned k6 load tool from the Go module proxy into the shared tool
# cache. Idempotent: does nothing when the pinned binary is already there.
set -euo pipefail
source "$(dirname "$0")/versions.sh"

if [ -x "$K6_BIN" ]; then
  exit 0
fi
if ! command -v go >/dev/null; then
  echo "bench: 'go' is needed to build k6 $K6_VERSION (go install go.k6.io/k6@$K6_VERSION)" >&2
  exit 1
fi
echo "==> building k6 $K6_VERSION with go install (first run only, a few minutes)"
mkdir -p "$(dirname "$K6_BIN")"
# k6 needs go >= 1.25; GOTOOLCHAIN=auto lets an older go fetch that toolchain from the proxy.
GOBIN="$(dirname "$K6_BIN")" GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" go install "go.k6.io/k6@$K6_VERSION"
"$K6_BIN" version
