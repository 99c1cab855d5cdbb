#!/usr/bin/env bash
# The local server on the production adapters: starts DynamoDB Local and the moto server
# on loopback (installing them on first run), then serves the whole API on DynamoDB and S3
# until Ctrl-C, and stops what it started. Extra arguments go to the server
# (e.g. --port 3001). Tokens: `cargo run -p devserver -- token --user alice --role analyst`.
set -euo pipefail

# shellcheck source=scripts/services.sh
source "$(dirname "$0")/services.sh"
start_services
echo "serve-aws-local: DynamoDB Local at $DYNAMODB_URL, moto S3 at $S3_URL (logs in $logs)" >&2
FORECAST_DYNAMODB_URL="$DYNAMODB_URL" FORECAST_S3_URL="$S3_URL" cargo run -p devserver -- serve --backend aws-local "$@"
