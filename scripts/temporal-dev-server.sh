#!/usr/bin/env bash
# Starts the local Temporal dev server (Web UI on :8233) in the background unless one answers
# already. State is kept in .state/temporal.db, so backfills survive a restart of the server.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .state
address=${TEMPORAL_ADDRESS:-127.0.0.1:7233}
port=${address##*:}

if .venv/bin/temporal operator cluster health --address "$address" >/dev/null 2>&1; then
  exit 0
fi
# One --dynamic-config-value per KEY=VALUE line of the shared file (comments and blanks skipped).
dynamic_config=()
while IFS= read -r line; do
  [[ -z "$line" || "$line" == \#* ]] && continue
  dynamic_config+=(--dynamic-config-value "$line")
done < scripts/temporal-dev-server.dynamic-config
echo "temporal: starting the dev server on $address (Web UI http://localhost:8233), log .state/temporal.log"
nohup .venv/bin/temporal server start-dev \
  --ip 127.0.0.1 --port "$port" --ui-port 8233 \
  --db-filename .state/temporal.db \
  --log-level warn \
  "${dynamic_config[@]}" \
  --search-attribute BackfillFeatureGroup=Keyword \
  --search-attribute BackfillFeatureVersion=Keyword \
  --search-attribute BackfillStatus=Keyword \
  --search-attribute BackfillChunksDone=Int \
  --search-attribute BackfillChunksTotal=Int \
  > .state/temporal.log 2>&1 &
echo $! > .state/temporal.pid
for _ in $(seq 1 60); do
  if .venv/bin/temporal operator cluster health --address "$address" >/dev/null 2>&1; then exit 0; fi
  sleep 1
done
echo "temporal: the dev server did not come up within 60 s; see .state/temporal.log" >&2
exit 1
