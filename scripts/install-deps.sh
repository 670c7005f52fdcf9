#!/bin/bash
# Installs, from Debian's packages (the names are the same in Debian 12, 13
# and testing), everything the build, the demo and the
# test suite need. Runs apt-get as root, or through sudo.
set -euo pipefail

packages=(
  build-essential pkg-config meson ninja-build
  libglib2.0-dev gobject-introspection libgirepository1.0-dev gir1.2-glib-2.0
  gtk-doc-tools
  python3 python3-dev python3-gi python-gi-dev python3-cffi python3-pytest python3-hypothesis mypy
  valgrind
  valac gjs
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null; then
  as_root=(sudo)
else
  echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
