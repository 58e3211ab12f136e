#!/usr/bin/env bash
# Builds the compiled JavaScript (lib/, or the folder given) incrementally, then removes what a moved or
# deleted source left there: Node resolves `./ingest` to a stale lib/.../ingest.js before the
# ingest/index.js that replaced it, so a worker built over an older tree would run old code or crash.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-lib}
npx tsc -p tsconfig.json --incremental --outDir "$out" --tsBuildInfoFile "$out/.tsbuildinfo"
find "$out" -type f \( -name '*.js' -o -name '*.js.map' \) -print0 |
  while IFS= read -r -d '' built; do
    rel=${built#"$out"/}
    source=${rel%.map}
    source=${source%.js}.ts
    [ -f "$source" ] || rm -f "$built"
  done
