#!/bin/sh
# make qemu-bench: QEMU's post-copy with the destination's
# postcopy-kvm-userfault off and on, side by side in one boot of the
# x86_64 debug kernel, TDP mode (guest/qemu_postcopy_bench; the bench
# kernels have no sockets for QEMU's migration).  Writes
# build/bench/qemu-postcopy.txt (one line per migration),
# bench/qemu-postcopy.md, and the same section at the end of BENCHMARKS.md
# (scripts/bench-report.sh keeps it there).
#   ROUNDS=n migrations per mode (3)  NOBUILD=1 boot what is built
set -eu
ARCH=x86_64 FLAVOUR=debug
. "$(dirname "$0")/lib.sh"
use_arch "$ARCH"
export ARCH FLAVOUR
start=$(date +%s)
if [ -z "${NOBUILD:-}" ]; then
	sh scripts/build.sh
	SERIES=qemu sh scripts/tree.sh
	sh scripts/qemu-build.sh
fi
rounds=${ROUNDS:-3}
list=$out/qemu-bench.list
echo "qemu_postcopy_bench $rounds | timeout=0" > "$list"
cpio=$(LIST=$list RUN=check TIMEOUT=0 sh scripts/initramfs.sh)
# shellcheck disable=SC2086 # the first of the arch's modes
set -- $MODES
MODE=$1 RUN=check TAG=qemu-bench CPIO=$cpio VM_TIMEOUT=5400 sh scripts/boot.sh
log=$out/logs/qemu-bench-$1
sh scripts/scan-console.sh "$log.console"
grep '^# # ' "$log.out" | grep -v RESULT >&2 || true
grep -q '^ok 1 ' "$log.out" || { echo "qemu-bench: the run failed, see $log.out" >&2; exit 1; }
mkdir -p build/bench bench
sed -n 's/^# RESULT //p' "$log.out" > build/bench/qemu-postcopy.txt
[ "$(wc -l < build/bench/qemu-postcopy.txt)" -eq $((2 * rounds)) ] ||
	{ echo "qemu-bench: not $((2 * rounds)) results in $log.out" >&2; exit 1; }

{
	echo "<!-- make qemu-bench writes this section (scripts/qemu-bench.sh) -->"
	echo "## QEMU post-copy: userfaultfd alone vs KVM Userfault"
	echo
	echo "\`make qemu-bench\`, $(date -u +%Y-%m-%d), $(( $(date +%s) - start )) s: QEMU 7.2 with"
	echo "qemu/patches, the same post-copy migration with the destination's"
	echo "\`postcopy-kvm-userfault\` off and on, $rounds of each, alternating, in one"
	echo "boot of the x86_64 debug kernel (KASAN, lockdep; TDP mode), the two QEMUs"
	echo "on nested KVM under TCG ($($QEMU --version | head -n 1)), host: $(nproc)"
	echo "CPUs.  The guest is migration-test's (150M; one vCPU writing every page"
	echo "of 99M in a loop); post-copy starts as soon as the migration does."
	echo "Post-copy time: migrate_start_postcopy to the destination's"
	echo "\"completed\".  Faults: the destination's counters.  Wait: a page's first"
	echo "vCPU fault, traced when QEMU takes it (the vCPU thread handling its exit;"
	echo "userfaultfd's fault thread reading it: neither counts the kernel's part),"
	echo "to the trace of the page's placement.  Blocktime: QEMU's"
	echo "postcopy-blocktime.  One vCPU: this measures the cost of a fault round"
	echo "trip, not the scaling with vCPUs (that is \`make bench\`'s)."
	echo
	echo "| mode | post-copy ms (median) | faults via userfaultfd | faults via KVM Userfault | waits timed | wait p50 µs (median) | wait p99 µs (median) | blocktime ms (median) |"
	echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
	for m in uffd kvm; do
		awk -v m="$m" '$1 == m' build/bench/qemu-postcopy.txt | awk -v m="$m" '
			function med(a, n,   i, j, t) {
				for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
				return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
			}
			{ n++; ms[n] = $3; uf += $4; kv += $5; w += $6; p50[n] = $7; p99[n] = $8; bt[n] = $9 }
			END {
				name = m == "kvm" ? "KVM Userfault (capability on)" : "userfaultfd alone (capability off)"
				printf "| %s | %d | %d | %d | %d | %d | %d | %d |\n", name, med(ms, n), uf, kv, w, med(p50, n), med(p99, n), med(bt, n)
			}'
	done
	echo
	echo "Per migration (mode, round, post-copy ms, faults via userfaultfd, via KVM"
	echo "Userfault, waits timed, wait p50 µs, p99 µs, blocktime ms):"
	echo
	sed 's/^/    /' build/bench/qemu-postcopy.txt
} > bench/qemu-postcopy.md
# Replace the section at the end of BENCHMARKS.md (or add it).
if [ -f BENCHMARKS.md ]; then
	awk '/^<!-- make qemu-bench writes this section/ { exit } { print }' BENCHMARKS.md > BENCHMARKS.md.new
	{ cat BENCHMARKS.md.new; cat bench/qemu-postcopy.md; } > BENCHMARKS.md
	rm BENCHMARKS.md.new
fi
cat bench/qemu-postcopy.md
