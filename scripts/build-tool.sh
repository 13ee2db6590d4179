#!/bin/sh
# Build a program the way the KVM selftests are built (static, against the
# selftests library objects and the UAPI headers of a kernel build), into
# build/$ARCH-$FLAVOUR/kselftest/kvm/NAME, where scripts/initramfs.sh finds
# it by name.
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
# shellcheck source=arch/x86_64.conf
. "arch/$ARCH.conf"

sel=build/linux/tools/testing/selftests/kvm
kout=build/$ARCH-$FLAVOUR/kernel
dest=build/$ARCH-$FLAVOUR/kselftest/kvm
case $ARCH in
x86_64) sarch=x86_64 tarch=x86 ;;
arm64) sarch=aarch64 tarch=arm64 ;;
*) echo "build-tool: unknown ARCH $ARCH" >&2; exit 1 ;;
esac
[ -d "$kout/kselftest/kvm/lib" ] ||
	{ echo "build-tool: no selftests library in $kout: build $ARCH-$FLAVOUR first" >&2; exit 1; }

libs=$(find "$kout/kselftest/kvm/lib" -name '*.o' | sort)
mkdir -p "$dest"
# shellcheck disable=SC2086 # $srcs and $libs are lists of paths without blanks
"${CROSS_COMPILE}gcc" -O2 -std=gnu99 -D_GNU_SOURCE= -DCONFIG_64BIT \
	-fno-stack-protector -fno-PIE -no-pie -fno-strict-aliasing \
	-fno-builtin-memcmp -fno-builtin-memcpy -fno-builtin-memset \
	-fno-builtin-strnlen -static -pthread \
	-Ibuild/linux/tools/include -Ibuild/linux/tools/arch/$tarch/include \
	-Ibuild/linux/tools/arch/$tarch/include/generated \
	-isystem "$kout/usr/include" -I$sel/include -I$sel/include/$sarch \
	-I$sel/.. $srcs $libs -ldl -o "$dest/$name"
echo "build-tool: $dest/$name"
