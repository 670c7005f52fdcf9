#!/bin/bash
# A default install just works: `meson install` into the build's own prefix
# (meson's default, /usr/local), with no DESTDIR, then with no environment
# variable set a C program builds against it through pkg-config and runs,
# and Python finds `import refcount`, `from gi.repository import Refcount`,
# the overrides and their C accelerator, all from that prefix.
#
# The install is real but private: in a mount namespace of its own, the
# prefix and /etc (where ldconfig writes its cache) are overlays whose
# writable layer is a scratch directory; the system's own /usr/local and
# /etc are never written, and the whole view goes away with the namespace.
# Needs root, or unprivileged user namespaces (it then maps the user to
# root inside).
#   run-default-prefix-test.sh BUILD_DIR SOURCE_DIR CC PYTHON PREFIX
set -euo pipefail

build_dir=$1
source_dir=$2
cc=$3
python=$4
prefix=$5

fail() { echo "default-prefix: $*" >&2; exit 1; }

if [ "${RC_DEFAULT_PREFIX_INSIDE:-}" != 1 ]; then
  [ -d "$prefix" ] || fail "the prefix $prefix does not exist"
  # Everything must install under the prefix: nothing else is overlaid.
  meson introspect --installed "$build_dir" | "$python" -c '
import json, os, sys
prefix = sys.argv[1].rstrip("/") + "/"
outside = [d for d in json.load(sys.stdin).values() if not d.startswith(prefix)]
if outside:
    sys.exit("default-prefix: would install outside " + prefix + ": " + ", ".join(outside))
' "$prefix"
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  if [ "$(id -u)" -eq 0 ]; then
    namespace=(unshare --mount --propagation private)
  else
    namespace=(unshare --map-root-user --mount --propagation private)
  fi
  "${namespace[@]}" true \
    || fail "cannot make a private mount namespace (${namespace[*]}): run as root, or allow unprivileged user namespaces"
  RC_DEFAULT_PREFIX_INSIDE=1 RC_SCRATCH=$scratch "${namespace[@]}" bash "$0" "$@"
  exit
fi

scratch=$RC_SCRATCH
overlay() { # overlay DIR: DIR writable, its writes kept in the scratch directory
  local name
  name=$(echo "$1" | tr / _)
  mkdir -p "$scratch/$name.upper" "$scratch/$name.work"
  mount -t overlay overlay \
    -o "lowerdir=$1,upperdir=$scratch/$name.upper,workdir=$scratch/$name.work" "$1" \
    || fail "cannot mount an overlay on $1"
}
overlay "$prefix"
overlay /etc

# The install as a user types it; its install script runs ldconfig.
meson install -C "$build_dir" --no-rebuild --quiet >"$scratch/install.log" 2>&1 \
  || { cat "$scratch/install.log"; fail "meson install failed"; }
echo "default-prefix: installed into $prefix"

clean_env=(env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$scratch" LANG=C.UTF-8)
cd "$scratch"

# C: pkg-config's default search path and the linker's cache find it.
"${clean_env[@]}" pkg-config --exists refcount-1 || fail "pkg-config does not find refcount-1"
# shellcheck disable=SC2046
"$cc" -o consumer "$source_dir/tests/installed/consumer.c" \
  $("${clean_env[@]}" pkg-config --cflags --libs refcount-1)
"${clean_env[@]}" ./consumer
libraries=$("${clean_env[@]}" ldd ./consumer)
grep -q "$prefix/.*librefcount-1.so.0" <<<"$libraries" \
  || fail "the consumer does not load the library from $prefix"
echo "default-prefix: C consumer built with pkg-config and run"

# Python, each check in a fresh interpreter: the package alone, GI alone (it
# must find the typelib without the package's help), then both in use.
"${clean_env[@]}" "$python" -c '
import sys
import refcount
assert refcount.__file__.startswith(sys.argv[1] + "/"), refcount.__file__
print("default-prefix: import refcount from", refcount.__file__)
' "$prefix"

"${clean_env[@]}" "$python" -c '
import sys
prefix = sys.argv[1] + "/"
import gi
gi.require_version("Refcount", "1.0")
from gi.repository import Refcount
typelib = gi.Repository.get_default().get_typelib_path("Refcount")
assert typelib.startswith(prefix), typelib
overrides = sys.modules["gi.overrides.Refcount"].__file__
assert overrides.startswith(prefix), overrides
fast = sys.modules.get("gi.overrides._refcount_fast")
assert fast is not None and fast.__file__.startswith(prefix), fast
calls = []
handle = Refcount.DeletableNativeHandle(1234, calls.append, "INT")
handle.release()
assert calls == [1234] and handle.disposed, calls
print("default-prefix: from gi.repository import Refcount: typelib", typelib)
print("default-prefix: overrides", overrides, "and accelerator", fast.__file__)
' "$prefix"

"${clean_env[@]}" "$python" -c '
import sys
import cffi
from refcount.interop import CffiNativeHandle
released = []
class Thing(CffiNativeHandle):
    def __init__(self, pointer):
        super().__init__(pointer, type_id="THING_PTR")
    def _release_handle(self):
        released.append(self.get_handle())
        return True
ffi = cffi.FFI()
pointer = ffi.new("int *")
thing = Thing(pointer)
thing.release()
assert released == [pointer], released
import refcount.interop
assert refcount.interop.__file__.startswith(sys.argv[1] + "/"), refcount.interop.__file__
print("default-prefix: refcount.interop handle released from", refcount.interop.__file__)
' "$prefix"

echo "default-prefix: ok"
