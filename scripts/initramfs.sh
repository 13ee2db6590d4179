#!/bin/sh
# Pack the test VM's initramfs: busybox, guest/, the KVM selftests that the
# run needs (stripped), and the kselftest runner as the selftests' install
# made it (run_kselftest.sh, kselftest/, kvm/settings), which guest/runtests
# and a developer in make shell use.  Prints the path of the cpio archive.
#   ARCH  FLAVOUR  RUN=check|demo|bench|shell  LIST=file of test lines
#   TIMEOUT=s per test, over the list's and the kselftest settings' (guest/runtests)
#   ROUNDS, BENCH_SIZE: for RUN=bench (scripts/bench.sh)
set -eu

: "${ARCH:?}" "${FLAVOUR:=debug}" "${RUN:=check}" "${LIST:?}" "${TIMEOUT:=}"
. "$(dirname "$0")/lib.sh"
use_arch "$ARCH"
root=$out/initramfs-$RUN
rm -rf "$root"
mkdir -p "$root/bin" "$root/usr/bin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp" \
	"$root/harness" "$root/kselftest/kvm"

cp "build/deb/$DEB_ARCH/bin/busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp guest/init "$root/init"
cp guest/runtests "$root/harness/"
cp guest/demo guest/bench "$root/harness/"
# kselftest/runner.sh runs each test under /usr/bin/timeout.
cp guest/timeout "$root/usr/bin/timeout"
cp "$LIST" "$root/harness/tests"
echo "$TIMEOUT" > "$root/harness/timeout"
echo "${ROUNDS:-5}" > "$root/harness/rounds"
echo "${BENCH_SIZE:-8M}" > "$root/harness/size"
# The runner and the kselftest settings file (timeout=), as installed.
cp -r "$out/kselftest/run_kselftest.sh" "$out/kselftest/kselftest" "$root/kselftest/"
cp "$out/kselftest/kvm/settings" "$root/kselftest/kvm/"
# run_kselftest.sh's list names the tests it can run: those packed here
# (the installed one names every KVM selftest, and not the demo).
# A qemu_* test is a script of guest/ that runs one of QEMU's own tests:
# QEMU comes with it (scripts/qemu-payload.sh).
qemu=
for t in $(cut -d' ' -f1 "$LIST" | sort -u); do
	case $t in
	qemu_*)
		cp "guest/$t" "$root/kselftest/kvm/$t"
		qemu=1
		;;
	*)
		bin=$(find "$out/kselftest/kvm" -name "$t" -type f | head -n 1)
		[ -n "$bin" ] || { echo "initramfs: no selftest $t in $out/kselftest/kvm" >&2; exit 1; }
		"${CROSS_COMPILE}strip" -o "$root/kselftest/kvm/$t" "$bin"
		;;
	esac
	echo "kvm:$t" >> "$root/kselftest/kselftest-list.txt"
done
[ -z "$qemu" ] || sh scripts/qemu-payload.sh "$root"
(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet) > "$root.cpio"
echo "$root.cpio"
