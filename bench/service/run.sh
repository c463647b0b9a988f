#!/usr/bin/env bash
# The service under load, on SQLite and PostgreSQL, on this machine (the load generator shares
# its cores with the server):
#   tools/with-postgres.sh bench/service/run.sh [CUSTOMERS]
# single events and batches of 500 (wrk, 15 s each, p50/p99), the import and rescore of a
# CUSTOMERS-customer simulated log (default 1,000,000), profile lookups under load, and the
# server's peak memory. Needs wrk (Debian's package) and a release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
CUSTOMERS=${1:-1000000}
CLV=target/release/clv
OUT=bench/out/service
mkdir -p "$OUT"
LOG="$OUT/sim_$CUSTOMERS.csv"
[ -f "$LOG" ] || "$CLV" simulate --customers "$CUSTOMERS" --seed 42 -o "$LOG" 2>/dev/null
END=2024-12-29
PORT=$((41000 + RANDOM % 1000))
export CLV_KEY CUSTOMERS

wrk_line() { # label, then wrk arguments: "label  N req/s  p50  p99"
  local label=$1; shift
  local out; out=$(wrk --latency "$@")
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  local errors; errors=$(awk '/Non-2xx|Socket errors/' <<<"$out")
  echo "$label: $rps requests/s, p50 $p50, p99 $p99 ${errors:+($errors)}"
}

for KIND in sqlite postgres; do
  if [ "$KIND" = sqlite ]; then
    URL="$OUT/bench.db"; rm -f "$URL" "$URL-wal" "$URL-shm"
  else
    DB="clv_bench_$$"; psql "$CLV_TEST_POSTGRES" -qc "CREATE DATABASE $DB"
    URL="${CLV_TEST_POSTGRES%/*}/$DB"
  fi
  CLV_KEY=$("$CLV" shop create load --timezone UTC --currency USD --database "$URL" 2>/dev/null)
  BIG=$("$CLV" shop create big --timezone UTC --currency USD --database "$URL" 2>/dev/null)
  # No rate limit: the load is the point.
  "$CLV" serve --database "$URL" --listen "127.0.0.1:$PORT" --rate-limit 1e9 2>"$OUT/serve-$KIND.log" &
  SERVER=$!
  until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; do sleep 0.1; done
  BASE="http://127.0.0.1:$PORT"
  echo "== $KIND ($(nproc) cores shared by server and wrk)"
  wrk_line "single events (32 connections)" -t2 -c32 -d15s -s bench/service/events.lua "$BASE"
  # Events a second are 500 times the requests a second.
  BATCH=500 wrk_line "batches of 500 (8 connections)" -t2 -c8 -d15s -s bench/service/events.lua "$BASE"
  start=$(date +%s.%N)
  "$CLV" import "$LOG" --shop big --database "$URL" 2>&1 | tail -1
  echo "import of $CUSTOMERS customers: $(echo "$(date +%s.%N) - $start" | bc) s"
  start=$(date +%s.%N)
  curl -sf -XPOST "$BASE/api/v1/rescore" -H "Authorization: Bearer $BIG" -d "{\"as_of\": \"$END\"}" \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); print("rescore:", r["status"], r["customers"], "customers")'
  echo "rescore of $CUSTOMERS stored customers: $(echo "$(date +%s.%N) - $start" | bc) s"
  CLV_KEY=$BIG wrk_line "profile lookups (16 connections)" -t2 -c16 -d15s -s bench/service/profile.lua "$BASE"
  echo "server peak memory: $(awk '/VmHWM/ {printf "%.0f MiB", $2 / 1024}' /proc/$SERVER/status)"
  kill "$SERVER"; wait "$SERVER" || true
done
