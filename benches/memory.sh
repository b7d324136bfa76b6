#!/usr/bin/env bash
# RSS of a release lift under 64-connection load on the metrics list (issue 9, "Memory").
#
#   benches/memory.sh [LIFT_BINARY] [sqlite|postgres] [ROUNDS] [SECONDS]
#
# Seeds a fresh database with `lift demo` (a running experiment with 6 attached metrics) plus 44
# more metrics through the API, serves it, then runs ROUNDS (5) rounds of SECONDS (60) of `wrk`
# with 64 connections on
#   metrics(first: 50) { totalCount edges { node { … definition { … } attachments { experiment { id name status } } } } }
# printing VmRSS and VmHWM (from /proc/<pid>/status) idle and after each round, the round's
# throughput, and SQLite's own share (`lift_sqlite_memory_bytes`) when the server shows it. Extra
# environment for the server passes through (e.g. MIMALLOC_PURGE_DELAY=0; lift's allocator is mimalloc).
# PostgreSQL is LIFT_BENCH_POSTGRES (default postgres://postgres@127.0.0.1:5432); the script
# creates and drops its own database there. Bounded: ROUNDS × SECONDS of load.
# Needs `wrk` (Debian: apt-get install -y wrk).
set -euo pipefail

if ! command -v wrk >/dev/null; then
  echo "benches/memory.sh: needs wrk (Debian: apt-get install -y wrk)" >&2
  exit 2
fi

LIFT=${1:-target/release/lift}
BACKEND=${2:-sqlite}
ROUNDS=${3:-5}
SECONDS_PER_ROUND=${4:-60}
CONNECTIONS=${CONNECTIONS:-64}
PORT=${PORT:-18432}
POSTGRES=${LIFT_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}

DIR=$(mktemp -d /tmp/lift-bench-memory.XXXXXX)
PG_DB=lift_bench_memory_$$
case "$BACKEND" in
  sqlite) export LIFT_DATABASE_URL="sqlite://$DIR/lift.db?mode=rwc" ;;
  postgres)
    createdb -h 127.0.0.1 -U postgres "$PG_DB"
    export LIFT_DATABASE_URL="$POSTGRES/$PG_DB" ;;
  *) echo "backend: sqlite or postgres" >&2; exit 2 ;;
esac
export LIFT_LISTEN=127.0.0.1:$PORT RUST_LOG=warn
export LIFT_JWT_SECRET=memory-bench-secret-of-at-least-32-bytes
unset LIFT_CLICKHOUSE_URL
SERVER=
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  [ "$BACKEND" = postgres ] && dropdb -h 127.0.0.1 -U postgres --if-exists "$PG_DB"
  rm -rf "$DIR"
}
trap cleanup EXIT

TOKEN=$("$LIFT" demo 2>/dev/null | awk '/admin@example.com/ {print $2}')
"$LIFT" serve >"$DIR/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done

gql() { # body-json
  curl -fsS --max-time 10 "http://127.0.0.1:$PORT/graphql" -H "authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' -d "$1"
}
for i in $(seq 44); do
  gql "{\"query\": \"mutation(\$i: CreateMetricInput!) { createMetric(input: \$i) { id } }\", \"variables\": {\"i\": {\"environmentKey\": \"demo\", \"name\": \"Load metric $i\", \"description\": \"Seeded for the memory bench\", \"metricType\": \"NUMERIC\", \"aggregation\": \"SUM\", \"direction\": \"UP\", \"definition\": {\"event\": \"purchase_$i\", \"filters\": [{\"property\": \"plan\", \"op\": \"EQ\", \"value\": {\"string\": \"pro\"}}], \"value\": {\"source\": \"EVENT_VALUE\"}}}}}" >/dev/null
done

QUERY='{ environment(key: \"demo\") { metrics(first: 50) { totalCount edges { node { id name description metricType aggregation direction createdAt definition { event filters { property op } value { source property } window { startSeconds endSeconds } } attachments { experiment { id name status } } } } } } }'
BODY="{\"query\": \"$QUERY\"}"
gql "$BODY" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert "errors" not in r, r
m = r["data"]["environment"]["metrics"]
attached = sum(1 for e in m["edges"] if e["node"]["attachments"])
assert m["totalCount"] == 50 and len(m["edges"]) == 50 and attached == 6, (m["totalCount"], attached)
print(f"list: {len(json.dumps(r))} bytes, 50 metrics, {attached} attached")'

cat >"$DIR/post.lua" <<EOF
wrk.method = "POST"
wrk.body = [[$BODY]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
failed = false
response = function(status, headers, body)
  if status ~= 200 and not failed then failed = true; io.stderr:write(status, " ", body, "\n") end
end
EOF

rss() { awk '/^(VmRSS|VmHWM|Threads)/ { if ($1 == "Threads:") printf "threads %s  ", $2; else printf "%s %.1f MB  ", $1, $2 / 1024 }' "/proc/$SERVER/status"; sqlite_memory; }
# SQLite's own allocations (page caches, statements), when the server shows them on /metrics.
sqlite_memory() {
  curl -fs "http://127.0.0.1:$PORT/metrics" | awk '/^lift_sqlite_memory_bytes / { printf "sqlite %.1f MB  ", $2 / 1048576 }'
}
echo "backend $BACKEND, $CONNECTIONS connections, $(env | grep -E "^MIMALLOC_" | tr "\n" " ")load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "idle:     $(rss)"
for round in $(seq "$ROUNDS"); do
  RATE=$(wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_ROUND}s" --timeout 10s -s "$DIR/post.lua" \
    "http://127.0.0.1:$PORT/graphql" | awk '/Requests\/sec/ {print $2} /Non-2xx/ {print "non-2xx:" $NF}' | tr '\n' ' ')
  echo "round $round: $(rss) req/s $RATE load $(cut -d' ' -f1 /proc/loadavg)"
done
