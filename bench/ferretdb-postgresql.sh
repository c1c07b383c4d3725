#!/usr/bin/env bash
# The bench's default MongoDB: the same FerretDB as `make up`, on its PostgreSQL
# backend instead of SQLite (see docs/performance.md for why).
#
#   bench/ferretdb-postgresql.sh start <data dir>   # PostgreSQL + FerretDB, health-checked
#   bench/ferretdb-postgresql.sh stop <data dir>
#
# PostgreSQL comes from the system (Debian: apt-get install postgresql); run as
# root, it runs as the `postgres` user. Ports: BENCH_POSTGRES_PORT (27432),
# BENCH_FERRETDB_PORT (27317), both on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/versions.sh

command="${1:?usage: $0 start|stop <data dir>}"
data="$(realpath -m "${2:?usage: $0 start|stop <data dir>}")"
pg_port="${BENCH_POSTGRES_PORT:-27432}"
ferretdb_port="${BENCH_FERRETDB_PORT:-27317}"
pg_bin="$(pg_config --bindir 2>/dev/null || ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/postgres" ]; then
  echo "bench: PostgreSQL is needed for FerretDB's PostgreSQL backend (Debian: apt-get install postgresql)," >&2
  echo "       or run the bench on another store: BENCH_MONGODB_URI=mongodb://... make bench" >&2
  exit 1
fi

as_owner() {
  # PostgreSQL refuses to run as root.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  mkdir -p "$data/postgresql" "$data/ferretdb-state" "$data/logs"
  if [ "$(id -u)" = 0 ]; then chown -R postgres "$data/postgresql" "$data/logs"; fi
  if [ ! -f "$data/postgresql/PG_VERSION" ]; then
    as_owner "$pg_bin/initdb" -D "$data/postgresql" -A trust -U postgres --no-instructions >/dev/null
  fi
  if ! as_owner "$pg_bin/pg_ctl" -D "$data/postgresql" status >/dev/null 2>&1; then
    as_owner "$pg_bin/pg_ctl" -D "$data/postgresql" -l "$data/logs/postgresql.log" -w start \
      -o "-p $pg_port -k $data/postgresql -c listen_addresses=127.0.0.1" >/dev/null
  fi
  as_owner "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'ferretdb'" | grep -q 1 \
    || as_owner "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres ferretdb
  if [ ! -f "$data/ferretdb.pid" ] || ! kill -0 "$(cat "$data/ferretdb.pid")" 2>/dev/null; then
    "$FERRETDB_BIN" --handler=postgresql \
      --postgresql-url="postgres://postgres@127.0.0.1:$pg_port/ferretdb" \
      --listen-addr="127.0.0.1:$ferretdb_port" --state-dir="$data/ferretdb-state" \
      --telemetry=disable --debug-addr=- --log-level=warn \
      >>"$data/logs/ferretdb.log" 2>&1 &
    echo $! >"$data/ferretdb.pid"
  fi
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$ferretdb_port") 2>/dev/null; then
      echo "==> FerretDB $FERRETDB_VERSION (PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}')) on 127.0.0.1:$ferretdb_port"
      return 0
    fi
    sleep 0.1
  done
  echo "bench: FerretDB did not start; see $data/logs/ferretdb.log" >&2
  exit 1
}

stop() {
  if [ -f "$data/ferretdb.pid" ]; then
    kill "$(cat "$data/ferretdb.pid")" 2>/dev/null || true
    rm -f "$data/ferretdb.pid"
  fi
  if [ -f "$data/postgresql/PG_VERSION" ]; then
    as_owner "$pg_bin/pg_ctl" -D "$data/postgresql" -m fast stop >/dev/null 2>&1 || true
  fi
}

case "$command" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop <data dir>" >&2; exit 2 ;;
esac
