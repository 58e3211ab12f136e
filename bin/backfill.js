#!/usr/bin/env node
// The `backfill` command: runs the compiled CLI (scripts/setup.sh builds it into lib/).
const path = require('node:path');
const fs = require('node:fs');
const cli = path.join(__dirname, '..', 'lib', 'src', 'client', 'cli.js');
if (!fs.existsSync(cli)) {
  console.error('backfill: not built yet; run scripts/setup.sh (or npm run build) first');
  process.exit(2);
}
require(cli).main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`backfill: ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  },
);
