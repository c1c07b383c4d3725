#!/usr/bin/env bash
# Writes each subgraph's SDL, exported from its code, to subgraphs/<name>/schema.graphql.
set -euo pipefail
cd "$(dirname "$0")/.."
pids=()
for name in users orders payments delivery; do
  uv run --frozen --quiet --project "subgraphs/$name" \
    strawberry export-schema "$name.schema:schema" --output "subgraphs/$name/schema.graphql" &
  pids+=("$!")
done
status=0
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done
exit "$status"
