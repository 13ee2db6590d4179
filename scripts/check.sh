#!/bin/sh
# make check: build each architecture, boot it once per mode, run the test
# list, and summarise.  Exit non-zero on any failed or missing result, a hung
# VM, or a kernel splat on the console.
#   ARCHES="x86_64 arm64"  MODES=only these modes  TESTS=only these tests
#   NOBUILD=1 re-runs on what is already built
#   LISTS=soak runs tests/soak-$ARCH.list instead of tests/kvm-$ARCH.list
#   (make soak; LISTS=kcsan for make kcsan), logged as soak-$MODE instead
#   of check-$MODE
#   TIMEOUT=per-test seconds, over the list's and kselftest's (guest/runtests)
set -u

: "${ARCHES:=x86_64 arm64}" "${FLAVOUR:=debug}" "${TESTS:=}" "${MODES:=}" \
	"${NOBUILD:=}" "${TIMEOUT:=}" "${LISTS:=kvm}"
case $LISTS in kvm) tag=check ;; *) tag=$LISTS ;; esac
export FLAVOUR TIMEOUT
. "$(dirname "$0")/lib.sh"

# Every arch, mode and test named must exist: a typo would otherwise
# select nothing, run nothing and pass.  A mode or test needs to exist on
# one of the arches only (MODES=tdp on both arches runs x86_64 alone).
# arch/*.conf sets MODES to the arch's own list: keep the user's filter apart.
want_modes=$MODES
all_modes=
for a in $ARCHES; do
	[ -f "arch/$a.conf" ] || { echo "check: no arch/$a.conf for ARCH=$a" >&2; exit 1; }
	[ -f "tests/$LISTS-$a.list" ] || { echo "check: no tests/$LISTS-$a.list" >&2; exit 1; }
	all_modes="$all_modes $(use_arch "$a"; echo "$MODES")"
done
[ -n "$all_modes" ] || { echo "check: no arch selected" >&2; exit 1; }
for m in $want_modes; do
	case " $all_modes " in
	*" $m "*) ;;
	*) echo "check: mode \"$m\" is none of$all_modes" >&2; exit 1 ;;
	esac
done
# A test is named by the first word of its list line (as filtered below).
for t in $TESTS; do
	found=
	for a in $ARCHES; do
		[ -z "$(list_lines "tests/$LISTS-$a.list" "$t")" ] || found=1
	done
	[ -n "$found" ] || { echo "check: test \"$t\" is in none of the lists of $ARCHES" >&2; exit 1; }
done

sh scripts/harness-test.sh || exit 1
sh scripts/doccheck.sh || exit 1

# Reports known and explained for a list (make kcsan: the base kernel's
# own data races) are in tests/$LISTS-known.txt; no other list has one.
known=
[ ! -f "tests/$LISTS-known.txt" ] || known=tests/$LISTS-known.txt

P=0 F=0 S=0
summary=
for ARCH in $ARCHES; do
	use_arch "$ARCH"
	export ARCH
	modes=$MODES
	if [ -n "$want_modes" ]; then
		modes=$(for m in $want_modes; do case " $MODES " in *" $m "*) echo "$m" ;; esac; done)
	fi

	# The selected lines of the list, comments dropped.
	list=$out/tests.list
	mkdir -p "$out"
	list_lines "tests/$LISTS-$ARCH.list" $TESTS > "$list"
	if [ -z "$modes" ] || [ ! -s "$list" ]; then
		echo "check: $ARCH: none of the modes or tests asked for, skipped"
		continue
	fi
	if [ -z "$NOBUILD" ]; then
		sh scripts/build.sh || { echo "check: $ARCH build failed" >&2; exit 1; }
		# QEMU's tests (qemu_* lines) need the QEMU series built.
		if grep -q '^qemu_' "$list"; then
			{ SERIES=qemu sh scripts/tree.sh && sh scripts/qemu-build.sh; } ||
				{ echo "check: QEMU build failed" >&2; exit 1; }
		fi
	fi
	cpio=$(LIST=$list RUN=check sh scripts/initramfs.sh) || exit 1

	ap=0 af=0 as=0
	for MODE in $modes; do
		start=$(date +%s)
		MODE=$MODE RUN=check TAG=$tag CPIO=$cpio sh scripts/boot.sh
		hung=$?
		res=$(sh scripts/tap-summary.sh "$out/logs/$tag-$MODE.out" "$ARCH/$MODE")
		echo "$res" | sed '$d'
		set -- $(echo "$res" | tail -n 1)
		p=$2 f=$3 s=$4
		if ! sh scripts/scan-console.sh "$out/logs/$tag-$MODE.console" $known; then
			f=$((f + 1))
		fi
		[ $hung -eq 0 ] || f=$((f + 1))
		echo "  ($(( $(date +%s) - start ))s)"
		ap=$((ap + p)) af=$((af + f)) as=$((as + s))
	done
	summary="$summary$ARCH: $ap passed, $af failed, $as skipped
"
	P=$((P + ap)) F=$((F + af)) S=$((S + as))
done
printf '%s' "$summary"
echo "$P passed, $F failed, $S skipped"
# No result at all is no evidence that anything works.
[ $((P + F + S)) -gt 0 ] || { echo "check: no test ran" >&2; exit 1; }
[ "$F" -eq 0 ]
