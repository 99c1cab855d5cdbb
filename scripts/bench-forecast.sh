#!/usr/bin/env bash
# Accuracy and speed of the forecast engine against statsforecast's AutoETS on public
# series shipped inside PyPI packages. Outside CI: installs statsforecast and pmdarima
# into .tools/bench-venv, builds the engine's driver in release, prints a markdown table
# for BENCHMARKS.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# Through the real path: .tools/ may be a link to a folder every clone shares.
mkdir -p "$root/.tools"
venv="$(cd "$root/.tools" && pwd -P)/bench-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import statsforecast, pmdarima' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "statsforecast==2.*" "pmdarima==2.*"
fi
cargo build --release -q -p benches --bin forecast-compare
"$venv/bin/python" benches/statsforecast/compare.py "$root/target/release/forecast-compare" "${1:-5}"
