#!/usr/bin/env bash
# `make bench`: builds the load tool on first use, then runs the whole benchmark
# (bench stack up, seed, the scenarios, bench/results/latest.{json,md}).
# BENCH_QUICK=1 for a short run on a small data set. See docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/versions.sh
if [ ! -x "$VEGETA_BIN" ]; then
  go="$(command -v go || echo /usr/local/go/bin/go)"
  echo "==> building vegeta $VEGETA_VERSION into $(dirname "$VEGETA_BIN") (once)"
  GOBIN="$(dirname "$VEGETA_BIN")" "$go" install "github.com/tsenart/vegeta/v12@$VEGETA_VERSION"
fi
export VEGETA_BIN VEGETA_VERSION ROUTER_BIN FERRETDB_BIN
exec uv run --frozen --project bench python -m bench "$@"
