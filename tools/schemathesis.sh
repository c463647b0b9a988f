#!/usr/bin/env bash
# Property-based API checks: schemathesis (from PyPI, into a venv) generates requests from
# /api/openapi.json against a running `clv serve` and fails on any 5xx answer, on SQLite and,
# under tools/with-postgres.sh, on PostgreSQL too.
#   tools/with-postgres.sh tools/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${CLV_VENV:-target/venv}
[ -x "$VENV/bin/st" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q schemathesis==4.32.5; }
cargo build -q
CLV=target/debug/clv
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
DATABASES=("$WORK/st.db")
if [ -n "${CLV_TEST_POSTGRES:-}" ]; then
  psql "$CLV_TEST_POSTGRES" -qc "CREATE DATABASE clv_schemathesis_$$"
  DATABASES+=("${CLV_TEST_POSTGRES%/*}/clv_schemathesis_$$")
fi
for DB in "${DATABASES[@]}"; do
  KEY=$("$CLV" shop create schemathesis --timezone UTC --currency USD --database "$DB" 2>/dev/null)
  PORT=$((42000 + RANDOM % 1000))
  "$CLV" serve --database "$DB" --listen "127.0.0.1:$PORT" --rate-limit 1e9 2>"$WORK/serve.log" &
  SERVER=$!
  until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; do sleep 0.1; done
  # A few customers, so that lookups find some.
  curl -sf "http://127.0.0.1:$PORT/api/v1/events" -H "Authorization: Bearer $KEY" -d '{"batch": [
    {"event": "Order Completed", "messageId": "s1", "userId": "1", "timestamp": "2024-01-01T00:00:00Z", "properties": {"order_id": "1", "total": 10}},
    {"event": "Order Completed", "messageId": "s2", "userId": "2", "timestamp": "2024-02-01T00:00:00Z", "properties": {"order_id": "2", "total": 20}}]}' >/dev/null
  echo "schemathesis against clv serve on $DB"
  status=0
  "$VENV/bin/st" run "http://127.0.0.1:$PORT/api/openapi.json" -H "Authorization: Bearer $KEY" \
    --checks not_a_server_error --max-examples 30 --seed 1 || status=$?
  kill "$SERVER"; wait "$SERVER" || true
  [ "$status" = 0 ] || { tail -50 "$WORK/serve.log"; exit "$status"; }
done
