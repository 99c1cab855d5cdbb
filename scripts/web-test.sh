#!/usr/bin/env bash
# The web app's checks: the type check and build, then the browser tests (Playwright
# driving the system Chromium headless) against a local server of this checkout's
# devserver. Screenshots of each screen land in web/test-results/screens/.
set -euo pipefail
cd "$(dirname "$0")/.."

chromium=${CHROMIUM_PATH:-$(command -v chromium || true)}
if [ -z "$chromium" ]; then
  echo "web-test: Chromium is missing: scripts/install-tools.sh installs Debian's \`chromium\` (or set CHROMIUM_PATH)" >&2
  exit 1
fi
export CHROMIUM_PATH=$chromium

bash scripts/build-web.sh
# --workspace: the feature set `cargo test --workspace` built with, so nothing is rebuilt.
cargo build --locked -q --workspace --bin devserver
export FORECAST_DEVSERVER="$PWD/target/debug/devserver"
cd web
npx playwright test
