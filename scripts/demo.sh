#!/bin/bash
# Builds refcount and runs the examples: the dog, its owner and their counts,
# in C and then in Python (pyrefcount's sample classes on refcount).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
[ -f build-demo/build.ninja ] || meson setup build-demo -Dgtk_doc=false >/dev/null
ninja -C build-demo >/dev/null

echo "== examples/dog-walk.c"
./build-demo/examples/dog-walk

echo
echo "== examples/dog_walk.py"
GI_TYPELIB_PATH=build-demo/src \
LD_LIBRARY_PATH=build-demo/src \
PYTHONPATH=python:build-demo/python \
PYTHONDONTWRITEBYTECODE=1 \
RC_TEST_NATIVE_LIB=build-demo/tests/testlib/librc-test-native.so \
  /usr/bin/python3 examples/dog_walk.py
