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

# demand_paging_test's modes in the report's order, with their labels: the
# start of both awk programs below.
modes='
	BEGIN {
		split("baseline uffd_missing uffd_minor kvm_userfault kvm_userfault_minor", order, " ")
		label["baseline"] = "no userfault (baseline)"
		label["uffd_missing"] = "userfaultfd MISSING (anon)"
		label["uffd_minor"] = "userfaultfd MINOR (shmem)"
		label["kvm_userfault"] = "KVM Userfault (anon)"
		label["kvm_userfault_minor"] = "KVM Userfault + MINOR (shmem)"
	}'

report() {
	awk -F, "$modes"'
	{
		k = $1 SUBSEP $2 SUBSEP $3 SUBSEP $4 SUBSEP $5
		med[k] = $6; lo[k] = $7; hi[k] = $8; cnt[k] = $9
		arch[$1] = 1
	}
	function m(a, kern, meas, mode, v) { return med[a, kern, meas, mode, v] }
	function cell(a, meas, mode, v,   k) {
		k = a SUBSEP "patched" SUBSEP meas SUBSEP mode SUBSEP v
		if (!(k in med))
			return sprintf("%-22s", "-")
		return sprintf("%-22s", sprintf("%.0f [%.0f-%.0f]", med[k], lo[k], hi[k]))
	}
	function range(a, kern, meas, mode,   k) {
		k = a SUBSEP kern SUBSEP meas SUBSEP mode SUBSEP 1
		return (med[k] != "") ? sprintf("%.0f [%.0f-%.0f]", med[k], lo[k], hi[k]) : "-"
	}
	# A figure that was not measured prints as "-", never as 0.
	function num(x) { return x == "" ? "-" : sprintf("%.0f", x) }
	function ratio(x, y) { return (x && y) ? sprintf("%.2f", x / y) : "n/a" }
	function pct(x, y) { return (x && y) ? sprintf("%+.2f%%", 100 * (x - y) / y) : "n/a" }
	function met(ok) { return ok ? "met" : "NOT met" }
	# Instructions per fault under -icount shift=0 (1 ns per instruction).
	function insns(rate) { return rate ? 1e9 / rate : "" }
	function table(a, meas, what) {
		printf "%s: demand_paging_test -a, %s, median [min-max] of %d rounds\n", a, what, cnt[a, "patched", meas, "baseline", 1]
		printf "%-30s %-22s %-22s %-22s\n", "mode", "1 vCPU", "2 vCPUs", "4 vCPUs"
		for (i = 1; i <= 5; i++)
			printf "%-30s %s %s %s\n", label[order[i]], cell(a, meas, order[i], 1), cell(a, meas, order[i], 2), cell(a, meas, order[i], 4)
	}
	END {
		for (a in arch) {
			table(a, "paging", "pages/s of all vCPUs")
			print ""
			table(a, "pervcpu", "pages/s per vCPU")
			printf "(each vCPU pinned to its own CPU of the test VM, CPU 0 left to the rest;\n"
			printf " the host has 2 cores: compare modes at one vCPU count, not across counts)\n"

			floor = m(a, "patched", "exit", "floor", 1)
			ucall = m(a, "patched", "exit", "ucall", 1)
			flt = m(a, "patched", "exit", "fault", 1)
			uf = m(a, "patched", "exit", "userfault", 1)
			printf "\n%s: per-exit and per-page costs, ns (TCG time), median of the rounds\n", a
			printf "  exit floor: one KVM_RUN per exit, exit_reason checked   %8s\n", num(floor)
			printf "  selftests ucall round trip (3 KVM_RUN, decoded)         %8s\n", num(ucall)
			printf "  stage-2 fault of a present page                         %8s\n", num(flt)
			printf "  userfault exit + release + KVM_RUN + the mapping fault  %8s\n", num(uf)
			printf "  enabling the flag on a 1G memslot with 4096 pages mapped, us %s (disabling it, which drops nothing: %s)\n", \
				num(m(a, "patched", "enable", "1g", 1)), num(m(a, "patched", "disable", "1g", 1))

			printf "\n%s: ratios\n", a
			x = m(a, "patched", "paging", "kvm_userfault_minor", 1)
			y = m(a, "patched", "paging", "uffd_minor", 1)
			r1 = (x && y) ? x / y : 0
			printf "  1. like for like, shmem, pages installed by UFFDIO_CONTINUE:\n"
			printf "     KVM Userfault over uffd MINOR / uffd MINOR alone, 1 vCPU: %s (target >= 1.5: %s)\n", \
				ratio(x, y), r1 ? met(r1 >= 1.5) : "n/a"
			printf "     per vCPU at 2 and 4 vCPUs: %s, %s\n", \
				ratio(m(a, "patched", "pervcpu", "kvm_userfault_minor", 2), m(a, "patched", "pervcpu", "uffd_minor", 2)), \
				ratio(m(a, "patched", "pervcpu", "kvm_userfault_minor", 4), m(a, "patched", "pervcpu", "uffd_minor", 4))
			printf "     secondary, anonymous memory, page copied in: KVM Userfault (memcpy) / uffd MISSING (UFFDIO_COPY), 1 vCPU: %s\n", \
				ratio(m(a, "patched", "paging", "kvm_userfault", 1), m(a, "patched", "paging", "uffd_missing", 1))
			printf "     secondary, unlike set-ups: KVM Userfault (anon) / uffd MINOR (shmem), 1 vCPU: %s\n", \
				ratio(m(a, "patched", "paging", "kvm_userfault", 1), m(a, "patched", "paging", "uffd_minor", 1))
			r2 = (uf != "" && flt != "" && floor) ? (uf - flt) / floor : ""
			printf "  2. userfault round trip without the mapping fault / exit floor: %s (target <= 1.2: %s)\n", \
				r2 == "" ? "n/a" : sprintf("%.2f", r2), r2 == "" ? "n/a" : met(r2 <= 1.2)
			printf "     with the mapping fault: %s; the v1 figure, over a ucall: %s\n", ratio(uf, floor), ratio(uf, ucall)

			ib = insns(m(a, "base", "icount", "off", 1))
			io = insns(m(a, "patched", "icount", "off", 1))
			ic = insns(m(a, "patched", "icount", "clear", 1))
			hb = insns(m(a, "base", "icount", "thpoff", 1))
			ho = insns(m(a, "patched", "icount", "thpoff", 1))
			hc = insns(m(a, "patched", "icount", "thpclear", 1))
			worst = 0
			if (ib != "") { d = (io - ib) / ib; if (d > worst) worst = d }
			if (hb != "") { d = (ho - hb) / hb; if (d > worst) worst = d }
			printf "  3. cost of the series with the flag off, in guest instructions under -icount (the whole\n"
			printf "     L1 VM'"'"'s, all of its CPUs, over a pass of the guest; per page read, or per 2M fault):\n"
			printf "     4K pages (faults and KVM'"'"'s prefetches): base %s, patched %s: %s\n", num(ib), num(io), ib != "" ? pct(io, ib) : "base not measured (BASE_ARCHES)"
			printf "     2M faults (THP): base %s, patched %s: %s\n", num(hb), num(ho), hb != "" ? pct(ho, hb) : "base not measured (BASE_ARCHES)"
			printf "     target: slowdown < 1%%: %s\n", ib != "" ? met(worst < 0.01) : "n/a"
			printf "     flag on, every bit clear, vs off: 4K %s (%s: the bitmap word, the 2M range check, no\n", num(ic), pct(ic, io)
			printf "     prefetch into a userfault memslot), 2M %s (%s: the word and the 8-word range check, twice)\n", \
				num(hc), pct(hc, ho)
			printf "     spread, min-max of the rounds (pages/s or 2M faults/s): base %s, patched %s, clear %s\n", \
				range(a, "base", "icount", "off"), range(a, "patched", "icount", "off"), range(a, "patched", "icount", "clear")
			printf "     the same 4K faults in TCG time, pages/s (separate boots, host noise): base %s, patched %s, clear %s\n", \
				range(a, "base", "faults", "off"), range(a, "patched", "faults", "off"), range(a, "patched", "faults", "clear")

			sf = m(a, "patched", "touch", "small_first", 1)
			hf = m(a, "patched", "touch", "huge_first", 1)
			sl = m(a, "patched", "touch", "small_later", 1)
			hl = m(a, "patched", "touch", "huge_later", 1)
			printf "  4. range-aware huge mappings, flag on, every page present, huge / 4K only:\n"
			printf "     first pass %s: a fault-count ratio (one fault per 2M against one per page) in its\n", ratio(hf, sf)
			printf "     best case, every 2M range complete; later passes %s (TCG'"'"'s soft TLB hides huge pages)\n", ratio(hl, sl)
			printf "     (pages/s: 4K only %s then %s, range-aware %s then %s; 2M hugetlb backing)\n\n", \
				num(sf), num(sl), num(hf), num(hl)
		}
	}' "$res/summary.csv"
}
# The scaling model (a model, not a measurement): the host has 2 cores, so
# the rates at 2 and 4 vCPUs are bound by it as much as by the mode.  Take
# the host out by dividing each mode's per-vCPU cost of a page by that of
# the no-userfault baseline at the same vCPU count (the baseline shares the
# same CPUs): c(N) = baseline(N) / mode(N).  Model c(N) = c1 + s(N - 1):
# c1 is the mode's own cost at 1 vCPU, s the cost that each further vCPU
# adds to every page, i.e. work only one vCPU at a time can do (a
# saturated single server: userfaultfd's wait queue, handler wake-ups and
# mmap_lock; KVM Userfault exits on the vCPU itself).  c1 and s come from
# 1 and 2 vCPUs, where the host has a core per vCPU (s >= 0); 4 vCPUs,
# which oversubscribe the host, check them as far as they can.  Projected to N vCPUs, the
# ratio of KVM Userfault's per-vCPU rate to userfaultfd's is
# c_uffd(N) / c_kvm(N), for comparison with upstream's measured ratio.
model() {
	awk -F, -v out="$res" "$modes"'
	$2 == "patched" && $3 == "pervcpu" { rate[$1, $4, $5] = $6; arch[$1] = 1 }
	function c(a, mo, n) { return (rate[a, mo, n] && rate[a, "baseline", n]) ? rate[a, "baseline", n] / rate[a, mo, n] : "" }
	function cm(a, mo, n) { return c1[a, mo] + sl[a, mo] * (n - 1) }
	END {
		for (a in arch) {
			printf "%s: scaling model (a model, not a measurement): c(N), per-vCPU cost of a page\n", a
			printf "relative to the no-userfault baseline at N vCPUs; c(N) = c1 + s (N - 1), fitted to N = 1, 2\n"
			printf "%-30s %7s %7s %8s %8s %8s %15s %10s\n", "mode", "c1", "s", "c(1)", "c(2)", "c(4)", "model c(4)", "c(64)"
			for (i = 2; i <= 5; i++) {
				mo = order[i]
				x1 = c(a, mo, 1); x2 = c(a, mo, 2); x4 = c(a, mo, 4)
				if (x1 == "" || x2 == "")
					continue
				c1[a, mo] = x1; sl[a, mo] = (x2 > x1) ? x2 - x1 : 0
				printf "%-30s %7.2f %7.2f %8.2f %8.2f %8s %15s %10.1f\n", label[mo], c1[a, mo], sl[a, mo], x1, x2, \
					x4 == "" ? "-" : sprintf("%.2f", x4), \
					x4 == "" ? sprintf("%.2f", cm(a, mo, 4)) : sprintf("%.2f (%+.0f%%)", cm(a, mo, 4), 100 * (cm(a, mo, 4) - x4) / x4), \
					cm(a, mo, 64)
				f = out "/model-" a "-" mo ".dat"
				for (n = 1; n <= 4; n++)
					printf "%d %g %s\n", n, cm(a, mo, n), c(a, mo, n) == "" ? "NaN" : c(a, mo, n) > f
				close(f)
			}
			printf "KVM Userfault / userfaultfd, pages/s per vCPU, the model projected (c_uffd(N) / c_kvm(N)):\n"
			f = out "/model-" a "-ratio.dat"
			for (n = 1; n <= 64; n++) {
				x = y = "NaN"
				if ((a SUBSEP "kvm_userfault_minor") in c1 && (a SUBSEP "uffd_minor") in c1)
					x = cm(a, "uffd_minor", n) / cm(a, "kvm_userfault_minor", n)
				if ((a SUBSEP "kvm_userfault") in c1 && (a SUBSEP "uffd_missing") in c1)
					y = cm(a, "uffd_missing", n) / cm(a, "kvm_userfault", n)
				printf "%d %s %s\n", n, x, y > f
				if (n == 1 || n == 4 || n == 16 || n == 64)
					printf "  %2d vCPUs: like for like (+ MINOR / MINOR) %s, anonymous (/ MISSING) %s\n", n, \
						x == "NaN" ? "-" : sprintf("%.1f", x), y == "NaN" ? "-" : sprintf("%.1f", y)
			}
			close(f)
			printf "  upstream v1 (48-core x86, 64 vCPUs, measured): KVM Userfault / userfaultfd MISSING = 39913 / 1664 = %.1f\n\n", 39913 / 1664
		}
	}' "$res/summary.csv"
}

{ report; model; } | tee "$res/report.txt"

# Two panels per arch: c(N) measured at 1, 2 and 4 vCPUs (points: the host
# has 2 cores, so they are no scaling curve) with the model's line; and the
# model's projection to 64 vCPUs of KVM Userfault / userfaultfd, beside
# upstream's measured point.
arches=$(cut -d, -f1 "$res/summary.csv" | sort -u)
n=$(echo "$arches" | wc -w)
{
	echo "set terminal pngcairo size 1120,$((420 * n))"
	echo "set output '$res/pages-per-sec.png'"
	echo "set multiplot layout $n,2"
	echo "set termoption noenhanced; set key top left; set grid"
	for a in $arches; do
		echo "set title '$a: c(N), measured (points), MODEL (lines)'"
		echo "set xlabel 'vCPUs'; set ylabel 'c(N)'; set xrange [0.5:4.5]; set yrange [0:*]; set xtics (1, 2, 3, 4); set logscale y; set yrange [1:*]"
		printf "plot "
		sep= c=1
		for mode in uffd_missing:'uffd MISSING' uffd_minor:'uffd MINOR' \
			kvm_userfault:'KVM Userfault' kvm_userfault_minor:'KVM UF + MINOR'; do
			m=${mode%%:*}
			if [ -s "$res/model-$a-$m.dat" ]; then
				printf "%s'%s' using 1:3 with points lc %d pt 7 ps 1.5 title '%s', '%s' using 1:2 with lines lc %d dt 2 notitle" \
					"$sep" "$res/model-$a-$m.dat" $c "${mode#*:}" "$res/model-$a-$m.dat" $c
				sep=", "
			fi
			c=$((c + 1))
		done
		echo
		echo "unset logscale y"
		echo "set title '$a: MODEL, KVM UF / uffd, pages/s per vCPU'"
		echo "set xlabel 'vCPUs'; set ylabel 'ratio'; set xrange [1:64]; set yrange [0:*]; set xtics (1, 8, 16, 32, 48, 64)"
		echo "\$up << EOD"
		echo "64 $(awk 'BEGIN { printf "%.2f", 39913 / 1664 }')"
		echo "EOD"
		echo "plot '$res/model-$a-ratio.dat' using 1:2 with lines lw 2 title 'model: UF + MINOR / MINOR', \\"
		echo "     '$res/model-$a-ratio.dat' using 1:3 with lines lw 2 title 'model: UF / MISSING (anon)', \\"
		echo "     \$up using 1:2 with points pt 9 ps 2 title 'upstream v1, measured: UF / MISSING'"
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
	echo "Ratio 3's figures are instruction counts (QEMU -icount), exact across"
	echo "boots; the scaling model is labelled as one."
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
	echo "Reading the figures.  Ratio 1 is the like-for-like pair: the same"
	echo "shmem backing, each page installed by UFFDIO_CONTINUE, asked for by a"
	echo "KVM Userfault exit of the vCPU itself or by userfaultfd's handler"
	echo "thread; the other pairs are secondary.  Ratio 2 compares a userfault"
	echo "round trip with the cheapest exit there is, both a loop of one KVM_RUN"
	echo "per exit on a pinned thread in the same boot.  Ratio 3 comes from the"
	echo "-icount boots, where time is the guest's instruction count (all of the"
	echo "L1 VM's CPUs, so background work counts too, but the same in every"
	echo "boot): the rounds' min-max spread says how exact it is.  Ratio 4 is a"
	echo "fault count ratio at its best (every 2M range complete), not a speed-up"
	echo "of guest work: under TCG the later passes can't show what huge pages"
	echo "save in TLB misses."
	echo
	echo "The scaling model is a model, not a measurement.  The host has 2 cores:"
	echo "at 2 and 4 vCPUs every mode shares them, so the measured rates are no"
	echo "scaling curve.  The model takes the host out by dividing a mode's"
	echo "per-vCPU cost of a page by the no-userfault baseline's at the same vCPU"
	echo "count, c(N), and describes it as c1 + s (N - 1): c1 the mode's own cost,"
	echo "s what each further vCPU adds to every page, i.e. work that only one"
	echo "vCPU at a time can do (a saturated single server: for userfaultfd its"
	echo "wait queue, the handler thread's wake-ups and the mmap_lock they take;"
	echo "a KVM Userfault exit is handled on the vCPU's own thread).  c1 and s are"
	echo "fitted to 1 and 2 vCPUs, where the host has a core per vCPU; 4 vCPUs"
	echo "check the fit (the table gives the error) only as far as the 2 host"
	echo "cores allow: where the baseline itself collapses at 4 vCPUs (arm64: its"
	echo "per-vCPU rate falls twentyfold, L1 vCPUs descheduled while they hold"
	echo "locks), c(4) measures that, not the mode, and can't check the model."
	echo "Projected, the per-vCPU rate of KVM Userfault over userfaultfd"
	echo "is c_uffd(N) / c_kvm(N), shown up to 64 vCPUs beside upstream's"
	echo "measured ratio (48-core x86, 64 vCPUs, userfaultfd MISSING).  The"
	echo "projection assumes the costs keep their TCG proportions, where a"
	echo "cross-CPU wake-up is far dearer than on hardware, so it shows the shape"
	echo "(userfaultfd's per-vCPU cost grows with N, KVM Userfault's doesn't), not"
	echo "upstream's magnitude; it also assumes one userfaultfd and handler per"
	echo "vCPU (demand_paging_test's default) and nothing else saturating."
	echo
	echo "![pages/s against vCPUs](bench/pages-per-sec.png)"
	echo
	echo "Raw results, one line per round: \`build/bench/results.csv\`; medians"
	echo "and ranges: \`build/bench/summary.csv\`."
	# make qemu-bench's section, from its last run.
	if [ -f bench/qemu-postcopy.md ]; then
		echo
		cat bench/qemu-postcopy.md
	fi
} > BENCHMARKS.md
echo "bench: build/bench/results.csv, build/bench/summary.csv, BENCHMARKS.md, bench/pages-per-sec.png"
