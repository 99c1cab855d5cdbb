#!/usr/bin/env bash
# The web app's figures for BENCHMARKS.md: bundle size (raw and gzipped) and time to first
# chart on a local server (the debug build `scripts/serve.sh` runs, on a fresh data folder).
# usage: scripts/bench-web.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
bash scripts/build-web.sh
(cd web && node bench/bundle-size.mjs)
cargo build --locked -q --workspace --bin devserver
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
target/debug/devserver serve --port "$port" --data-dir "$data" --web-dir web/dist > "$data/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do grep -q "temporary password" "$data/server.log" && break; sleep 0.2; done
password=$(sed -n 's/.*temporary password: \(\S*\).*/\1/p' "$data/server.log" | head -n1)
(cd web && node bench/first-chart.mjs "http://127.0.0.1:$port" "$password" "$runs")
