#!/usr/bin/env bash
# A throw-away PostgreSQL on 127.0.0.1 for the ledger's tests (CI runs it from .ci/run).
#
#   ops/ci_postgres.sh start   installs Debian's postgresql if needed, starts a cluster of its own
#                              (not the system's) and prints the URL to export as
#                              LEDGER_TEST_POSTGRES_URL
#   ops/ci_postgres.sh stop    stops that cluster
#
# PGPORT and CI_PG_DIR choose the port (55432) and the cluster's folder (/tmp/coaching-ci-postgres).
set -euo pipefail
PORT="${PGPORT:-55432}"
DIR="${CI_PG_DIR:-/tmp/coaching-ci-postgres}"
DB=coaching_ci

bin_dir() {
    local initdb
    initdb="$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)"
    [ -n "$initdb" ] && dirname "$initdb"
}

as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
    if [ -z "$(bin_dir)" ]; then
        echo "installing postgresql from Debian's packages" >&2
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    fi
    local bin
    bin="$(bin_dir)"
    if [ ! -s "$DIR/data/PG_VERSION" ]; then
        mkdir -p "$DIR"
        [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
        as_postgres "$bin/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 >/dev/null
    fi
    if ! as_postgres "$bin/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
        as_postgres "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR" start >/dev/null
    fi
    if ! as_postgres "$bin/psql" -h 127.0.0.1 -p "$PORT" -U postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
        as_postgres "$bin/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
    fi
    echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/$DB"
}

stop() {
    local bin
    bin="$(bin_dir)"
    [ -n "$bin" ] && [ -s "$DIR/data/PG_VERSION" ] && as_postgres "$bin/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
