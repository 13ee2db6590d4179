#!/bin/sh
# make bench: KVM Userfault against userfaultfd, side by side in one boot of
# a non-debug kernel per arch; the cost of a userfault exit against a bare
# exit; and the cost of the feature when off, against the unpatched base.
#   ARCHES="x86_64 arm64"  ROUNDS=5  BENCH_SIZE=guest memory per vCPU
#   (default: BENCH_SIZE_DEFAULT of arch/$ARCH.conf)
#   BASE_ARCHES=x86_64 (arches also measured on the unpatched base kernel)
# Writes build/bench/results-$ARCH.csv (every round of every measure),
# merges those of every arch measured so far into build/bench/results.csv
# (so that one arch's run keeps the other's figures) and summary.csv,
# prints the table and the ratios, and regenerates BENCHMARKS.md and
# bench/pages-per-sec.png.
# Two boots per kernel: the measurements under TCG as it runs (SMP=BENCH_SMP),
# and the fault rates again under -icount (ICOUNT=1, boot.sh), where time
# is an instruction count that two kernels' boots can be compared by.
set -eu
. "$(dirname "$0")/lib.sh"

: "${ARCHES:=x86_64 arm64}" "${ROUNDS:=5}" "${BENCH_SIZE:=}" \
	"${BASE_ARCHES:=x86_64}"
# The bench flavour throughout, but for the base kernel (FLAVOUR=base below).
FLAVOUR=bench
export ROUNDS FLAVOUR
res=build/bench
mkdir -p "$res"
start=$(date +%s)

for ARCH in $ARCHES; do
	use_arch "$ARCH"
	export ARCH
	: > "$res/results-$ARCH.csv.new"
	set -- $MODES
	mode=$1
	size=${BENCH_SIZE:-$BENCH_SIZE_DEFAULT}
	sh scripts/build.sh
	# userfault_bench is built like a KVM selftest, against the selftests
	# library objects and UAPI headers of the patched bench build.
	sh scripts/build-tool.sh bench/userfault_bench.c
	kernels=patched
	case " $BASE_ARCHES " in
	*" $ARCH "*)
		FLAVOUR=base sh scripts/build.sh
		kernels="patched base"
		;;
	esac

	list=$out/bench.list
	printf 'demand_paging_test\nuserfault_bench\n' > "$list"
	cpio=$(LIST=$list RUN=bench BENCH_SIZE=$size sh scripts/initramfs.sh)
	for kernel in $kernels; do
		kimage=$out/kernel/$KIMAGE
		[ $kernel = patched ] || kimage=build/base/$ARCH-bench/kernel/$KIMAGE
		for part in tcg icount; do
			echo "bench: $ARCH $mode, $kernel kernel, $part"
			icount=0
			[ $part = tcg ] || icount=1
			MODE=$mode RUN=bench TAG=bench-$part-$kernel KERNEL=$kimage \
				APPEND="harness.kernel=$kernel harness.bench=$part" \
				CPIO=$cpio SMP=$BENCH_SMP ICOUNT=$icount \
				VM_TIMEOUT=1500 sh scripts/boot.sh
			log=$out/logs/bench-$part-$kernel-$mode
			sh scripts/scan-console.sh "$log.console"
			grep -q '^# done' "$log.out" || { echo "bench: $log.out is incomplete" >&2; exit 1; }
			grep '^# .* failed:' "$log.out" >&2 && exit 1
			sed -n "s/^CSV,/$ARCH,$kernel,/p" "$log.out" >> "$res/results-$ARCH.csv.new"
		done
	done
	mv "$res/results-$ARCH.csv.new" "$res/results-$ARCH.csv"
	echo "- $ARCH ($(date -u +%Y-%m-%d)): $($QEMU --version | head -n 1), TCG, $BENCH_SMP vCPUs, $QEMU_MEM (arch/$ARCH.conf); $ROUNDS rounds, the modes interleaved within each round; guest memory per vCPU $size" \
		> "$res/machine-$ARCH.md"
done
{
	echo "arch,kernel,measure,mode,vcpus,round,value,unit"
	cat "$res"/results-*.csv
} > "$res/results.csv"

# Machine and software, for BENCHMARKS.md.
{
	echo "- Host: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(free -g | awk '/^Mem:/ { print $2 }') GiB"
	cat "$res"/machine-*.md
	echo "- Kernels: Debian linux-source $(sed -n 's/^BASE_DEBVER=//p' base.conf), non-debug (configs/common + configs/\$ARCH), patched and unpatched"
} > "$res/machine.md"

sh scripts/bench-report.sh "$res" "$(( $(date +%s) - start ))"
