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
