#!/bin/sh
# make run: build x86_64, boot it, run guest/demo, print its table.
set -eu
: "${ARCH:=x86_64}" "${FLAVOUR:=debug}"
. "arch/$ARCH.conf"
export ARCH FLAVOUR
[ -n "${NOBUILD:-}" ] || sh scripts/build.sh
list=build/$ARCH-$FLAVOUR/demo.list
echo demand_paging_test > "$list"
cpio=$(LIST=$list RUN=demo sh scripts/initramfs.sh)
set -- $MODES
MODE=$1 RUN=demo CPIO=$cpio VM_TIMEOUT=900 sh scripts/boot.sh
cat "build/$ARCH-$FLAVOUR/logs/demo-$1.out"
sh scripts/scan-console.sh "build/$ARCH-$FLAVOUR/logs/demo-$1.console"
