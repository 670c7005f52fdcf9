#!/bin/bash
# Runs the README's test command (./scripts/test.sh) on fresh minimal Debian
# systems: for each suite named (default: trixie testing), a minbase chroot
# made with debootstrap, a clone of the committed state of this repository
# in it, and the test command run there as root, which installs what it needs
# itself. Needs root (debootstrap, chroot, mounts).
#
#   scripts/test-distros.sh [SUITE...]
#
# Environment:
#   RC_DISTRO_CACHE    where the debootstrapped bases and the downloaded
#                      packages are kept between runs
#                      (default /var/cache/refcount-test-distros)
#   RC_DISTRO_MIRROR   the Debian mirror (default: the one this machine's apt
#                      uses for Debian, else http://deb.debian.org/debian)
#   RC_DISTRO_REFRESH  1: make the cached base again
#
# Each suite ends with a line 'SUITE: N passed, N failed (M s)'; the last
# line adds them up, 'N passed, N failed'. A suite whose system cannot be
# made, or whose run stops before its summary, counts as one failure: this
# script never reports a pass it did not run.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${RC_DISTRO_CACHE:-/var/cache/refcount-test-distros}
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(trixie testing)

die() { echo "test-distros: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot and mounts need it)"
if ! command -v debootstrap >/dev/null; then
  command -v apt-get >/dev/null || die "debootstrap is missing and there is no apt-get to install it"
  echo "test-distros: installing debootstrap"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null \
    || die "debootstrap is missing and could not be installed"
fi
command -v git >/dev/null || die "git is needed to clone the committed state into the chroot"

mirror=${RC_DISTRO_MIRROR:-}
if [ -z "$mirror" ]; then
  # The first Debian archive this machine's apt knows (deb822 or one-line).
  mirror=$(grep -rhoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
             | head -n 1 | tr -d ' ' || true)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi

rev=$(git -C "$top" rev-parse HEAD)
if [ -n "$(git -C "$top" status --porcelain --untracked-files=no)" ]; then
  echo "test-distros: note: uncommitted changes are not tested; testing commit $rev"
fi

mkdir -p "$cache"

# The mounts of the chroot being run, unmounted in reverse order on exit.
mounts=()
root=
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount -R "${mounts[$i]}" 2>/dev/null || umount -R -l "${mounts[$i]}" 2>/dev/null || true
  done
  mounts=()
  if [ -n "$root" ] && [ -d "$root" ]; then
    # Never delete through a mount that is still there (/dev of the host).
    if grep -q " $root/" /proc/self/mountinfo; then
      echo "test-distros: $root still has mounts; left in place" >&2
    else
      rm -rf "$root"
    fi
  fi
  root=
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bind() { # bind SOURCE TARGET: a mount the cleanup undoes
  mkdir -p "$2" && mount --rbind "$1" "$2" || return 1
  mounts+=("$2")
  mount --make-rslave "$2"
}

# base SUITE: prints the cached debootstrapped tree of SUITE, made if missing.
base() {
  local suite=$1 dir=$cache/$suite.base tmp
  if [ "${RC_DISTRO_REFRESH:-0}" = 1 ] || [ ! -f "$dir/.complete" ]; then
    rm -rf "$dir"
    tmp=$cache/$suite.base.tmp.$$
    rm -rf "$tmp"
    echo "test-distros: debootstrap --variant=minbase $suite from $mirror" >&2
    if ! debootstrap --variant=minbase "$suite" "$tmp" "$mirror" >"$cache/$suite.debootstrap.log" 2>&1; then
      tail -n 20 "$cache/$suite.debootstrap.log" >&2
      rm -rf "$tmp"
      return 1
    fi
    # The archive of a frozen snapshot may carry an expired Release file
    # (Debian testing's does here): apt must not refuse it.
    echo 'Acquire::Check-Valid-Until "false";' >"$tmp/etc/apt/apt.conf.d/99refcount-no-valid-until"
    # No daemon is started by a package installed in the chroot.
    printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
    chmod +x "$tmp/usr/sbin/policy-rc.d"
    touch "$tmp/.complete"
    mv "$tmp" "$dir"
  fi
  echo "$dir"
}

# run_suite SUITE: makes the chroot and runs the test command in it; prints
# the summary line of the run, or fails.
run_suite() {
  local suite=$1 basedir log=$2
  basedir=$(base "$suite") || { echo "test-distros: $suite: could not make the system" >&2; return 1; }
  # (set -e does not apply in a function called from a condition: each
  # step says it fails.)
  root=$(mktemp -d "/var/tmp/refcount-$suite.XXXXXX") || return 1
  cp -a "$basedir/." "$root/" || return 1
  rm -f "$root/.complete"
  cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true

  git clone --quiet --no-checkout "$top" "$root/src/refcount" || return 1
  git -C "$root/src/refcount" checkout --quiet --detach "$rev" || return 1

  # The root of the chroot is a mount point, as on a real system: mount
  # namespaces (unshare, which a test uses) need one.
  mount --bind "$root" "$root" || return 1
  mounts+=("$root")
  mount -t proc proc "$root/proc" || return 1
  mounts+=("$root/proc")
  bind /dev "$root/dev" || return 1
  # Downloaded packages are kept for the next run.
  mkdir -p "$cache/$suite.archives/partial" || return 1
  bind "$cache/$suite.archives" "$root/var/cache/apt/archives" || return 1

  chroot "$root" /usr/bin/env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 TERM=dumb \
    /bin/bash -c 'cd /src/refcount && ./scripts/test.sh' 2>&1 | tee "$log"
  local status=${PIPESTATUS[0]}
  # The meson logs of the run outlive the chroot.
  cp -r "$root/src/refcount/build-test/meson-logs" "${log%.log}-meson-logs" 2>/dev/null || true
  cleanup
  return "$status"
}

logdir=$(mktemp -d /tmp/refcount-distros-logs.XXXXXX)
total_passed=0 total_failed=0
lines=()
for suite in "${suites[@]}"; do
  echo "==== Debian $suite: ./scripts/test.sh in a fresh minbase chroot (commit ${rev:0:12})"
  start=$SECONDS
  log=$logdir/$suite.log
  : >"$log"
  status=0
  run_suite "$suite" "$log" || status=$?
  summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1 || true)
  if [ -n "$summary" ]; then
    read -r p _ f _ <<<"$summary"
    # A run that exits non-zero fails even when its summary says otherwise.
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  else
    echo "test-distros: $suite: the test command stopped before its summary (exit $status)"
    p=0 f=1
  fi
  total_passed=$((total_passed + p)) total_failed=$((total_failed + f))
  lines+=("$suite: $p passed, $f failed ($((SECONDS - start)) s)")
  echo "==== ${lines[-1]}"
done

echo "==== logs in $logdir"
for line in "${lines[@]}"; do echo "$line"; done
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ] && [ "$total_passed" -gt 0 ]
