#!/usr/bin/env bash
# Fuzzes the whole API from its own OpenAPI document with schemathesis, once per role, on
# the local server (embedded store, loopback only): no answer may be a 5xx, break its
# documented schema, status, content type or headers, accept a request the schema forbids,
# or serve an operation without a token. Part of scripts/test.sh; runs on its own too.
#
# `positive_data_acceptance` is left out: it expects every schema-valid request to succeed,
# but some rules are not the schema's to state (a CSV must be a time-series table, a list
# cursor must carry the server's seal), and those requests rightly answer 400.
#
# usage: scripts/api-conformance.sh [EXAMPLES_PER_OPERATION]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
examples=${1:-40}
schemathesis="$root/.tools/venv/bin/schemathesis"
[ -x "$schemathesis" ] || bash scripts/install-tools.sh
cargo build --locked -q -p devserver
server="$root/target/debug/devserver"

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
base="http://127.0.0.1:$port"
# Thousands of cases a minute per role: far past the per-user rate limit, and thousands of
# deliberate 4xx from one address, past the detector's thresholds; neither is what this
# run is about (tests/tests/api/standing.rs and detection.rs cover them).
(exec "$server" --port "$port" --data-dir "$work/data" --api-rate 1000000 --no-threat-detection) >"$work/server.log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
until curl -s -o /dev/null "$base/health"; do
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.2
done

token() { "$server" token --user "$1" --role "$2" --port "$port" --data-dir "$work/data"; }
admin=$(token ada admin)
analyst=$(token alice analyst)
viewer=$(token victor viewer)

field() { python3 -c "import json, sys; print(json.load(sys.stdin)['$1'])"; }
call() { curl -sf "$base$2" -X "$1" -H "authorization: Bearer $analyst" -H 'content-type: application/json' ${3:+-d "$3"}; }
csv=$(python3 -c 'import datetime as d, json; rows = ["date,sales"] + [f"{d.date(2024, 1, 1) + d.timedelta(days=i)},{100 + (i % 7) * 3 + i * 0.1:.1f}" for i in range(60)]; print(json.dumps({"name": "conformance", "csv": "\n".join(rows)}))')

# Something to find, made afresh for each role (a run deletes what it is given): a dataset
# and a forecast of alice's, the dataset shared with victor, so the operations on one
# resource reach their handlers' logic rather than a 404.
seed() {
  local dataset forecast
  dataset=$(call POST /v1/datasets "$csv" | field id)
  forecast=$(call POST /v1/forecasts "{\"dataset_id\":\"$dataset\",\"time_column\":\"date\",\"target_column\":\"sales\",\"horizon\":7}" | field id)
  call PUT "/v1/datasets/$dataset/shares/local-victor" >/dev/null
  cat >"$work/schemathesis.toml" <<CONFIG
[parameters]
datasetId = "$dataset"
forecastId = "$forecast"
userId = "local-victor"
dataset_id = "$dataset"

# A change without If-Match is 428 Precondition Required (RFC 6585), once the caller was
# authorized for the resource: a resource they may not change, or that is gone, answers 403
# or 404 first, so its state is never told to someone who may not know it.
[checks.missing_required_header]
expected-statuses = [400, 401, 403, 404, 406, 415, 422, 428]
CONFIG
}

failed=0
for role in admin analyst viewer; do
  printf '\n==> schemathesis as %s (%s examples per operation)\n' "$role" "$examples" >&2
  seed
  if ! (cd "$work" && "$schemathesis" --config-file "$work/schemathesis.toml" run "$base/openapi.json" \
    --header "Authorization: Bearer ${!role}" \
    --checks all --exclude-checks positive_data_acceptance \
    --max-examples "$examples" --seed 20261201 --workers 1 \
    --generation-database none --no-color --warnings off); then
    failed=$((failed + 1))
  fi
done
if [ "$failed" -gt 0 ]; then
  echo "api-conformance: schemathesis found failures as $failed of 3 roles" >&2
  exit 1
fi
echo "api-conformance: 3 roles, no failures" >&2
