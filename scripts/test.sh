#!/usr/bin/env bash
# README command 2: set up, lint (ESLint, Prettier, ruff), then run every test (mocha, then pytest) and end
# with one "N passed, N failed" line over all of them; each linter counts as one check.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || exit 2

mkdir -p .state
lint_passed=0 lint_failed=0 lint_report=""
lint() {
  echo "lint: $1"
  if "${@:2}"; then lint_passed=$((lint_passed + 1)); lint_report+="${lint_report:+, }$1 ok"
  else lint_failed=$((lint_failed + 1)); lint_report+="${lint_report:+, }$1 FAILED"; fi
}
lint eslint npm run --silent lint   # eslint.config.mjs, over src, test and bench
lint prettier npm run --silent format:check  # .prettierrc.json, TypeScript layout
lint ruff npm run --silent lint:py  # ruff.toml, over spark_jobs, scripts and bench

# Each mocha file in its own process, two at once (TEST_LANES=1: one), and pytest as one more item.
lanes=${TEST_LANES:-2}
rm -f .state/pytest.log .state/pytest.log.rc
if [ "$lanes" -ge 2 ]; then PYTEST_LOG=.state/pytest.log scripts/mocha-each.sh; else scripts/mocha-each.sh; fi
mocha_rc=$?
mocha_summary=$(grep -E '^mocha: [0-9]+ passed, [0-9]+ failed$' .state/mocha.log | tail -1)
mocha_passed=$(echo "$mocha_summary" | grep -Eo '[0-9]+ passed' | grep -Eo '[0-9]+' || echo 0)
mocha_failed=$(echo "$mocha_summary" | grep -Eo '[0-9]+ failed' | grep -Eo '[0-9]+' || echo 0)

if [ -f .state/pytest.log.rc ]; then
  read -r pytest_rc _ < .state/pytest.log.rc
else
  .venv/bin/python -m pytest spark_jobs -q -p no:cacheprovider 2>&1 | tee .state/pytest.log
  pytest_rc=${PIPESTATUS[0]}
fi
# pytest's closing line, e.g. "3 failed, 20 passed, 1 error in 5.1s"; errors count as failures.
summary=$(grep -E ' in [0-9.]+s' .state/pytest.log | tail -1)
count() { echo "$summary" | grep -Eo "[0-9]+ $1" | grep -Eo '[0-9]+' | awk '{s+=$1} END {print s+0}'; }
py_passed=$(count passed)
py_failed=$(( $(count failed) + $(count 'errors?') ))
# A pytest that died before its summary (say, killed) still counts as a failure.
[ "$pytest_rc" -ne 0 ] && [ "$py_failed" -eq 0 ] && py_failed=1
# pytest exits 5 when it collects nothing: the rc check below fails the run then.

# pytest's failures once more at the end, where a log read from its tail shows them.
if [ "$py_failed" -ne 0 ]; then echo "---- pytest: its last lines (whole output in .state/pytest.log)"; tail -60 .state/pytest.log; fi

passed=$((lint_passed + mocha_passed + py_passed))
failed=$((lint_failed + mocha_failed + py_failed))
echo
echo "lint: ${lint_report}; mocha: ${mocha_passed} passed, ${mocha_failed} failed; pytest: ${py_passed} passed, ${py_failed} failed"
echo "${passed} passed, ${failed} failed"
if [ "$lint_failed" -ne 0 ] || [ "$mocha_rc" -ne 0 ] || [ "$pytest_rc" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
  exit 1
fi
