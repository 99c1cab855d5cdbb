#!/usr/bin/env bash
# Lists against single reads on the release local server, over loopback only:
# 50 datasets owned by the caller, then wrk on GET /v1/me, GET /v1/datasets/{id} and
# GET /v1/datasets?limit=50 (same connections, threads and duration for each).
# Usage: bash scripts/bench-list.sh [seconds per run, default 10]. Needs wrk (apt-get install wrk).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-10}
command -v wrk >/dev/null || { echo "bench-list: wrk is not installed (apt-get install wrk)" >&2; exit 1; }

cargo build --release -q -p devserver
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
server="$root/target/release/devserver"
# Request logging off: the figure is the API's, not the terminal's. The per-user rate limit
# is lifted (every request still counts against it: that cost stays in the figure).
RUST_LOG=warn "$server" --port "$port" --data-dir "$data" --api-rate 1000000000 >"$data/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
until curl -s -o /dev/null "http://127.0.0.1:$port/health"; do sleep 0.2; done

token=$("$server" token --user bench --role analyst --port "$port" --data-dir "$data")
csv='date,sales,region\n2024-01-01,10,north\n2024-01-02,12.5,south\n2024-01-03,,north\n2024-01-04,11,north\n2024-01-05,13,south\n'
for i in $(seq 1 50); do
  curl -s -o /dev/null -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"name\":\"dataset $i\",\"csv\":\"$csv\"}" "http://127.0.0.1:$port/v1/datasets"
done
id=$(curl -s -H "authorization: Bearer $token" "http://127.0.0.1:$port/v1/datasets?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
count=$(curl -s -H "authorization: Bearer $token" "http://127.0.0.1:$port/v1/datasets?limit=50" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
[ "$count" = 50 ] || { echo "bench-list: expected 50 datasets in the list, got $count" >&2; exit 1; }

run() { # name path
  local out
  out=$(wrk -t2 -c32 -d"${seconds}s" --latency -H "authorization: Bearer $token" "http://127.0.0.1:$port$2")
  local rps p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '| %s | %s | %s | %s |\n' "$1" "$rps" "$p99" "${errors:-0}"
}
echo "| request | requests/s | p99 | non-2xx |"
echo "|---|---|---|---|"
run "GET /v1/me" "/v1/me"
run "GET /v1/datasets/{id}" "/v1/datasets/$id"
run "GET /v1/datasets?limit=50 (50 items)" "/v1/datasets?limit=50"
