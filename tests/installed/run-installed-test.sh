#!/bin/bash
# Installs the project (building what meson test did not need, such as the
# GIR and the HTML reference) into a scratch directory and builds a small
# program against that copy alone, through pkg-config, then checks what else
# an install must hold (GIR, typelib, HTML reference).
#   run-installed-test.sh BUILD_DIR SOURCE_DIR CC [PYTHON [VALAC]]
set -euo pipefail

build_dir=$1
source_dir=$2
cc=$3
python=${4:-}
valac=${5:-}

destdir=$(mktemp -d)
trap 'rm -rf "$destdir"' EXIT

if ! meson install -C "$build_dir" --quiet --destdir "$destdir" >"$destdir.log" 2>&1; then
  cat "$destdir.log"; rm -f "$destdir.log"
  echo "meson install failed"
  exit 1
fi
rm -f "$destdir.log"

pcfile=$(find "$destdir" -name refcount-1.pc | head -n 1)
[ -n "$pcfile" ] || { echo "refcount-1.pc was not installed"; exit 1; }
# Point a copy of the installed .pc file at the scratch install; its
# dependencies (GLib) stay where the system has them, so neither
# --define-variable nor PKG_CONFIG_SYSROOT_DIR, which apply to all, will do.
mkdir "$destdir/pc"
sed -e "s|^prefix=|prefix=$destdir|" "$pcfile" > "$destdir/pc/refcount-1.pc"
export PKG_CONFIG_PATH=$destdir/pc

echo "pkg-config refcount-1: $(pkg-config --modversion refcount-1)"
# shellcheck disable=SC2046
"$cc" -o "$destdir/consumer" "$source_dir/tests/installed/consumer.c" \
  $(pkg-config --cflags --libs refcount-1)

libdir=$(dirname "$(find "$destdir" -name 'librefcount-1.so' | head -n 1)")
LD_LIBRARY_PATH=$libdir "$destdir/consumer"

# The consumer must not have picked the build tree's library by accident.
# (Not `ldd | grep -q`: grep leaving early would fail ldd, and with it the
# pipeline, under pipefail.)
libraries=$(LD_LIBRARY_PATH=$libdir ldd "$destdir/consumer")
grep -q "$destdir" <<<"$libraries" \
  || { echo "consumer is not linked against the installed library"; exit 1; }

for f in Refcount-1.0.gir Refcount-1.0.typelib refcount.h rc-version.h rc-enum-types.h; do
  [ -n "$(find "$destdir" -name "$f")" ] || { echo "$f was not installed"; exit 1; }
  echo "installed: $f"
done
if [ "${RC_EXPECT_DOCS:-1}" = 1 ]; then
  [ -n "$(find "$destdir" -path '*refcount*' -name index.html)" ] \
    || { echo "the HTML reference was not installed"; exit 1; }
  echo "installed: HTML reference"
fi
if [ -n "$python" ]; then
  # The Python layer from the installed prefix alone: the typelib, the
  # overrides and the refcount package, none from the source tree.
  override=$(find "$destdir" -path '*/gi/overrides/Refcount.py' | head -n 1)
  [ -n "$override" ] || { echo "the PyGObject overrides were not installed"; exit 1; }
  site=${override%/gi/overrides/Refcount.py}
  [ -f "$site/refcount/interop.py" ] || { echo "the refcount package was not installed beside them"; exit 1; }
  typelib=$(dirname "$(find "$destdir" -name Refcount-1.0.typelib | head -n 1)")
  (cd "$destdir" && env -u PYTHONPATH PYTHONPATH="$site" GI_TYPELIB_PATH="$typelib" \
     LD_LIBRARY_PATH="$libdir" PYTHONDONTWRITEBYTECODE=1 "$python" - "$destdir" <<'PY'
import sys
destdir = sys.argv[1]
import gi
gi.require_version("Refcount", "1.0")
from gi.repository import Refcount
import refcount.interop
overrides = sys.modules["gi.overrides.Refcount"].__file__
assert overrides.startswith(destdir), overrides
assert refcount.interop.__file__.startswith(destdir), refcount.interop.__file__
calls = []
handle = Refcount.DeletableNativeHandle(1234, calls.append, "INT")
handle.release()
assert calls == [1234] and handle.disposed, calls
print("installed python: overrides from", overrides)
print("installed python: refcount from", refcount.interop.__file__)
fast = sys.modules.get("gi.overrides._refcount_fast")
assert fast is not None and fast.__file__.startswith(destdir), fast
print("installed python: C accelerator from", fast.__file__)
PY
  )
fi
if [ -n "$valac" ]; then
  # The VAPI from the installed prefix alone; gobject-2.0 comes from
  # refcount-1.deps, the C flags from the installed refcount-1.pc.
  for f in refcount-1.vapi refcount-1.deps; do
    [ -n "$(find "$destdir" -name "$f")" ] || { echo "$f was not installed"; exit 1; }
    echo "installed: $f"
  done
  vapidir=$(dirname "$(find "$destdir" -name refcount-1.vapi | head -n 1)")
  (cd "$destdir" && "$valac" --quiet --vapidir="$vapidir" --pkg refcount-1 \
     -o "$destdir/consumer-vala" "$source_dir/tests/installed/consumer.vala" -X -w)
  LD_LIBRARY_PATH=$libdir "$destdir/consumer-vala"
fi
echo "installed-consumer: ok"
