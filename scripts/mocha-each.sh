#!/usr/bin/env bash
# Runs each mocha test file in its own process, so files share no Temporal Core runtime, test
# server or connection: in one process, the 3-year time-skipping test hung after the dev-server
# files had run (its workflow had completed; it passes on its own).
# Files run in TEST_LANES parallel lanes (default 2; TEST_LANES=1 runs one file at a time): most
# files spend their time waiting on servers, Spark start-up and timers, not on the CPU. Every file picks its own free ports and temporary
# directories. The slowest files start first, so no lane is left with one at the end; the two heaviest
# in CPU (the fault schedules and the kill test, both with worker processes and spark-submit) are
# apart in the order so that they rarely run together. Files: the arguments, or every test file. With
# PYTEST_LOG set, the pytest run of spark_jobs is one more item of the lanes (its output to that file, its
# exit code and seconds to <file>.rc); it is not counted here. Each file's output is printed whole when it
# ends; everything also goes to .state/mocha.log (in file order), whose last line is
# "mocha: N passed, N failed", and the seconds per file to .state/mocha-times.log. The failing files'
# failures are printed once more at the end, where a log read from its tail shows them. Exit 1 when
# any file failed.
set -uo pipefail
cd "$(dirname "$0")/.."
files=("$@")
[ ${#files[@]} -eq 0 ] && files=(test/*.test.ts test/aws/*.test.ts test/cli/*.test.ts)
lanes=${TEST_LANES:-2}
out=.state/mocha
rm -rf "$out" && mkdir -p "$out"

# The files that take minutes (dev server, worker processes, spark-submit), longest first.
SLOW_FIRST=(test/faults.test.ts test/aws/emr-deploys.test.ts test/aws/emr-shutdown.test.ts test/durability.test.ts
  test/cli/local.test.ts test/e2e-local.test.ts test/workflow.test.ts test/self-healing.test.ts
  test/publish-paths.test.ts test/aws/emr-runs.test.ts test/web-ui.test.ts)

ordered() {
  local f s n=0
  for s in "${SLOW_FIRST[@]}"; do for f in "${files[@]}"; do [ "$f" = "$s" ] && echo "$f"; done
    # PYTEST_LOG: pytest joins the lanes as one more item (about as long as the third slowest file).
    n=$((n + 1)); [ "$n" -eq 2 ] && [ -n "${PYTEST_LOG:-}" ] && echo pytest
  done
  for f in "${files[@]}"; do [[ " ${SLOW_FIRST[*]} " == *" $f "* ]] || echo "$f"; done
}

run_one() {
  local file=$1 log started rc
  log="$out/$(echo "$file" | tr '/' '_').log"
  [ "$file" = pytest ] && log=$PYTEST_LOG
  started=$SECONDS
  if [ "$file" = pytest ]; then
    .venv/bin/python -m pytest spark_jobs -q -p no:cacheprovider > "$log" 2>&1
  else
    node_modules/.bin/mocha "$file" > "$log" 2>&1
  fi
  rc=$?
  echo "$rc $((SECONDS - started))" > "$log.rc"
  # One file's output at a time on the terminal.
  flock "$out/.print" cat "$log"
}
export -f run_one
export out PYTEST_LOG

ordered | xargs -P "$lanes" -I{} bash -c 'run_one "$1"' _ {}

: > .state/mocha.log
: > .state/mocha-times.log
passed=0 failed=0
failed_logs=()
for file in "${files[@]}"; do
  log="$out/$(echo "$file" | tr '/' '_').log"
  read -r rc secs < "$log.rc" 2>/dev/null || { rc=1 secs=0; }
  cat "$log" >> .state/mocha.log 2>/dev/null
  echo "$secs $file" >> .state/mocha-times.log
  passed_here=$(grep -Eo '^ *[0-9]+ passing' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
  failed_here=$(grep -Eo '^ *[0-9]+ failing' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
  passed=$((passed + passed_here))
  failed=$((failed + failed_here))
  if [ "$rc" -ne 0 ]; then
    # A file that crashed before mocha's summary still counts as a failure.
    [ "$failed_here" -eq 0 ] && failed=$((failed + 1))
    echo "mocha: $file exited with $rc" | tee -a .state/mocha.log
    failed_logs+=("$log")
  fi
done
# The failures once more at the end, where a log read from its tail (a CI summary) shows them.
for log in ${failed_logs[@]+"${failed_logs[@]}"}; do
  echo "---- $(basename "$log" .log): its failures (whole output above and in $log)"
  if grep -qE '^ *[0-9]+ failing' "$log"; then
    sed -n '/^ *[0-9][0-9]* failing/,$p' "$log" | head -80
  else
    tail -40 "$log"
  fi
done
echo "mocha: ${passed} passed, ${failed} failed" | tee -a .state/mocha.log
[ "$failed" -eq 0 ]
