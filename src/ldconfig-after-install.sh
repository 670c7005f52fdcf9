#!/bin/sh
# Run by `meson install`: after a real install by root (not one staged into
# DESTDIR), refreshes the dynamic linker's cache, so that the library is
# found by its name (the typelib names librefcount-1.so.0) in a directory of
# the linker's configuration such as /usr/local/lib/x86_64-linux-gnu, as
# Debian's packages do with their triggers. meson does not do it.
[ -z "${DESTDIR:-}" ] || exit 0
[ "$(id -u)" -eq 0 ] || exit 0
for ldconfig in /sbin/ldconfig /usr/sbin/ldconfig; do
  if [ -x "$ldconfig" ]; then
    exec "$ldconfig"
  fi
done
echo "ldconfig-after-install: no ldconfig; run it after installing" >&2
