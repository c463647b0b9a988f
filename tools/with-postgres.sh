#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL 15 on a loopback port: initdb into a temp folder,
# start it, export CLV_TEST_POSTGRES (a URL the service tests create their databases under),
# run "$@", stop it and remove the folder. As root, the server runs as the postgres user
# (PostgreSQL refuses to run as root).
#   tools/with-postgres.sh cargo test --workspace
set -euo pipefail
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$BIN/initdb" ] || { echo "with-postgres: PostgreSQL is not installed (apt-get install postgresql-15)" >&2; exit 1; }
DIR=$(mktemp -d /tmp/clv-pg.XXXXXX)
PORT=${CLV_PG_PORT:-$((20000 + RANDOM % 20000))}
AS=()
if [ "$(id -u)" = 0 ]; then chown postgres "$DIR"; AS=(runuser -u postgres --); fi
"${AS[@]}" "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 >"$DIR/initdb.log" 2>&1 \
  || { cat "$DIR/initdb.log" >&2; exit 1; }
"${AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=on -c max_connections=200" start >/dev/null
stop() { "${AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap stop EXIT
export CLV_TEST_POSTGRES="postgres://postgres@127.0.0.1:$PORT/postgres"
echo "with-postgres: PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') at $CLV_TEST_POSTGRES" >&2
"$@"
