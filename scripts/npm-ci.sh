#!/usr/bin/env bash
# npm-ci.sh <dir>: `npm ci` in <dir>, unless its node_modules already holds exactly
# its package-lock.json (npm ci wipes node_modules, so it runs only when the lock changed).
set -euo pipefail
dir=$1
stamp="$dir/node_modules/.installed-package-lock.json"
if ! cmp -s "$dir/package-lock.json" "$stamp"; then
  echo "==> npm ci ($dir)"
  (cd "$dir" && npm ci --no-audit --no-fund)
  cp "$dir/package-lock.json" "$stamp"
fi
