#!/bin/sh
# Build a program as a KVM selftest, by the selftests' own Makefile (its
# CFLAGS, -Wall included, its library objects and the UAPI headers of a
# kernel build; static), into build/$ARCH-$FLAVOUR/kselftest/kvm/NAME,
# where scripts/initramfs.sh finds it by name.
#   build-tool.sh FILE.c... [NAME]   NAME defaults to the first FILE without .c
#   ARCH=x86_64|arm64  FLAVOUR=debug|bench (the kernel build to link against)
# A program is the .c files of one directory: FILE.c brings in the other .c
# files beside it, so that bench/userfault_bench.c (alone in bench/) and
# demo/postcopy.c (main() of the demo, with the rest of demo/) both name
# their program by one file.
# Used by scripts/build.sh (the demo, after the selftests install) and by
# scripts/bench.sh (bench/userfault_bench.c).
set -eu

: "${ARCH:?ARCH=x86_64|arm64}" "${FLAVOUR:=debug}"
usage="usage: build-tool.sh FILE.c... [NAME]"
[ $# -ge 1 ] || { echo "$usage" >&2; exit 1; }
first=$1 name= dirs=
for a in "$@"; do
	case $a in
	*.c) [ -f "$a" ] || { echo "build-tool: no $a" >&2; exit 1; }
	     dirs="$dirs $(dirname "$a")" ;;
	*) [ "$a" = "${*##* }" ] && [ -z "$name" ] || { echo "$usage" >&2; exit 1; }
	   name=$a ;;
	esac
done
[ -n "$name" ] || name=$(basename "$first" .c)
# shellcheck disable=SC2086 # $dirs: directories without blanks
srcs=$(for d in $dirs; do ls "$d"/*.c; done | sort -u)
. "$(dirname "$0")/lib.sh"
use_arch "$ARCH"
kout=$PWD/$out/kernel
dest=$out/kselftest/kvm
[ -d "$kout/kselftest/kvm/lib" ] ||
	{ echo "build-tool: no selftests library in $kout: build $ARCH-$FLAVOUR first" >&2; exit 1; }

# Through the KVM selftests' Makefile (scripts/tool.mk), given what the
# selftests' top Makefile gives it when scripts/build.sh builds them: the
# output directory and the kernel build's UAPI headers.  -Werror: the
# flags include -Wall, and the demo and the benchmark stay clean under it.
# shellcheck disable=SC2086 # $srcs: paths without blanks
selftests_make build/linux/tools/testing/selftests/kvm "$kout" \
	-f Makefile -f "$PWD/scripts/tool.mk" \
	OUTPUT="$kout/kselftest/kvm" KHDR_INCLUDES="-isystem $kout/usr/include" \
	EXTRA_CFLAGS=-Werror TOOL="$kout/kselftest/kvm/$name" \
	TOOL_SRCS="$(for f in $srcs; do printf '%s ' "$PWD/$f"; done)" "$kout/kselftest/kvm/$name"
mkdir -p "$dest"
cp "$kout/kselftest/kvm/$name" "$dest/$name"
echo "build-tool: $dest/$name"
