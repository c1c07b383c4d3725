#!/usr/bin/env bash
# Builds the pinned Apollo Router from crates.io into the shared tool cache, once.
# The binary is never rebuilt while it exists: changing ROUTER_VERSION in
# versions.sh installs the new version beside the old one. The first build
# compiles ~900 crates and takes a long time on a small machine (see README).
set -euo pipefail
source "$(dirname "$0")/versions.sh"

if [ -x "$ROUTER_BIN" ]; then
  exit 0
fi

build_pattern="cargo install apollo-router --version $ROUTER_VERSION"

wait_for_running_build() {
  local started=$SECONDS log="${ROUTER_BUILD_LOG:-/tmp/router-build.log}"
  echo "==> an Apollo Router $ROUTER_VERSION build is already running; waiting for it"
  while pgrep -f "$build_pattern" > /dev/null; do
    local last=""
    [ -f "$log" ] && last=$(tail -n 1 "$log" | tr -d '\r' | cut -c1-80)
    echo "    ... $(( (SECONDS - started) / 60 )) min waited ${last:+($last)}"
    sleep 30
  done
}

if pgrep -f "$build_pattern" > /dev/null; then
  wait_for_running_build
  if [ -x "$ROUTER_BIN" ]; then
    exit 0
  fi
  echo "==> the running build ended without $ROUTER_BIN; building it here"
fi

if ! command -v cargo > /dev/null; then
  echo "error: cargo is not installed; install a Rust toolchain (https://rustup.rs), then re-run." >&2
  exit 1
fi
# The router's build compiles protobuf definitions.
"$(dirname "$0")/apt-install.sh" protoc protobuf-compiler

echo "==> building Apollo Router $ROUTER_VERSION from crates.io (first run only; 37 to 67 min measured on 2 cores)"
echo "    into $ROUTER_BIN"
start=$(date +%s)
# Release build without debug info, LTO or incremental state: much faster to build,
# and the router's runtime performance is unaffected for our purposes.
CARGO_PROFILE_RELEASE_DEBUG=0 \
CARGO_PROFILE_RELEASE_LTO=false \
CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
CARGO_PROFILE_RELEASE_INCREMENTAL=false \
  cargo install apollo-router --version "$ROUTER_VERSION" --locked \
    --root "$TOOLS_DIR/apollo-router-$ROUTER_VERSION"
echo "==> Apollo Router $ROUTER_VERSION built in $(( ($(date +%s) - start) / 60 )) min: $ROUTER_BIN"
