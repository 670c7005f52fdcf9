#!/bin/bash
# Builds refcount and runs the examples: the dog, its owner and their counts.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
[ -f build-demo/build.ninja ] || meson setup build-demo -Dgtk_doc=false >/dev/null
ninja -C build-demo examples/dog-walk >/dev/null

echo "== examples/dog-walk (C)"
./build-demo/examples/dog-walk
