#!/usr/bin/env bash
# Build reloader._core with AddressSanitizer + UndefinedBehaviorSanitizer and
# run the test suite under it.
#
#   scripts/sanitize.sh [PYTEST ARGS...]        (default: the whole suite, -q)
#   RELOADER_PY=3.13 scripts/sanitize.sh        another CPython (default 3.12)
#
# The build happens in a copy of the checkout (default /tmp/reloader-asan-3.12,
# RELOADER_SAN_DIR overrides it), so the editable install of ./run is not
# touched. The interpreter itself is not instrumented, so:
#   LD_PRELOAD=libasan.so        the ASan runtime must come first in the process
#   ASAN_OPTIONS=detect_leaks=0  CPython does not free everything at exit
#   PYTHONMALLOC=malloc          objects come from malloc, where ASan sees them
#                                (pymalloc arenas would hide overflows and
#                                use-after-free inside CPython's own pools)
# UBSan is built with -fno-sanitize-recover, so the first report aborts.
# Exit status: pytest's; any sanitizer report makes it non-zero.
set -euo pipefail
. "$(dirname "$0")/_common.sh"
want=${RELOADER_PY:-3.12}
work=${RELOADER_SAN_DIR:-/tmp/reloader-asan-$want}
py=$(find_python "$want")
libasan=$(gcc -print-file-name=libasan.so)
[ -f "$libasan" ] || { echo "sanitize: libasan.so not found (gcc -print-file-name)" >&2; exit 2; }

make_copy "$work"
echo "sanitize: building with ASan + UBSan in $work (CPython $want)"
venv_install "$work" "$py" RELOADER_SANITIZE=1 RELOADER_DEBUG_BUILD=1 \
    CFLAGS="-fno-sanitize-recover=all" > "$work/build.log" 2>&1 || {
    cat "$work/build.log"; exit 2; }

export LD_PRELOAD="$libasan"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:print_summary=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
export PYTHONMALLOC=malloc
export PYTHONDONTWRITEBYTECODE=1
# check that the instrumented module is the one imported
(cd "$work/src" && "$work/venv/bin/python" -c '
import reloader._core as c, sys
so = c.__file__
assert b"__asan_init" in open(so, "rb").read(), so + " is not instrumented"
print("sanitize: using", so)')
cd "$work/src"
if [ $# -eq 0 ]; then set -- -q; fi
started=$(date +%s)
set +e
"$work/venv/bin/python" -m pytest -p no:cacheprovider "$@"
status=$?
set -e
echo "sanitize: pytest exit status $status after $(( $(date +%s) - started )) s (CPython $want)"
exit $status
