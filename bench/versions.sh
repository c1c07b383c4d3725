# Pinned version of the load tool. Sourced by bench/run.sh.
# vegeta (MIT licence), built with `go install` into the tools cache on first use.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/versions.sh"
VEGETA_VERSION=v12.13.0
VEGETA_BIN="$TOOLS_DIR/vegeta-$VEGETA_VERSION/bin/vegeta"
