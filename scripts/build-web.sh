#!/usr/bin/env bash
# Builds the web app into web/dist/ when it is missing or older than its sources:
# `npm ci` when web/node_modules is missing or older than the lock file, then the type
# check and `vite build`. A second run with nothing changed does nothing.
set -euo pipefail
cd "$(dirname "$0")/../web"

command -v npm >/dev/null 2>&1 || { echo "build-web: npm (Node 20.19 or later) is required" >&2; exit 1; }

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  echo "build-web: installing the web app's dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules
fi

if [ ! -f dist/index.html ] || [ -n "$(find index.html src public package.json vite.config.ts tsconfig.json -newer dist/index.html -print -quit)" ]; then
  echo "build-web: building web/dist" >&2
  npm run --silent build
fi
