#!/usr/bin/env bash
# README command 2: set up, then run every test (mocha, then pytest) and end with one
# "N passed, N failed" line over both.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || exit 2

mkdir -p .state
# Each test file runs in its own mocha process, so files share no Temporal Core runtime, test
# server or connection: in one process, the 3-year time-skipping test hung after the dev-server
# files had run (its workflow had completed; it passes on its own).
: > .state/mocha.log
mocha_rc=0 mocha_passed=0 mocha_failed=0
for file in test/*.test.ts test/aws/*.test.ts test/cli/*.test.ts; do
  node_modules/.bin/mocha "$file" 2>&1 | tee .state/mocha-file.log
  rc=${PIPESTATUS[0]}
  cat .state/mocha-file.log >> .state/mocha.log
  passed_here=$(grep -Eo '^ *[0-9]+ passing' .state/mocha-file.log | tail -1 | grep -Eo '[0-9]+' || echo 0)
  failed_here=$(grep -Eo '^ *[0-9]+ failing' .state/mocha-file.log | tail -1 | grep -Eo '[0-9]+' || echo 0)
  mocha_passed=$((mocha_passed + passed_here))
  mocha_failed=$((mocha_failed + failed_here))
  if [ "$rc" -ne 0 ]; then
    mocha_rc=$rc
    # A file that crashed before mocha's summary still counts as a failure.
    [ "$failed_here" -eq 0 ] && mocha_failed=$((mocha_failed + 1))
    echo "mocha: $file exited with $rc"
  fi
done

.venv/bin/python -m pytest spark_jobs -q -p no:cacheprovider 2>&1 | tee .state/pytest.log
pytest_rc=${PIPESTATUS[0]}
# pytest's closing line, e.g. "3 failed, 20 passed, 1 error in 5.1s"; errors count as failures.
summary=$(grep -E ' in [0-9.]+s' .state/pytest.log | tail -1)
count() { echo "$summary" | grep -Eo "[0-9]+ $1" | grep -Eo '[0-9]+' | awk '{s+=$1} END {print s+0}'; }
py_passed=$(count passed)
py_failed=$(( $(count failed) + $(count 'errors?') ))
# pytest exits 5 when it collects nothing: the rc check below fails the run then.

passed=$((mocha_passed + py_passed))
failed=$((mocha_failed + py_failed))
echo
echo "mocha: ${mocha_passed} passed, ${mocha_failed} failed; pytest: ${py_passed} passed, ${py_failed} failed"
echo "${passed} passed, ${failed} failed"
if [ "$mocha_rc" -ne 0 ] || [ "$pytest_rc" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
  exit 1
fi
