#!/bin/sh
# make hangs: how often each workload of tests/hangs-$ARCH.list fails or
# wedges the test VM, unpinned, on the patched debug kernel and on the
# unpatched base built with the same options (FLAVOUR=base-debug), both
# running the patched build's selftests (a test that needs KVM Userfault
# skips on the base).
#
# Why: unpinned vCPU threads that leave KVM_RUN on every page once wedged
# an L1 CPU (QEMU had to be killed) or triple-faulted the guest, about one
# run in twelve; the lists pin them.  Whether the series or the emulator
# is at fault shows in the counts of the same runs on both kernels.
#
# A run is one line of the list; BATCH runs share a boot.  A run fails if
# the test says so (a SHUTDOWN exit is a triple fault); it wedges if it
# never ends: the VM writes nothing for STALL seconds, longer than any
# run's timeout (the runner could not even kill it), or the debug
# kernel's hung-task or soft-lockup detector panics it.  A wedge ends its
# boot (the console keeps what the detectors said) and the next boot goes
# on with the runs left.
#   ARCH=x86_64  MODES="tdp legacy"  KERNELS="patched base"  RUNS=24
#   BATCH=12  STALL=150  TESTS="exit_storm" (first words of list lines)
#   LISTS=repro (tests/repro-$ARCH.list instead of tests/hangs-$ARCH.list)
# Prints a table and writes it to build/$ARCH-debug/logs/$LISTS.txt.
set -u
. "$(dirname "$0")/lib.sh"

: "${ARCH:=x86_64}" "${KERNELS:=patched base}" "${RUNS:=24}" "${BATCH:=12}" \
	"${STALL:=150}" "${TESTS:=}" "${MODES:=}" "${LISTS:=hangs}"
FLAVOUR=debug
want_modes=$MODES
use_arch "$ARCH"
export ARCH FLAVOUR
[ -n "$want_modes" ] && MODES=$want_modes
list_file=tests/$LISTS-$ARCH.list
[ -f "$list_file" ] || { echo "hangs: no $list_file" >&2; exit 1; }

sh scripts/build.sh || exit 1
case " $KERNELS " in
*" base "*) FLAVOUR=base-debug sh scripts/build.sh || exit 1 ;;
esac

table=$out/logs/$LISTS.txt
mkdir -p "$out/logs"
printf '%-8s %-7s %5s %6s %6s %6s %7s  %s\n' kernel mode runs passed failed \
	skipped wedged workload | tee "$table"
w=0
list_lines "$list_file" $TESTS | while IFS= read -r line; do
	w=$((w + 1))
	name=$(echo "$line" | cut -d'|' -f1 | sed 's/ *$//')
	for kernel in $KERNELS; do
		kimage=$out/kernel/$KIMAGE
		[ "$kernel" = patched ] || kimage=build/base/$ARCH-debug/kernel/$KIMAGE
		for MODE in $MODES; do
			runs=0 pass=0 fail=0 skip=0 wedged=0 boot=0
			while [ $runs -lt "$RUNS" ]; do
				n=$((RUNS - runs))
				[ $n -le "$BATCH" ] || n=$BATCH
				boot=$((boot + 1))
				list=$out/hangs.list
				i=0
				while [ $i -lt $n ]; do echo "$line"; i=$((i + 1)); done > "$list"
				cpio=$(LIST=$list RUN=check sh scripts/initramfs.sh) || exit 1
				# Logs: LISTS-KERNEL-WORKLOAD.BOOT-MODE.{out,console}
				tag=$LISTS-$kernel-$w.$boot
				log=$out/logs/$tag-$MODE
				MODE=$MODE RUN=check TAG=$tag CPIO=$cpio KERNEL=$kimage \
					VM_TIMEOUT=$((n * STALL + 300)) sh scripts/boot.sh &
				vm=$!
				# Watch the guest's output: no news for STALL
				# seconds is a wedge.
				last=0 quiet=0
				sleep 5
				while kill -0 $vm 2>/dev/null; do
					size=$(wc -c < "$log.out" 2>/dev/null || echo 0)
					if [ "$size" -ne "$last" ]; then
						last=$size quiet=0
					else
						quiet=$((quiet + 5))
					fi
					if [ $quiet -ge "$STALL" ]; then
						pkill -f "path=$log.out" || :
						wedged=$((wedged + 1))
						echo "hangs: $kernel $MODE boot $boot: no output for ${STALL}s after $(grep -c '^\(not \)\{0,1\}ok ' "$log.out") runs: wedged, see $log.console" >&2
						break
					fi
					sleep 5
				done
				wait $vm
				s=$(grep -c '^ok .*# SKIP' "$log.out")
				p=$(($(grep -c '^ok ' "$log.out") - s))
				f=$(grep -c '^not ok ' "$log.out")
				grep -h 'unexpected exit\|exit_reason=\|^not ok ' "$log.out" | sed "s/^/hangs: $kernel $MODE: /" >&2
				sh scripts/scan-console.sh "$log.console" >/dev/null ||
					echo "hangs: $kernel $MODE boot $boot: kernel splat, see $log.console" >&2
				pass=$((pass + p)) skip=$((skip + s)) fail=$((fail + f))
				done_now=$((p + s + f))
				# A run without a result line wedged the VM: it
				# stopped writing, or the debug kernel's hung-task
				# or soft-lockup detector panicked it.
				if [ $done_now -lt $n ]; then
					if [ $quiet -lt "$STALL" ]; then
						wedged=$((wedged + 1))
						echo "hangs: $kernel $MODE boot $boot: the VM ended after $done_now of $n runs: wedged, see $log.console" >&2
					fi
					done_now=$((done_now + 1))
				fi
				runs=$((runs + done_now))
			done
			printf '%-8s %-7s %5d %6d %6d %6d %7d  %s\n' "$kernel" "$MODE" \
				$runs $pass $fail $skip $wedged "$name" | tee -a "$table"
		done
	done
done
