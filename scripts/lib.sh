# shellcheck shell=sh
# Sourced by scripts/*.sh, from the checkout's top: what several of them
# need the same way.

# use_arch ARCH: read arch/ARCH.conf (the arch's facts) and set out, the
# build directory of ARCH and FLAVOUR: kernel objects in $out/kernel, the
# selftests installed in $out/kselftest, VM logs in $out/logs.
use_arch() {
	[ -f "arch/$1.conf" ] || { echo "${0##*/}: no arch/$1.conf for ARCH=$1" >&2; exit 1; }
	ARCH=$1
	# shellcheck source=arch/x86_64.conf
	. "arch/$1.conf"
	# shellcheck disable=SC2034 # out is for the caller
	out=build/$ARCH-${FLAVOUR:-debug}
}

# kmake DIR KOUT ARGS...: make in DIR (the kernel tree, or its selftests)
# for the arch read by use_arch, objects in KOUT, with ccache when there
# is one.
kmake() {
	kdir=$1 kobj=$2
	shift 2
	kcc=${CROSS_COMPILE}gcc
	! command -v ccache >/dev/null || kcc="ccache $kcc"
	make -s -C "$kdir" O="$kobj" ARCH="$KARCH" CROSS_COMPILE="$CROSS_COMPILE" \
		CC="$kcc" -j"$(nproc)" "$@"
}

# selftests_make DIR KOUT ARGS...: kmake for the selftests, which link
# statically: the guest has no libraries.
selftests_make() {
	kmake "$@" LDFLAGS=-static
}

# list_lines LIST [TEST...]: the test lines of LIST (tests/kvm-$ARCH.list),
# without comments and blank lines; with TESTs, only the lines whose first
# word is one of them.
list_lines() {
	awk -v tests="$*" 'BEGIN { n = split(tests, t); for (i = 2; i <= n; i++) want[t[i]] = 1 }
		/^#/ || !NF { next }
		n < 2 || ($1 in want)' "$1"
}

# pinned_file FILE SHA256 HINT: print FILE if its sha256 is base.conf's
# SHA256; else say so, and HINT, on stderr and fail.
pinned_file() {
	sum=$(sha256sum < "$1" | cut -d' ' -f1)
	if [ "$sum" != "$2" ]; then
		echo "${0##*/}: $1 has sha256 $sum, base.conf says $2:" >&2
		echo "${0##*/}: $3" >&2
		return 1
	fi
	echo "$1"
}

# base_deb: print the path of the kernel base's .deb in build/deb (make
# deps downloads it): the pinned one of base.conf, whose sha256 must be
# base.conf's; else, if make deps had to fall back to another version,
# the newest there, with a warning on stderr.  Needs base.conf read.
base_deb() {
	pinned=build/deb/linux-source-${BASE_SERIES}_${BASE_DEBVER}_all.deb
	if [ -f "$pinned" ]; then
		pinned_file "$pinned" "$BASE_SHA256" "not the pinned base; remove it and run make deps"
		return
	fi
	other=$(ls build/deb/linux-source-"$BASE_SERIES"_*_all.deb 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$other" ]; then
		echo "${0##*/}: no linux-source-$BASE_SERIES .deb in build/deb: run make deps" >&2
		return 1
	fi
	{
		echo "WARNING: the pinned base linux-source-$BASE_SERIES $BASE_DEBVER is not in build/deb;"
		echo "WARNING: using $other (sha256 $(sha256sum < "$other" | cut -d' ' -f1)):"
		echo "WARNING: patches may not apply, and results are not comparable."
		echo "WARNING: a copy of $pinned put there by hand restores the pin."
	} >&2
	echo "$other"
}

# use_series linux|qemu: the facts of one of the two series: tree, its git
# work tree (tag base: the pristine source); pdir, its export; cover, its
# cover letter's text (first line: subject; then the body); SERIES_PREFIX,
# the round as posted ("[PATCH v3 01/14]"): bump it for each new version
# sent, and list what changed in the cover letter; mk, the prefix of its
# make targets (make qemu-series).
# shellcheck disable=SC2034 # for the caller
use_series() {
	case $1 in
	linux) tree=build/linux pdir=patches cover=cover-letter.txt SERIES_PREFIX="PATCH v6" mk= ;;
	qemu) tree=build/qemu pdir=qemu/patches cover=qemu/cover-letter.txt SERIES_PREFIX="PATCH v2" mk=qemu- ;;
	*) echo "${0##*/}: no series \"$1\" (linux or qemu)" >&2; exit 1 ;;
	esac
}

# qemu_dsc: print the path of the QEMU base's .dsc in build/deb/qemu (make
# deps downloads it): the pinned one of base.conf, whose sha256 must be
# base.conf's; else, if make deps had to fall back to another version, the
# newest there, with a warning on stderr.  Needs base.conf read.
qemu_dsc() {
	pinned=build/deb/qemu/qemu_${QEMU_DEBVER#*:}.dsc
	if [ -f "$pinned" ]; then
		pinned_file "$pinned" "$QEMU_DSC_SHA256" "not the pinned QEMU; remove build/deb/qemu and run make deps"
		return
	fi
	other=$(ls build/deb/qemu/qemu_*.dsc 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$other" ]; then
		echo "${0##*/}: no qemu .dsc in build/deb/qemu: run make deps" >&2
		return 1
	fi
	echo "WARNING: the pinned QEMU $QEMU_DEBVER is not in build/deb/qemu; using $other" >&2
	echo "$other"
}
