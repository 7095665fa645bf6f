#!/usr/bin/env bash
# Run the test suite under valgrind memcheck, against a debug build of
# reloader._core (-O0 -g3, assertions on).
#
#   scripts/memcheck.sh [PYTEST ARGS...]
#   RELOADER_PY=3.13 scripts/memcheck.sh     another CPython (default 3.12)
#
# Default selection: every test except the slow leak checks, the 50 MB
# sources, the subprocess-based leak test and the thread test that needs 500
# reloads within 120 s, with the "sanitize" hypothesis profile (a few dozen
# generated examples): about 20 minutes for CPython 3.12 on two cores. PYTHONMALLOC=malloc makes every object a malloc block that
# memcheck tracks (pymalloc arenas would hide invalid reads in them and trip
# its uninitialised-read heuristics). Suppressions for CPython and the
# dynamic loader: scripts/valgrind-python.supp. Only errors are counted
# (leak checking is off: CPython does not free everything at exit).
# Valgrind logs go to DIR/valgrind.log (DIR: /tmp/reloader-memcheck-3.12,
# RELOADER_MEMCHECK_DIR overrides it). Exit status: non-zero on any
# memcheck error or test failure.
set -euo pipefail
. "$(dirname "$0")/_common.sh"
want=${RELOADER_PY:-3.12}
work=${RELOADER_MEMCHECK_DIR:-/tmp/reloader-memcheck-$want}
py=$(find_python "$want")
command -v valgrind >/dev/null || { echo "memcheck: valgrind not installed" >&2; exit 2; }

make_copy "$work"
echo "memcheck: debug build in $work (CPython $want)"
venv_install "$work" "$py" RELOADER_DEBUG_BUILD=1 > "$work/build.log" 2>&1 || {
    cat "$work/build.log"; exit 2; }

export PYTHONMALLOC=malloc
export PYTHONDONTWRITEBYTECODE=1
export RELOADER_HYPOTHESIS_PROFILE=${RELOADER_HYPOTHESIS_PROFILE:-sanitize}
cd "$work/src"
if [ $# -eq 0 ]; then
    set -- -q -m "not leaks" -k "not fifty_megabyte and not test_repeated_reloads and not test_threads_never_see_a_mix_of_versions"
fi
log="$work/valgrind.log"
rm -f "$log"
started=$(date +%s)
set +e
valgrind --tool=memcheck --error-exitcode=99 --leak-check=no \
    --suppressions="$here/scripts/valgrind-python.supp" --num-callers=40 \
    --log-file="$log" \
    "$work/venv/bin/python" -m pytest -p no:cacheprovider "$@"
status=$?
set -e
errors=$(grep -E "ERROR SUMMARY" "$log" | tail -n 1)
echo "memcheck: $errors"
echo "memcheck: exit status $status after $(( $(date +%s) - started )) s (CPython $want, log $log)"
if [ $status -eq 99 ]; then
    grep -E "^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|Source and)" "$log" \
        | sort | uniq -c | sort -rn | head -n 20
fi
exit $status
