#!/bin/sh
# make shell: build ARCH and boot it to an interactive busybox shell, with
# every selftest of the arch's list in /kselftest/kvm.  MODE picks the mode.
set -eu
: "${ARCH:?}" "${FLAVOUR:=debug}"
. "$(dirname "$0")/lib.sh"
use_arch "$ARCH"
export FLAVOUR
[ -n "${NOBUILD:-}" ] || sh scripts/build.sh
list=$out/shell.list
list_lines "tests/kvm-$ARCH.list" > "$list"
cpio=$(LIST=$list RUN=shell sh scripts/initramfs.sh)
set -- $MODES
MODE=${MODE:-$1} RUN=shell CPIO=$cpio exec sh scripts/boot.sh
