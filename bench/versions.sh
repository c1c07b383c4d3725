# Pinned version of the load tool. Sourced by bench scripts.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/versions.sh"
K6_VERSION=v1.8.1
K6_BIN="$TOOLS_DIR/k6-$K6_VERSION/bin/k6"
