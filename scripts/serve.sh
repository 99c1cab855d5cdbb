#!/usr/bin/env bash
# The README's run command: builds the web app if needed, then runs the local server on
# the embedded default (the app at http://127.0.0.1:3000/, the API beside it). Arguments
# go to the server: `bash scripts/serve.sh --port 3001`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-web.sh
exec cargo run -q -p devserver -- "$@"
