#!/usr/bin/env bash
# Runs one command with DynamoDB Local and moto up, their URLs exported as the tests read
# them, and stops both afterwards: for running part of the suite by hand.
#
# usage: scripts/with-services.sh cargo test -p api-tests --test adapters counters
set -euo pipefail

# shellcheck source=scripts/services.sh
source "$(dirname "$0")/services.sh"
start_services
export FORECAST_TEST_DYNAMODB_URL="$DYNAMODB_URL" FORECAST_TEST_S3_URL="$S3_URL"
"$@"
