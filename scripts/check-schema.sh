#!/usr/bin/env bash
# `make check-schema`: fails, saying what to do, when
#   (a) a committed subgraphs/<name>/schema.graphql no longer matches its code,
#   (b) the subgraph schemas do not compose,
#   (c) router/supergraph.graphql is stale, or
#   (d) the client-facing API schema breaks router/api-schema.graphql without acknowledgement.
# (b)-(d) are router/compose.mjs --check. Every problem is reported, not just the first.
set -uo pipefail
cd "$(dirname "$0")/.."

status=0
exports=$(mktemp -d)
trap 'rm -rf "$exports"' EXIT

# Export every subgraph's SDL from its code, in parallel (each is a Python start-up).
for name in users orders payments delivery; do
  uv run --frozen --quiet --project "subgraphs/$name" \
    strawberry export-schema "$name.schema:schema" --output "$exports/$name.graphql" \
    > "$exports/$name.log" 2>&1 &
done
wait

for name in users orders payments delivery; do
  committed="subgraphs/$name/schema.graphql"
  if [ ! -f "$exports/$name.graphql" ]; then
    cat "$exports/$name.log" >&2
    echo "error: could not export the schema of subgraphs/$name from its code (see above)." >&2
    status=1
  elif [ ! -f "$committed" ]; then
    echo "error: $committed is missing: run \`make compose\` and commit it." >&2
    status=1
  elif ! diff -u --label "$committed (committed)" --label "$committed (exported from the code)" \
      "$committed" "$exports/$name.graphql" >&2; then
    echo "error: $committed does not match the code of subgraphs/$name:" \
      "run \`make compose\` (it re-exports every schema.graphql and recomposes) and commit the result." >&2
    status=1
  fi
done

node router/compose.mjs --check || status=1

if [ "$status" = 0 ]; then
  echo "ok: schemas match the code, compose, and break no client"
else
  echo "check-schema FAILED (see the errors above)" >&2
fi
exit "$status"
