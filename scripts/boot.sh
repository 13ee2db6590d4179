#!/bin/sh
# Boot the test VM once under TCG with nested virtualization.
#   ARCH FLAVOUR MODE (one of the arch's MODES) RUN=check|demo|shell CPIO
#   VM_TIMEOUT=seconds before the VM is declared hung  APPEND=more kernel args
#   KERNEL=another kernel image  TAG=log name instead of $RUN
#   SMP=CPUs instead of the arch's QEMU_SMP
#   ICOUNT=1: guest time counts instructions (make bench's exact part)
# The kernel console goes to $LOGS/$TAG-$MODE.console and what the guest
# writes to /dev/hvc0 to $LOGS/$TAG-$MODE.out; RUN=shell is interactive.
set -eu

: "${ARCH:?}" "${FLAVOUR:=debug}" "${MODE:?}" "${RUN:=check}" "${CPIO:?}" "${VM_TIMEOUT:=1800}"
. "$(dirname "$0")/lib.sh"
use_arch "$ARCH"
logs=$out/logs
mkdir -p "$logs"
eval "mode_args=\${MODE_$MODE?unknown mode $MODE for $ARCH}"
: "${KERNEL:=$out/kernel/$KIMAGE}" "${TAG:=$RUN}"

# panic=-1 with -no-reboot: a panic or the guest's final reboot ends QEMU.
append="console=$CONSOLE panic=-1 $KERNEL_ARGS harness.run=$RUN harness.mode=$MODE $mode_args ${APPEND:-}"
# With -icount shift=0 every guest instruction advances the guest's clock
# by 1 ns, and sleep=off jumps over idle time instead of waiting for the
# host: a guest's measured time is an instruction count, the same in every
# boot whatever else the host does.  (It also makes TCG single-threaded.)
icount=
[ "${ICOUNT:-0}" = 0 ] || icount="-icount shift=0,sleep=off"
set -- $QEMU $QEMU_ARGS $icount -accel tcg -smp "${SMP:-$QEMU_SMP}" -m "$QEMU_MEM" -no-reboot \
	-kernel "$KERNEL" -initrd "$CPIO" -append "$append" \
	-device virtio-serial-pci \
	-chardev file,id=hvc,path="$logs/$TAG-$MODE.out" \
	-device virtconsole,chardev=hvc

if [ "$RUN" = shell ]; then
	exec "$@" -nographic
fi
rm -f "$logs/$TAG-$MODE.out"
rc=0
timeout -k 10 "$VM_TIMEOUT" "$@" -display none -monitor none \
	-serial file:"$logs/$TAG-$MODE.console" </dev/null || rc=$?
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	echo "boot: $ARCH $MODE: VM did not finish within ${VM_TIMEOUT}s, see $logs/$TAG-$MODE.console" >&2
	exit 2
fi
exit 0
