#!/usr/bin/env bash
# Builds the pinned FerretDB from the Go module proxy into the shared tool cache.
# The published module lacks the generated build/version/*.txt files that the
# binary refuses to start without, so we build from a writable copy with them.
set -euo pipefail
source "$(dirname "$0")/versions.sh"

bin="$FERRETDB_BIN"
if [ -x "$bin" ]; then
  exit 0
fi
echo "==> building FerretDB $FERRETDB_VERSION with go (first run only, ~2 min)"
src_dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
cp -r "$src_dir" "$work/ferretdb"
chmod -R u+w "$work/ferretdb"
echo "$FERRETDB_VERSION" > "$work/ferretdb/build/version/version.txt"
mkdir -p "$(dirname "$bin")"
(cd "$work/ferretdb" && go build -trimpath -o "$bin" ./cmd/ferretdb)
echo "==> FerretDB installed at $bin"
