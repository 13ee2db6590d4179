#!/bin/sh
# make run: build x86_64, boot it, run guest/demo (the post-copy demo,
# demo/), print its table and plot the pages present over time of
# both modes to build/$ARCH-$FLAVOUR/demo/postcopy.png (gnuplot, host side).
#   NOBUILD=1: boot what is already built (scripts/build.sh builds the demo).
set -eu
: "${ARCH:=x86_64}" "${FLAVOUR:=debug}"
. "$(dirname "$0")/lib.sh"
use_arch "$ARCH"
export ARCH FLAVOUR
[ -n "${NOBUILD:-}" ] || sh scripts/build.sh
list=$out/demo.list
echo postcopy_demo > "$list"
cpio=$(LIST=$list RUN=demo sh scripts/initramfs.sh)
# shellcheck disable=SC2086 # the first of the arch's modes
set -- $MODES
MODE=$1 RUN=demo CPIO=$cpio VM_TIMEOUT=900 sh scripts/boot.sh
log=$out/logs/demo-$1
grep -v '^CSV,' "$log.out"
sh scripts/scan-console.sh "$log.console"
grep -q '^# demo: exit 0' "$log.out" || { echo "demo: the run failed, see $log.out" >&2; exit 1; }

# One data file per mode: ms, pages present, fetched on demand, pushed.
dir=$out/demo
mkdir -p "$dir"
{
	echo "mode,ms,present,on_demand,pushed"
	sed -n 's/^CSV,//p' "$log.out"
} > "$dir/postcopy.csv"
for m in kvm_userfault uffd; do
	awk -F, -v m="$m" '$1 == m { print $2, $3, $4, $5 }' "$dir/postcopy.csv" > "$dir/$m.dat"
done
pages=$(sed -n 's/^post-copy of .* (\([0-9]*\) pages).*/\1/p' "$log.out")
cat > "$dir/postcopy.gp" <<GP
set terminal pngcairo size 900,520
set output '$dir/postcopy.png'
set termoption noenhanced
set title 'Post-copy of $pages guest pages, nested under QEMU TCG ($ARCH)'
set xlabel 'ms since the vCPUs started'
set ylabel 'guest pages'
set yrange [0:*]
set key bottom right
set grid
plot '$dir/kvm_userfault.dat' using 1:2 with lines lw 2 lc 1 title 'KVM Userfault: present', \\
     '' using 1:3 with lines dt 2 lc 1 title 'KVM Userfault: fetched on demand', \\
     '$dir/uffd.dat' using 1:2 with lines lw 2 lc 2 title 'userfaultfd alone: present', \\
     '' using 1:3 with lines dt 2 lc 2 title 'userfaultfd alone: fetched on demand'
GP
gnuplot "$dir/postcopy.gp"
echo "demo: pages present over time: $dir/postcopy.png (data: $dir/postcopy.csv)"
