#!/bin/sh
# Pack the test VM's initramfs: busybox, guest/, and the KVM selftests that
# the run needs (stripped).  Prints the path of the cpio archive.
#   ARCH  FLAVOUR  RUN=check|demo|bench|shell  LIST=file of test lines
#   TIMEOUT=s per test, over the list's and the kselftest settings' (guest/runtests)
#   ROUNDS, BENCH_SIZE: for RUN=bench (scripts/bench.sh)
set -eu

: "${ARCH:?}" "${FLAVOUR:=debug}" "${RUN:=check}" "${LIST:?}" "${TIMEOUT:=}"
. "arch/$ARCH.conf"
out=build/$ARCH-$FLAVOUR
root=$out/initramfs-$RUN
rm -rf "$root"
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp" \
	"$root/harness" "$root/kselftest/kvm"

cp "build/deb/$DEB_ARCH/bin/busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp guest/init "$root/init"
cp guest/runtests "$root/harness/"
cp guest/demo guest/bench "$root/harness/"
cp "$LIST" "$root/harness/tests"
echo "$TIMEOUT" > "$root/harness/timeout"
echo "${ROUNDS:-5}" > "$root/harness/rounds"
echo "${BENCH_SIZE:-8M}" > "$root/harness/size"
for t in $(cut -d' ' -f1 "$LIST" | sort -u); do
	bin=$(find "$out/kselftest/kvm" -name "$t" -type f | head -n 1)
	[ -n "$bin" ] || { echo "initramfs: no selftest $t in $out/kselftest/kvm" >&2; exit 1; }
	"${CROSS_COMPILE}strip" -o "$root/kselftest/kvm/$t" "$bin"
done
# The kselftest settings file (timeout=), installed beside the tests.
[ ! -f "$out/kselftest/kvm/settings" ] || cp "$out/kselftest/kvm/settings" "$root/kselftest/kvm/"
(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet) > "$root.cpio"
echo "$root.cpio"
