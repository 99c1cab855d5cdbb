#!/usr/bin/env bash
# The one test command (README, CI): installs what is missing, starts DynamoDB Local and
# the moto server on loopback, runs formatting, lints, every test, the template checks,
# the web app's browser tests, the OpenAPI-driven fuzzing and the fuzz targets, then stops
# exactly the processes it started.
set -euo pipefail

# shellcheck source=scripts/services.sh
source "$(dirname "$0")/services.sh"

step() { printf '\n==> %s\n' "$*" >&2; }

step "starting DynamoDB Local and moto on loopback"
start_services
export FORECAST_TEST_DYNAMODB_URL="$DYNAMODB_URL" FORECAST_TEST_S3_URL="$S3_URL"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (workspace lints: no unwrap/expect/panic outside tests)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cfn-lint template.yaml"
"$tools/venv/bin/cfn-lint" template.yaml

step "cargo test"
cargo test --workspace --locked 2>&1 | tee "$logs/cargo-test.log"

step "API tests again, on the DynamoDB and S3 adapters (DynamoDB Local, moto)"
# --workspace, as above: the same feature set, so nothing is compiled again.
FORECAST_TEST_BACKEND=aws-local cargo test --locked --workspace --test api 2>&1 | tee -a "$logs/cargo-test.log"

step "the web app: type check, build, and its browser tests in headless Chromium"
bash scripts/web-test.sh 2>&1 | tee "$logs/web-test.log"

step "schemathesis against /openapi.json on the local server, a token per role"
bash scripts/api-conformance.sh

step "fuzzing the CSV inspector, timestamp parser, token verifier and cursor opener (20 s each)"
bash scripts/fuzz.sh 20

# One closing line for the whole run: cargo prints a result line per test binary.
# Playwright prints one summary line ("  10 passed (21.0s)"); it is counted with cargo's.
grep -E '^\s+[0-9]+ (passed|failed|skipped|flaky)' "$logs/web-test.log" | awk '{ print "test result: web. " $1 " " $2 ";" }' >> "$logs/cargo-test.log" || true
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;/) p += $i; if ($(i+1) ~ /^failed;/) f += $i; if ($(i+1) ~ /^ignored;/) s += $i } }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$logs/cargo-test.log"
