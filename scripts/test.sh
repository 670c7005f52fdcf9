#!/bin/bash
# Builds refcount from scratch and runs the whole test suite:
#  1. every suite (C, examples, gtk-doc coverage check, installed consumer),
#  2. the C suites and the examples under valgrind memcheck,
#  3. the C suites and the examples in an AddressSanitizer +
#     UndefinedBehaviorSanitizer build.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

jobs=$(nproc)

echo "== build and full test suite (build-test/)"
rm -rf build-test
meson setup build-test >/dev/null
meson test -C build-test --print-errorlogs --num-processes "$jobs"

echo "== valgrind memcheck (build-test/, setup 'valgrind')"
meson test -C build-test --setup valgrind --suite c \
  --print-errorlogs --num-processes "$jobs"

echo "== AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)"
rm -rf build-asan
meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
  -Dintrospection=false -Dgtk_doc=false -Dinstalled_tests=false >/dev/null
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --suite c --print-errorlogs --num-processes "$jobs"

echo "== summary of the three runs"
/usr/bin/python3 scripts/test-summary.py build-test/meson-logs/testlog.json \
  build-test/meson-logs/testlog-valgrind.json build-asan/meson-logs/testlog.json
