#!/usr/bin/env bash
# Start a throwaway PostgreSQL 15 cluster on 127.0.0.1 and print its URL on stdout.
# Usage: eval "$(scripts/pg-temp.sh start)"  ->  sets PG_TEMP_DIR and PG_TEMP_URL
#        scripts/pg-temp.sh stop "$PG_TEMP_DIR"
# initdb and postgres refuse to run as root, so they run as the postgres user.
set -euo pipefail

bindir="$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)"
[ -x "$bindir/initdb" ] || bindir=/usr/lib/postgresql/15/bin

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    dir="$(mktemp -d "${TMPDIR:-/tmp}/hangang-pg.XXXXXX")"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    as_postgres "$bindir/initdb" -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1
    as_postgres "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c max_connections=300" >/dev/null
    as_postgres "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres hangang
    echo "export PG_TEMP_DIR=$dir PG_TEMP_PORT=$port PG_TEMP_URL=postgresql://postgres@127.0.0.1:$port/hangang"
    ;;
  stop)
    dir="${2:?usage: pg-temp.sh stop DIR}"
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_postgres "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || \
        kill -INT "$(head -1 "$dir/data/postmaster.pid")" 2>/dev/null || true
    fi
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
