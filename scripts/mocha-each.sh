#!/usr/bin/env bash
# Runs each mocha test file in its own process, so files share no Temporal Core runtime, test
# server or connection: in one process, the 3-year time-skipping test hung after the dev-server
# files had run (its workflow had completed; it passes on its own).
# Files: the arguments, or every test file. Output goes to the terminal and .state/mocha.log, whose
# last line is "mocha: N passed, N failed"; the exit code is 1 when any file failed.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .state
files=("$@")
[ ${#files[@]} -eq 0 ] && files=(test/*.test.ts test/aws/*.test.ts test/cli/*.test.ts)

: > .state/mocha.log
: > .state/mocha-times.log
passed=0 failed=0
for file in "${files[@]}"; do
  started=$SECONDS
  node_modules/.bin/mocha "$file" 2>&1 | tee .state/mocha-file.log
  rc=${PIPESTATUS[0]}
  # Seconds per file, to see where the suite's time goes (docs/development.md).
  echo "$((SECONDS - started)) $file" >> .state/mocha-times.log
  cat .state/mocha-file.log >> .state/mocha.log
  passed_here=$(grep -Eo '^ *[0-9]+ passing' .state/mocha-file.log | tail -1 | grep -Eo '[0-9]+' || echo 0)
  failed_here=$(grep -Eo '^ *[0-9]+ failing' .state/mocha-file.log | tail -1 | grep -Eo '[0-9]+' || echo 0)
  passed=$((passed + passed_here))
  failed=$((failed + failed_here))
  if [ "$rc" -ne 0 ]; then
    # A file that crashed before mocha's summary still counts as a failure.
    [ "$failed_here" -eq 0 ] && failed=$((failed + 1))
    echo "mocha: $file exited with $rc" | tee -a .state/mocha.log
  fi
done
echo "mocha: ${passed} passed, ${failed} failed" | tee -a .state/mocha.log
[ "$failed" -eq 0 ]
