#!/bin/bash
# Builds refcount and runs the examples: the dog, its owner and their counts,
# in C and then in Python (pyrefcount's sample classes on refcount); then the
# same story through Kennel (tests/gilib), a GObject library built on
# refcount, from Python and from JavaScript (GJS).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
[ -f build-demo/build.ninja ] || meson setup build-demo -Dgtk_doc=false -Dgjs=enabled >/dev/null
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

echo
echo "== examples/kennel_walk.py (Kennel, a GObject library on refcount)"
GI_TYPELIB_PATH=build-demo/src:build-demo/tests/gilib \
LD_LIBRARY_PATH=build-demo/src:build-demo/tests/gilib:build-demo/tests/testlib \
PYTHONPATH=python:build-demo/python \
PYTHONDONTWRITEBYTECODE=1 \
  /usr/bin/python3 examples/kennel_walk.py

echo
echo "== examples/kennel-walk.js (the same, from GJS)"
GI_TYPELIB_PATH=build-demo/src:build-demo/tests/gilib \
LD_LIBRARY_PATH=build-demo/src:build-demo/tests/gilib:build-demo/tests/testlib \
  gjs examples/kennel-walk.js
