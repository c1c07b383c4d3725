#!/usr/bin/env bash
# `make bench`: builds k6 on first use, then runs the whole benchmark
# (bench stack up, seed, four scenarios, bench/results/latest.{json,md}).
# BENCH_QUICK=1 for short runs on a smaller data set. See docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash bench/install-k6.sh
source bench/versions.sh
export K6_BIN ROUTER_BIN FERRETDB_BIN
exec uv run --frozen --project bench python -m bench "$@"
