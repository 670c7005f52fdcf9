#!/bin/bash
# refcount used as a meson subproject: a scratch consumer project
# (consumer-meson.build, and tests/installed/consumer.c as its program) with
# this source tree as subprojects/refcount, configured so that it must take
# the fallback even where a refcount-1 is installed, built and run.
#   run-subproject-test.sh SOURCE_DIR
set -euo pipefail

source_dir=$(cd "$1" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

project=$scratch/consumer
mkdir -p "$project/subprojects"
cp "$source_dir/tests/subproject/consumer-meson.build" "$project/meson.build"
cp "$source_dir/tests/installed/consumer.c" "$project/consumer.c"
ln -s "$source_dir" "$project/subprojects/refcount"

if ! meson setup "$scratch/build" "$project" --force-fallback-for=refcount-1 \
       >"$scratch/setup.log" 2>&1; then
  cat "$scratch/setup.log"
  echo "subproject: meson setup of the consumer failed"
  exit 1
fi
# meson says "Dependency refcount-1 [for host machine] found: YES 0.1.0
# (overridden)" once the subproject's override_dependency() provided it.
grep -E "^Executing subproject refcount|^Dependency refcount-1 " "$scratch/setup.log"
grep -qE "^Dependency refcount-1 .*found: YES .*\(overridden\)" "$scratch/setup.log" \
  || { cat "$scratch/setup.log"; echo "subproject: refcount-1 did not come from the subproject"; exit 1; }

# Only what the consumer needs: the library, not the subproject's tests.
ninja -C "$scratch/build" consumer >"$scratch/build.log" 2>&1 \
  || { cat "$scratch/build.log"; echo "subproject: the build failed"; exit 1; }

"$scratch/build/consumer"
libraries=$(ldd "$scratch/build/consumer")
grep -q "$scratch/build/subprojects/refcount/src/librefcount-1.so" <<<"$libraries" \
  || { echo "$libraries"; echo "subproject: the consumer does not use the subproject's library"; exit 1; }
echo "subproject: consumer built against subprojects/refcount and run"
