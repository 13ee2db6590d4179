#!/bin/sh
# Build one architecture out of tree under build/$ARCH-$FLAVOUR/: the kernel
# from configs/ fragments (CONFIGS of arch/$ARCH.conf), its UAPI headers,
# and the KVM selftests (static, installed the kselftest way).  Incremental;
# uses ccache when present.
#   ARCH=x86_64|arm64  FLAVOUR=debug (make check, make run: + configs/debug
#   and configs/demo) | bench (no debug options, no networking)
#   | base (bench options, unpatched tree: build/base/linux, made by make bench)
set -eu

: "${ARCH:?ARCH=x86_64|arm64}" "${FLAVOUR:=debug}"
. "$(dirname "$0")/lib.sh"
use_arch "$ARCH"
src=$PWD/build/linux
out=$PWD/$out
if [ "$FLAVOUR" = base ]; then
	# Laid out like build/: the same relative paths let ccache (below)
	# reuse the patched bench build for every file the series leaves alone.
	src=$PWD/build/base/linux
	out=$PWD/build/base/$ARCH-bench
fi
kout=$out/kernel

[ -f "$src/Makefile" ] || { echo "build: no kernel tree: run make tree" >&2; exit 1; }

frags=$CONFIGS
[ "$FLAVOUR" = debug ] && frags="$frags configs/debug configs/demo"

# ccache hashes paths relative to this: see the base layout above.
[ "$FLAVOUR" = debug ] || export CCACHE_BASEDIR="$PWD/build"

# Reconfigure only when the fragments change, so that rebuilds stay incremental.
mkdir -p "$kout"
if ! cat $frags | cmp -s - "$kout/.fragments"; then
	echo "build: configuring $ARCH-$FLAVOUR from $frags"
	kmake "$src" "$kout" tinyconfig >/dev/null
	"$src/scripts/kconfig/merge_config.sh" -m -O "$kout" "$kout/.config" $frags >/dev/null
	kmake "$src" "$kout" olddefconfig >/dev/null
	# merge_config only warns when Kconfig drops a request; a dropped
	# option here means a test runs on a kernel it was not meant for.
	bad=$(cat $frags | sed -n 's/^\(CONFIG_[A-Z0-9_]*\)=\(.*\)/\1=\2/p;s/^# \(CONFIG_[A-Z0-9_]*\) is not set/\1=n/p' |
		while IFS== read -r sym val; do
			got=$(sed -n "s/^$sym=//p" "$kout/.config")
			[ -n "$got" ] || got=n
			[ "$got" = "$val" ] || echo "  $sym: wanted $val, got $got"
		done)
	[ -z "$bad" ] || { echo "build: Kconfig did not take:" >&2; echo "$bad" >&2; exit 1; }
	cat $frags > "$kout/.fragments"
fi

echo "build: kernel $ARCH-$FLAVOUR"
kmake "$src" "$kout"
# The base kernel only boots what the patched build's selftests run.
if [ "$FLAVOUR" = base ]; then
	echo "build: done $out"
	exit 0
fi
echo "build: headers $ARCH-$FLAVOUR"
kmake "$src" "$kout" headers >/dev/null

# The selftests take O= from the kernel build: objects and headers stay there.
echo "build: KVM selftests $ARCH-$FLAVOUR"
selftests_make "$src/tools/testing/selftests" "$kout" \
	TARGETS=kvm KSFT_INSTALL_PATH="$out/kselftest" install >/dev/null
# The post-copy demo (make run) and its checks (tests/*.list), built like a
# selftest beside them so that the initramfs finds it by name.
if [ "$FLAVOUR" = debug ]; then
	ARCH=$ARCH FLAVOUR=debug sh scripts/build-tool.sh demo/postcopy.c postcopy_demo
fi
echo "build: done $out"
