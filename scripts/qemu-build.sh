#!/bin/sh
# Build what the tests need of build/qemu (make qemu-tree applies
# qemu/patches there), out of tree in build/qemu-x86_64, with ccache when
# there is one: qemu-system-x86_64 and tests/qtest/migration-test.
# The test VM runs QEMU on KVM (nested): no TCG, whose code generator is
# most of a full build, and no optional library (--without-default-features)
# but libfdt, which the x86 machines need (microvm).
set -eu

. "$(dirname "$0")/lib.sh"
src=$PWD/build/qemu
obj=build/qemu-x86_64
cc=gcc
[ ! -x /usr/lib/ccache/gcc ] || cc=/usr/lib/ccache/gcc
set -- --target-list=x86_64-softmmu --cc="$cc" --enable-kvm --disable-tcg --enable-fdt=system \
	--without-default-features --disable-docs --disable-tools --disable-install-blobs
# A changed line above re-configures; an unchanged one only re-runs ninja,
# which rebuilds what the sources changed.
if [ ! -f "$obj/build.ninja" ] || [ "$(cat "$obj/harness-configure" 2>/dev/null)" != "$*" ]; then
	echo "qemu-build: configuring $obj"
	rm -rf "$obj"
	mkdir -p "$obj"
	(cd "$obj" && "$src/configure" "$@" >configure.log 2>&1) ||
		{ tail -n 20 "$obj/configure.log" >&2; echo "qemu-build: configure failed, see $obj/configure.log" >&2; exit 1; }
	echo "$*" > "$obj/harness-configure"
fi
echo "qemu-build: building $obj"
ninja -C "$obj" qemu-system-x86_64 tests/qtest/migration-test >"$obj/build.log" 2>&1 ||
	{ grep -B2 -A8 "error" "$obj/build.log" | head -n 40 >&2; echo "qemu-build: build failed, see $obj/build.log" >&2; exit 1; }
echo "qemu-build: done $obj"
