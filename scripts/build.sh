#!/usr/bin/env bash
# Builds the compiled JavaScript (lib/, or a folder outside the repository) incrementally, then removes
# what a moved or deleted source left there: Node resolves `./ingest` to a stale lib/.../ingest.js
# before the ingest/index.js that replaced it, so a worker built over an older tree would run old code
# or crash. `npm run build` runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-lib}
out=${out%/}
case "$(realpath -m "$out")" in
  "$PWD/lib") ;;
  "$PWD" | "$PWD"/*) echo "build: the output folder is lib/ or one outside the repository, not $out" >&2; exit 2 ;;
esac
npx tsc -p tsconfig.json --incremental --outDir "$out" --tsBuildInfoFile "$out/.tsbuildinfo"
# %P: the path relative to $out, whatever its spelling.
find "$out" -type f \( -name '*.js' -o -name '*.js.map' \) -printf '%P\0' |
  while IFS= read -r -d '' rel; do
    source=${rel%.map}
    source=${source%.js}.ts
    [ -f "$source" ] || rm -f "$out/$rel"
  done
