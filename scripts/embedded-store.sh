#!/usr/bin/env bash
# The embedded MongoDB store: FerretDB 1.24 on its own PostgreSQL cluster.
# Each command runs one server in the foreground (for supervisord, the test
# harnesses and the bench alike), so every place that starts the store starts
# it the same way:
#
#   scripts/embedded-store.sh postgresql <data dir> <port> [postgres -c options...]
#   scripts/embedded-store.sh ferretdb <postgresql url> <port> <state dir> [ferretdb options...]
#
# Why these settings (docs/architecture.md, "The embedded store"):
# - plan_cache_mode=force_custom_plan: FerretDB sends the field name of every
#   pushed-down equality as a bind parameter, so only a custom plan can match
#   the services' expression indexes;
# - auto_explain is loaded (and off) so the query-plan tests can turn it on for
#   one role;
# - FerretDB's Go garbage collector at GOGC=400 (FERRETDB_GOGC; Go's default is
#   100): it spent a fifth of FerretDB's CPU on reads, measured in
#   docs/performance.md, "Where a subgraph's time goes".
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/versions.sh

usage() {
  echo "usage: $0 postgresql <data dir> <port> [-c name=value ...]" >&2
  echo "       $0 ferretdb <postgresql url> <port> <state dir> [ferretdb options ...]" >&2
  exit 2
}

postgres_bindir() {
  local bindir
  bindir="$(pg_config --bindir 2>/dev/null || true)"
  if [ -z "$bindir" ] || [ ! -x "$bindir/postgres" ]; then
    bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  fi
  if [ -z "$bindir" ] || [ ! -x "$bindir/postgres" ]; then
    echo "error: PostgreSQL is not installed: run \`make setup\` (Debian: apt-get install postgresql)." >&2
    exit 1
  fi
  echo "$bindir"
}

# PostgreSQL refuses to run as root: as root it runs as the system's `postgres` user.
as_owner=()
if [ "$(id -u)" = 0 ]; then
  as_owner=(runuser -u postgres --)
fi

run_postgresql() {
  [ $# -ge 2 ] || usage
  local data port bindir
  data="$(realpath -m "$1")"
  port="$2"
  shift 2
  bindir="$(postgres_bindir)"
  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$(dirname "$data")"
    if ! runuser -u postgres -- test -x "$(dirname "$data")"; then
      # A parent folder (e.g. /root) is closed to other users: keep the cluster
      # where the postgres user can reach it, linked from where it was asked for.
      local reachable
      reachable="/var/lib/shopgraph/postgresql/$(printf '%s' "$data" | sha1sum | cut -c1-16)"
      echo "note: the postgres user cannot reach $data; the cluster lives in $reachable" >&2
      mkdir -p "$reachable"
      [ -L "$data" ] || { rmdir "$data" 2> /dev/null || true; ln -sfn "$reachable" "$data"; }
      data="$reachable"
    fi
    mkdir -p "$data"
    chown postgres "$data"
    chmod 0700 "$data"
  else
    mkdir -p "$data"
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    "${as_owner[@]}" "$bindir/initdb" -D "$data" -A trust -U postgres -E UTF8 --no-instructions > /dev/null
  fi
  exec "${as_owner[@]}" "$bindir/postgres" -D "$data" -p "$port" \
    -c listen_addresses=127.0.0.1 -c unix_socket_directories= \
    -c plan_cache_mode=force_custom_plan -c shared_preload_libraries=auto_explain "$@"
}

run_ferretdb() {
  [ $# -ge 3 ] || usage
  local postgresql_url="$1" port="$2" state="$3"
  shift 3
  if [ ! -x "$FERRETDB_BIN" ]; then
    echo "error: FerretDB is not built at $FERRETDB_BIN: run \`make setup\`." >&2
    exit 1
  fi
  mkdir -p "$state"
  GOGC="${FERRETDB_GOGC:-400}" exec "$FERRETDB_BIN" --handler=postgresql \
    --postgresql-url="$postgresql_url" \
    --listen-addr="127.0.0.1:$port" --state-dir="$state" \
    --debug-addr=- --telemetry=disable "$@"
}

[ $# -ge 1 ] || usage
command="$1"
shift
case "$command" in
  postgresql) run_postgresql "$@" ;;
  ferretdb) run_ferretdb "$@" ;;
  *) usage ;;
esac
