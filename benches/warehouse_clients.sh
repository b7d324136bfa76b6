#!/usr/bin/env bash
# Latency of the demo experiment's full results, fresh from the warehouse (a RUNNING experiment, so
# no snapshot), over sequential requests: what pooled warehouse clients save per request.
#
#   benches/warehouse_clients.sh [LIFT_BINARY] [default|connection]
#
# Seeds a fresh SQLite database with `lift demo` (its events go to the database
# `lift_bench_clients` of the local engine, `scripts/clickhouse-local-ensure`), serves it, then
# sends REQUESTS (20) sequential requests of every `results` field and prints each time and the
# median. `default` reads through LIFT_CLICKHOUSE_URL; `connection` gives the demo environment its
# own warehouse connection to the same engine first. Then READY_REQUESTS (200) sequential `/ready`.
# Bounded: every request has a 10 s limit.
set -euo pipefail

LIFT=${1:-target/release/lift}
MODE=${2:-default}
REQUESTS=${REQUESTS:-20}
PORT=${PORT:-18431}
ENGINE=${LIFT_BENCH_CLICKHOUSE_URL:-http://127.0.0.1:8123}

DIR=$(mktemp -d /tmp/lift-bench-clients.XXXXXX)
export LIFT_DATABASE_URL="sqlite://$DIR/lift.db?mode=rwc"
export LIFT_CLICKHOUSE_URL=$ENGINE LIFT_CLICKHOUSE_DATABASE=lift_bench_clients
export LIFT_CLICKHOUSE_COMPRESSION=none LIFT_LISTEN=127.0.0.1:$PORT RUST_LOG=warn
export LIFT_WAREHOUSE_ALLOWED_HOSTS=127.0.0.1
SERVER=
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  rm -rf "$DIR"
}
trap cleanup EXIT

"$LIFT" clickhouse init >/dev/null
TOKEN=$("$LIFT" demo 2>/dev/null | awk '/admin@example.com/ {print $2}')
"$LIFT" serve >"$DIR/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done

gql() { # query [variables-json]
  curl -fsS --max-time 10 "http://127.0.0.1:$PORT/graphql" -H "authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' \
    -d "$(python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1], "variables": json.loads(sys.argv[2])}))' "$1" "${2:-{\}}")"
}

EXPERIMENT=$(gql '{ environment(key: "demo") { experiments(first: 1, status: RUNNING) { edges { node { id } } } } }' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["environment"]["experiments"]["edges"][0]["node"]["id"])')
if [ "$MODE" = connection ]; then
  gql 'mutation($i: CreateWarehouseConnectionInput!) { createWarehouseConnection(input: $i) { id } }' \
    "{\"i\": {\"environmentKey\": \"demo\", \"url\": \"$ENGINE\", \"database\": \"lift_bench_clients\", \"table\": \"events\"}}" >/dev/null
fi

FIELDS='computedAt frozen exposures { variant identities } excludedIdentities multipleExposureIdentities unknownVariantIdentities srm { chiSquare pValue mismatch } metrics { experimentMetric { id } metricId variants { variant n sum sumOfSquares mean variance } comparisons { variant absoluteDifference { estimate ciLower ciUpper pValue } relativeLift { estimate ciLower ciUpper pValue } verdict } }'
BODY=$(python3 -c 'import json,sys; print(json.dumps({"query": "query($id: ID!) { experiment(id: $id) { results { %s } } }" % sys.argv[1], "variables": {"id": sys.argv[2]}}))' "$FIELDS" "$EXPERIMENT")

gql "query(\$id: ID!) { experiment(id: \$id) { results { frozen metrics { metricId } } } }" "{\"id\": \"$EXPERIMENT\"}" |
  python3 -c 'import json,sys; r=json.load(sys.stdin); assert "errors" not in r, r; res=r["data"]["experiment"]["results"]; assert res["frozen"] is False and len(res["metrics"]) == 5, res'

for _ in $(seq "$REQUESTS"); do
  curl -fsS --max-time 10 -o "$DIR/out.json" -w '%{time_total}\n' "http://127.0.0.1:$PORT/graphql" \
    -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d "$BODY"
  if grep -q '"errors"' "$DIR/out.json"; then echo "errors: $(cat "$DIR/out.json")" >&2; exit 1; fi
done | python3 -c '
import statistics, sys
times = [float(line) * 1000 for line in sys.stdin]
print("ms:", " ".join(f"{t:.1f}" for t in times))
print(f"p50 {statistics.median(times):.1f} ms  min {min(times):.1f}  max {max(times):.1f}  n {len(times)}")'

# The same per-request client cost with the warehouse's own work near zero: `/ready` asks the
# default warehouse `SELECT 1` (and the database a ping) on every call.
for _ in $(seq "${READY_REQUESTS:-200}"); do
  curl -fsS --max-time 10 -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$PORT/ready"
done | python3 -c '
import statistics, sys
times = [float(line) * 1000 for line in sys.stdin]
print(f"/ready p50 {statistics.median(times):.2f} ms  min {min(times):.2f}  n {len(times)}")'
