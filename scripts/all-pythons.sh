#!/usr/bin/env bash
# Run the test suite (./run test) on every supported CPython and print one
# summary line per version.
#   scripts/all-pythons.sh [PYTEST ARGS...]      (default: -q)
#   RELOADER_VERSIONS="3.12 3.13" scripts/all-pythons.sh
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
versions=${RELOADER_VERSIONS:-"3.10 3.11 3.12 3.13"}
if [ $# -eq 0 ]; then set -- -q; fi
out=${RELOADER_LOG_DIR:-/tmp/reloader-all-pythons}
mkdir -p "$out"
status=0
summary=()
for v in $versions; do
    log="$out/$v.log"
    echo "=== CPython $v (log: $log)"
    start=$(date +%s)
    RELOADER_PY=$v "$here/run" test -p no:cacheprovider "$@" > "$log" 2>&1
    rc=$?
    [ $rc -eq 0 ] || status=1
    line=$(grep -E "^(=+ )?[0-9]+ (passed|failed)|[0-9]+ (passed|failed|error)" "$log" | tail -n 1)
    summary+=("CPython $v: rc=$rc $(( $(date +%s) - start ))s  $line")
    grep -E "^(FAILED|ERROR) " "$log" | sed 's/^/    /'
done
printf '%s\n' "${summary[@]}"
exit $status
