# KVM Userfault: build, boot and test the series in patches/ on the pinned
# Debian 6.12 source, for x86_64 and arm64, under QEMU/TCG.  See README.md.
# "make help" prints this comment.
#
# Targets:
#   deps           install everything (Debian bookworm; root or sudo)
#   check          tree, harness-test, doccheck, then per arch: build, boot
#                  once per mode, run tests/kvm-$ARCH.list, scan the console
#   soak           check with tests/soak-$ARCH.list: the long runs (10^6
#                  random operations per mode), hours under TCG
#   qemu-bench     QEMU's post-copy, capability off vs on, one x86_64 boot:
#                  bench/qemu-postcopy.md and its section of BENCHMARKS.md
#   qemu-check     QEMU's post-copy tests, capability off and on, in every
#                  x86_64 MMU mode (tests/qemu-x86_64.list; ~17 min a mode)
#   kcsan          the race case and the stress program (tests/kcsan-$ARCH.list)
#                  on a KCSAN kernel (FLAVOUR=kcsan, x86_64 unless ARCH=)
#   hangs          run each workload of tests/hangs-$ARCH.list many times
#                  unpinned on the patched and the unpatched debug kernel:
#                  failure and wedge counts (scripts/hangs.sh)
#   recheck        check without building: boot what is built
#   rerun          the old name of recheck
#   run            the post-copy migration demo (x86_64)
#   bench          userfaultfd vs KVM Userfault: BENCHMARKS.md
#   shell          an interactive shell in the test VM
#   build          build the kernel, selftests and demo of each arch
#   tree           patches/ -> build/linux (git am on the base tag)
#   series         build/linux -> patches/ (git format-patch)
#   series-check   checkpatch, per-commit builds, W=1/sparse (after build)
#   qemu-tree      qemu/patches -> build/qemu (git am on Debian's QEMU source)
#   qemu-series    build/qemu -> qemu/patches (git format-patch)
#   qemu-build     qemu-tree, then build qemu-system-x86_64 and migration-test
#                  in build/qemu-x86_64 (KVM only, no TCG)
#   harness-test   test the harness's own judges and scripts on the samples
#                  in tests/harness/ and stand-ins (nothing is built)
#   selftest       the old name of harness-test
#   clean          remove the kernel builds (keeps build/linux and build/deb)
#   help           this text
#
# Variables:
#   ARCH=x86_64|arm64   one arch (default both; run is always x86_64)
#   TESTS="a b"         check: only these tests (first word of a list line)
#   MODES="tdp nvhe"    check: only these modes (arch/$ARCH.conf MODES)
#   MODE=nvhe           shell: the mode to boot (default the arch's first)
#   TIMEOUT=s           check: per-test timeout over the list's and the
#                       kselftest settings' (guest/runtests); 0 is none
#   VM_TIMEOUT=s        check: seconds before a VM counts as hung (1800)
#   NOBUILD=1           run, shell: boot what is already built
#   FLAVOUR=debug|bench|kcsan build, check: the kernel flavour (default debug)
#   ROUNDS=n            bench: rounds (5)
#   BENCH_SIZE=4M       bench: guest memory per vCPU (arch/$ARCH.conf)
#   BASE_ARCHES="x86_64" bench: arches also measured on the unpatched base
#   RUNS=24 BATCH=12    hangs: runs per workload, kernel and mode; per boot
#   KERNELS="patched base" hangs: the kernels compared
#   LISTS=repro         hangs: run tests/repro-$ARCH.list (memslot_recreate)
#   FORCE=1             series: overwrite changes made in patches/

ARCHES := $(if $(ARCH),$(ARCH),x86_64 arm64)
FLAVOUR ?= debug
export TESTS MODES FLAVOUR TIMEOUT VM_TIMEOUT ROUNDS BENCH_SIZE BASE_ARCHES FORCE

.PHONY: deps tree series series-check qemu-tree qemu-series qemu-build qemu-check qemu-bench build check soak kcsan hangs recheck rerun run bench \
	shell harness-test selftest clean help

deps:
	sh scripts/deps.sh

tree:
	sh scripts/tree.sh

series:
	sh scripts/series.sh

qemu-tree:
	SERIES=qemu sh scripts/tree.sh

qemu-series:
	SERIES=qemu sh scripts/series.sh

qemu-build: qemu-tree
	sh scripts/qemu-build.sh

series-check: build
	ARCHES="$(ARCHES)" sh scripts/series-check.sh

build: tree
	for a in $(ARCHES); do ARCH=$$a sh scripts/build.sh || exit 1; done

check: tree
	ARCHES="$(ARCHES)" sh scripts/check.sh

# The long runs (tests/soak-*.list), e.g. 10^6 random operations per mode.
soak: tree
	ARCHES="$(ARCHES)" LISTS=soak VM_TIMEOUT=$${VM_TIMEOUT:-14400} sh scripts/check.sh

# QEMU's post-copy tests, the whole matrix (make check runs a part).
qemu-check: tree
	ARCHES=x86_64 LISTS=qemu sh scripts/check.sh

qemu-bench: tree
	sh scripts/qemu-bench.sh

# KCSAN and KASAN don't mix: data races get their own kernel and list.
kcsan: tree
	ARCHES="$(if $(ARCH),$(ARCH),x86_64)" FLAVOUR=kcsan LISTS=kcsan sh scripts/check.sh

# Unpinned failure and wedge counts, patched versus base (x86_64 only).
hangs: tree
	ARCH=$(firstword $(ARCHES)) sh scripts/hangs.sh

recheck rerun:
	ARCHES="$(ARCHES)" NOBUILD=1 sh scripts/check.sh

run: tree
	ARCH=x86_64 sh scripts/demo.sh

bench: tree
	ARCHES="$(ARCHES)" sh scripts/bench.sh

shell: tree
	ARCH=$(firstword $(ARCHES)) sh scripts/shell.sh

harness-test selftest:
	sh scripts/harness-test.sh

clean:
	rm -rf build/*-debug build/*-bench build/bench
	-git -C build/linux worktree remove -f "$(CURDIR)/build/base/linux"
	rm -rf build/base

help:
	@sed -n '/^[^#]/q; s/^# \{0,1\}//p' $(firstword $(MAKEFILE_LIST))
