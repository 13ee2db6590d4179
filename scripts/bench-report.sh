#!/bin/sh
# Summarise build/bench/results.csv (scripts/bench.sh): medians and ranges,
# the table, the four ratios, the plot, and BENCHMARKS.md.
#   bench-report.sh RESULTS_DIR [SECONDS_TAKEN]
set -eu
res=$1 took=${2:-}

# arch,kernel,measure,mode,vcpus,median,min,max,n,unit
tail -n +2 "$res/results.csv" |
	sort -t, -k1,1 -k2,2 -k3,3 -k4,4 -k5,5n -k7,7g |
	awk -F, '
	function flush() {
		med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
		print key "," med "," v[1] "," v[n] "," n "," unit
		n = 0
	}
	{
		k = $1 "," $2 "," $3 "," $4 "," $5
		if (n && k != key)
			flush()
		key = k; v[++n] = $7; unit = $8
	}
	END { if (n) flush() }' > "$res/summary.csv"

# Every measure has a value from every round: fewer means a run failed
# unnoticed, and a median of what is left would hide it.
awk -F, '
	{ n[$1 "," $2 "," $3 "," $4 "," $5] = $9; if ($9 > most) most = $9 }
	END {
		for (k in n)
			if (n[k] < most) { print "bench: " k ": " n[k] " of " most " rounds" > "/dev/stderr"; bad = 1 }
		exit bad
	}' "$res/summary.csv" || { echo "bench: rounds missing in $res/results.csv" >&2; exit 1; }

report() {
	awk -F, '
	BEGIN {
		split("baseline uffd_missing uffd_minor kvm_userfault kvm_userfault_minor", order, " ")
		label["baseline"] = "no userfault (baseline)"
		label["uffd_missing"] = "userfaultfd MISSING"
		label["uffd_minor"] = "userfaultfd MINOR (shmem)"
		label["kvm_userfault"] = "KVM Userfault"
		label["kvm_userfault_minor"] = "KVM Userfault + uffd MINOR"
	}
	{
		k = $1 SUBSEP $2 SUBSEP $3 SUBSEP $4 SUBSEP $5
		med[k] = $6; lo[k] = $7; hi[k] = $8; cnt[k] = $9
		arch[$1] = 1
	}
	function m(a, kern, meas, mode, v) { return med[a, kern, meas, mode, v] }
	function cell(a, mode, v,   k) {
		k = a SUBSEP "patched" SUBSEP "paging" SUBSEP mode SUBSEP v
		if (!(k in med))
			return sprintf("%-22s", "-")
		return sprintf("%-22s", sprintf("%.0f [%.0f-%.0f]", med[k], lo[k], hi[k]))
	}
	# A figure that was not measured prints as "-", never as 0.
	function num(x) { return x == "" ? "-" : sprintf("%.0f", x) }
	function ratio(x, y) { return (x && y) ? sprintf("%.2f", x / y) : "n/a" }
	function pct(x, y) { return (x && y) ? sprintf("%+.1f%%", 100 * (x - y) / y) : "n/a" }
	END {
		for (a in arch) {
			printf "%s: demand_paging_test -a, pages/s, median [min-max] of %d rounds\n", a, cnt[a, "patched", "paging", "baseline", 1]
			printf "(the host has 2 cores: compare modes at the same vCPU count, not across counts)\n"
			printf "%-28s %-22s %-22s %-22s\n", "mode", "1 vCPU", "2 vCPUs", "4 vCPUs"
			for (i = 1; i <= 5; i++)
				printf "%-28s %s %s %s\n", label[order[i]], cell(a, order[i], 1), cell(a, order[i], 2), cell(a, order[i], 4)
			bare = m(a, "patched", "exit", "bare", 1)
			flt = m(a, "patched", "exit", "fault", 1)
			uf = m(a, "patched", "exit", "userfault", 1)
			printf "\n%s: per-page costs, ns, median of the rounds\n", a
			printf "  bare exit (ucall round trip)           %8s\n", num(bare)
			printf "  stage-2 fault of a present page        %8s\n", num(flt)
			printf "  userfault exit + release + re-entry    %8s (includes the fault that maps the page)\n", num(uf)
			printf "  enabling the flag on a 1G memslot with 4096 pages mapped, us %8s (disabling it, which drops nothing: %s)\n", \
				num(m(a, "patched", "enable", "1g", 1)), num(m(a, "patched", "disable", "1g", 1))
			printf "\n%s: ratios\n", a
			printf "  1. KVM Userfault / userfaultfd MINOR, 1 vCPU:            %s (KVM Userfault + uffd MINOR: %s; target >= 1.5)\n", \
				ratio(m(a, "patched", "paging", "kvm_userfault", 1), m(a, "patched", "paging", "uffd_minor", 1)), \
				ratio(m(a, "patched", "paging", "kvm_userfault_minor", 1), m(a, "patched", "paging", "uffd_minor", 1))
			printf "  2. userfault exit / bare exit:                            %s (without the fault that maps the page: %s; target <= 1.2)\n", \
				ratio(uf, bare), (uf != "" && flt != "") ? ratio(uf - flt, bare) : "n/a"
			off = m(a, "patched", "faults", "off", 1)
			base = m(a, "base", "faults", "off", 1)
			clear = m(a, "patched", "faults", "clear", 1)
			printf "  3. fault rate, flag off, patched vs unpatched base:       %s; flag on, every bit clear, vs off: %s (target: slowdown < 1%%)\n", \
				base ? pct(off, base) : "not measured (BASE_ARCHES)", pct(clear, off)
			printf "     (pages/s: base %s, patched %s, patched with the flag and no bit set %s)\n", \
				num(base), num(off), num(clear)
			sf = m(a, "patched", "touch", "small_first", 1)
			hf = m(a, "patched", "touch", "huge_first", 1)
			sl = m(a, "patched", "touch", "small_later", 1)
			hl = m(a, "patched", "touch", "huge_later", 1)
			printf "  4. guest read rate, flag on, every page present, range-aware huge / 4K only:\n"
			printf "     first pass (faults included) %s, later passes %s\n", ratio(hf, sf), ratio(hl, sl)
			printf "     (pages/s: 4K only %s then %s, range-aware %s then %s; 2M hugetlb backing)\n\n", \
				num(sf), num(sl), num(hf), num(hl)
		}
	}' "$res/summary.csv"
}

report | tee "$res/report.txt"

# pages/s against vCPUs, one panel per arch.
arches=$(cut -d, -f1 "$res/summary.csv" | sort -u)
n=$(echo "$arches" | wc -w)
for a in $arches; do
	for mode in baseline uffd_missing uffd_minor kvm_userfault kvm_userfault_minor; do
		awk -F, -v a="$a" -v mode="$mode" \
			'$1 == a && $2 == "patched" && $3 == "paging" && $4 == mode { print $5, $6, $7, $8 }' \
			"$res/summary.csv" > "$res/plot-$a-$mode.dat"
	done
done
{
	echo "set terminal pngcairo size $((560 * n)),460"
	echo "set output '$res/pages-per-sec.png'"
	echo "set multiplot layout 1,$n"
	echo "set xlabel 'vCPUs'; set ylabel 'pages/s (median, min-max)'; set xtics (1, 2, 4)"
	echo "set termoption noenhanced; set key below; set yrange [0:*]; set grid"
	for a in $arches; do
		echo "set title '$a (nested, QEMU TCG, 2 host cores)'"
		printf "plot "
		sep=
		for mode in baseline:baseline uffd_missing:'uffd MISSING' uffd_minor:'uffd MINOR' \
			kvm_userfault:'KVM Userfault' kvm_userfault_minor:'KVM UF + uffd MINOR'; do
			printf "%s'%s' using 1:2:3:4 with yerrorlines title '%s'" "$sep" \
				"$res/plot-$a-${mode%%:*}.dat" "${mode#*:}"
			sep=", "
		done
		echo
	done
	echo "unset multiplot"
} > "$res/plot.gp"
gnuplot "$res/plot.gp"
mkdir -p bench
cp "$res/pages-per-sec.png" bench/pages-per-sec.png

{
	echo "# Benchmarks"
	echo
	echo "Generated by \`make bench\` (scripts/bench.sh) on $(date -u +%Y-%m-%d)${took:+, in $((took / 60)) min}."
	echo "Every figure comes from QEMU TCG with nested virtualization on a"
	echo "2-core host: the ratios between modes measured in the same boot are"
	echo "the point, not the absolute rates, which real hardware multiplies."
	echo
	echo "    make bench                     # both arches, 5 rounds"
	echo "    make bench ARCH=x86_64 ROUNDS=3 BENCH_SIZE=4M"
	echo
	cat "$res/machine.md"
	echo
	echo '```'
	cat "$res/report.txt"
	echo '```'
	echo
	echo "Reading the ratios: the bare exit is a selftests ucall (port I/O on"
	echo "x86, MMIO on arm64) that userspace decodes by walking the guest's page"
	echo "tables, which under TCG costs more than a memory fault exit; ratio 2 is"
	echo "therefore an upper bound on how far a userfault exit is from the"
	echo "cheapest exit, not a measurement of that floor.  Ratio 3 compares"
	echo "fault rates whose min-max ranges span several percent under TCG: a"
	echo "difference below that spread is no measurable slowdown.  Ratio 4"
	echo "keeps the last page of every 2M range of a 16M memslot missing (the"
	echo "guest skips it) for \"4K only\": KVM then maps every page on its own,"
	echo "as before range-aware huge mappings.  Its first pass is made of faults,"
	echo "one per page against one per 2M; the later passes only read through"
	echo "the mappings, where QEMU's software TLB, which caches 4K translations"
	echo "whatever the page tables map, hides what a huge page saves in TLB"
	echo "misses on hardware."
	echo
	echo "![pages/s against vCPUs](bench/pages-per-sec.png)"
	echo
	echo "Raw results, one line per round: \`build/bench/results.csv\`; medians"
	echo "and ranges: \`build/bench/summary.csv\`."
} > BENCHMARKS.md
echo "bench: build/bench/results.csv, build/bench/summary.csv, BENCHMARKS.md, bench/pages-per-sec.png"
