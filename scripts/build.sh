#!/bin/sh
# Build one architecture out of tree under build/$ARCH-$FLAVOUR/: the kernel
# from configs/ fragments (CONFIGS of arch/$ARCH.conf), its UAPI headers,
# and the KVM selftests (static, installed the kselftest way).  Incremental;
# uses ccache when present.
#   ARCH=x86_64|arm64  FLAVOUR=debug (make check, make run: + configs/debug
#   and configs/demo) | bench (no debug options, no networking)
#   | base (bench options, unpatched tree: build/base/linux, make bench)
#   | base-debug (debug options, unpatched tree: make hangs)
#   | kcsan (configs/kcsan instead of configs/kasan: make kcsan)
set -eu

: "${ARCH:?ARCH=x86_64|arm64}" "${FLAVOUR:=debug}"
. "$(dirname "$0")/lib.sh"
use_arch "$ARCH"
src=$PWD/build/linux
out=$PWD/$out
case $FLAVOUR in
base*)
	# The unpatched tree: a worktree of build/linux at its base tag.  Laid
	# out like build/: the same relative paths let ccache (below) reuse
	# the patched bench build for every file the series leaves alone.
	[ -f build/linux/Makefile ] || { echo "build: no kernel tree: run make tree" >&2; exit 1; }
	if [ ! -f build/base/linux/Makefile ]; then
		echo "build: checking out the base tree in build/base/linux"
		git -C build/linux worktree add -q -f --detach "$PWD/build/base/linux" base >/dev/null
	fi
	src=$PWD/build/base/linux
	out=$PWD/build/base/$ARCH-${FLAVOUR#base-}
	[ "$FLAVOUR" = base ] && out=$PWD/build/base/$ARCH-bench
	;;
esac
kout=$out/kernel

[ -f "$src/Makefile" ] || { echo "build: no kernel tree: run make tree" >&2; exit 1; }

frags=$CONFIGS
case $FLAVOUR in
*debug) frags="$frags configs/debug configs/kasan configs/demo" ;;
kcsan) frags="$frags configs/debug configs/kcsan configs/demo" ;;
esac

# ccache hashes paths relative to this: see the base layout above.
case $FLAVOUR in *debug|kcsan) ;; *) export CCACHE_BASEDIR="$PWD/build" ;; esac

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
if [ "$FLAVOUR" != "${FLAVOUR#base}" ]; then
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
# exit_storm is make hangs' control workload, memslot_recreate the
# reproducer that tests/repro-*.list runs (make hangs LISTS=repro).
if [ "$FLAVOUR" = debug ] || [ "$FLAVOUR" = kcsan ]; then
	ARCH=$ARCH FLAVOUR=$FLAVOUR sh scripts/build-tool.sh demo/postcopy.c postcopy_demo
	ARCH=$ARCH FLAVOUR=$FLAVOUR sh scripts/build-tool.sh hangs/exit_storm.c
	ARCH=$ARCH FLAVOUR=$FLAVOUR sh scripts/build-tool.sh repro/memslot_recreate.c
fi
echo "build: done $out"
