#!/usr/bin/env bash
# README command 1: set up, start the local Temporal dev server, generate the sample week if
# absent, and run a real local backfill of it (worker in-process), printing the report.
# Extra arguments go to `backfill run`, e.g. --overwrite or --feature-version v2.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/temporal-dev-server.sh

lake=${BACKFILL_SAMPLE_LAKE:-sample-lake}
if [ ! -d "$lake/bronze" ]; then
  echo "sample: generating one week of card authorizations into $lake/"
  .venv/bin/python scripts/generate_sample_data.py --lake "$lake" --start-date 2025-10-01 --days 7 \
    --events-per-day 2000 --cards 300 --seed 7
fi

exec node bin/backfill.js run --local --bucket "$lake" \
  --start-date 2025-10-01 --end-date 2025-10-07 --chunk-size-days 2 --feature-version v1 \
  --max-concurrent-chunks 2 "$@"
