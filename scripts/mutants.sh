#!/usr/bin/env bash
# Mutation testing of the security core with cargo-mutants: the token crate (shared/auth),
# the request's principal (shared/src/auth), the policy engine's wrapper (authz), the HTTP
# edge (http: routes, CORS, headers, conditional requests, problem responses) and the
# request audit (audit). Each mutant is built and the tests that guard it run: the unit
# tests of auth and shared, and the api-tests package (the API suite and the adapter
# contracts; both need DynamoDB Local and moto, which this script starts).
#
# About a minute a mutant on two cores, so it is not part of scripts/test.sh. The outcome
# is in mutants.out/ (git-ignored): caught.txt, missed.txt, timeout.txt, unviable.txt.
#
# cargo-mutants copies the tree for each job when the job starts: run it from a clone that
# nothing edits meanwhile (`git clone . /tmp/m && cd /tmp/m && bash scripts/mutants.sh`).
#
# usage: scripts/mutants.sh [EXTRA cargo-mutants ARGS...]   e.g. --file shared/src/authz.rs
set -euo pipefail

# shellcheck source=scripts/services.sh
source "$(dirname "$0")/services.sh"
start_services
export FORECAST_TEST_DYNAMODB_URL="$DYNAMODB_URL" FORECAST_TEST_S3_URL="$S3_URL"
export PATH="$tools/cargo/bin:$PATH"

# Not part of the test tools: installed on first use, pinned like them.
CARGO_MUTANTS_VERSION=27.1.0
if ! cargo mutants --version 2>/dev/null | grep -q "$CARGO_MUTANTS_VERSION"; then
  echo "mutants: building cargo-mutants $CARGO_MUTANTS_VERSION into .tools/cargo (a few minutes)" >&2
  cargo install --quiet --locked cargo-mutants --version "$CARGO_MUTANTS_VERSION" --root "$tools/cargo"
fi

files=(--file 'shared/auth/src/**' --file 'shared/src/auth/**' --file shared/src/authz.rs
  --file 'shared/src/http/**' --file shared/src/audit.rs)
[ $# -gt 0 ] && files=()
# An explicit timeout: the baseline runs only the tests of the package the mutated files
# are in, so the timeout cargo-mutants would derive from it is far too short.
cargo mutants "${files[@]}" "$@" \
  --test-package auth --test-package shared --test-package api-tests \
  --jobs 2 --no-shuffle --output "$root" --timeout 300
