#!/usr/bin/env bash
# Installs everything the stack and the tests need; quick when all is present.
#   system: redis-server, PostgreSQL (the embedded store's backend), Go (to build FerretDB), Node.js + npm, uv,
#           Chromium (the browser tests), Prometheus (monitoring)
#   tools:  FerretDB, Jaeger (tracing) and the Apollo Router, built once into ~/.local/share/shopgraph
#   projects: router/ and the explorer's node_modules (npm ci) and the uv environments of every Python project
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/versions.sh

scripts/apt-install.sh redis-server redis-server
# Debian keeps the server binaries off PATH; pg_ctlcluster comes with them.
scripts/apt-install.sh pg_ctlcluster postgresql
scripts/apt-install.sh go golang-go
scripts/apt-install.sh node nodejs npm
# The browser the explorer tests drive headless (tests/e2e/test_explorer.py).
scripts/apt-install.sh chromium chromium
# Prometheus and promtool: the stack's monitoring (MONITORING=1) and the rule checks in make test.
scripts/apt-install.sh promtool prometheus
if ! command -v uv > /dev/null; then
  echo "==> installing uv with pip"
  python3 -m pip install --quiet uv || python3 -m pip install --quiet --break-system-packages uv
  PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
  export PATH
fi

scripts/install-ferretdb.sh
# The trace backend of TRACING=1, which the test stack runs (tests/e2e/test_traces.py).
scripts/install-jaeger.sh
# Apollo Gateway alone (ROUTER=gateway make up) needs no router build.
if [ "${ROUTER:-router}" != gateway ]; then
  scripts/install-router.sh
fi

scripts/npm-ci.sh router
# GraphiQL and React, which every service serves for its explorer (shopkit.explorer).
scripts/npm-ci.sh libs/shopkit/src/shopkit/explorer
# The dashboard's chart library (monitoring/dashboard, served by the stack's Prometheus).
scripts/npm-ci.sh monitoring/dashboard

for project in . libs/shopkit subgraphs/users subgraphs/orders subgraphs/payments subgraphs/delivery; do
  uv sync --frozen --quiet --project "$project"
done
echo "==> setup complete"
