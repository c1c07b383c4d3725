#!/usr/bin/env bash
# Installs the pinned actionlint (the GitHub Actions workflow linter) with
# `go install` into the shared tool cache. Idempotent: does nothing when the
# pinned binary is already there. Prints the binary's path on stdout.
set -euo pipefail
source "$(dirname "$0")/versions.sh"

ACTIONLINT_VERSION="${ACTIONLINT_VERSION:-v1.7.12}"
bin_dir="$TOOLS_DIR/actionlint-$ACTIONLINT_VERSION/bin"
bin="$bin_dir/actionlint"
if [ ! -x "$bin" ]; then
  echo "==> installing actionlint $ACTIONLINT_VERSION with go install" >&2
  mkdir -p "$bin_dir"
  GOBIN="$bin_dir" GOFLAGS=-mod=mod go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION" >&2
fi
echo "$bin"
