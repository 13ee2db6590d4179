# KVM Userfault: build, boot and test the series in patches/ on the pinned
# Debian 6.12 source, for x86_64 and arm64, under QEMU/TCG.  See README.md.
#
#   make deps                 install everything (Debian bookworm, root/sudo)
#   make check                all tests, both arches, all MMU/KVM modes
#   make check ARCH=x86_64 TESTS="a b" MODES=tdp   a subset
#   make rerun ...            the same without rebuilding
#   make run                  the demand-paging demo (x86_64)
#   make bench                userfaultfd vs KVM Userfault, BENCHMARKS.md
#   make shell ARCH=arm64     an interactive shell in the test VM
#   make tree / make series   patches/ -> build/linux -> patches/
#   make series-check         checkpatch, per-commit builds, W=1/sparse
#   make build ARCH=...       build one arch (FLAVOUR=debug|bench)

ARCHES := $(if $(ARCH),$(ARCH),x86_64 arm64)
FLAVOUR ?= debug
export TESTS MODES FLAVOUR TIMEOUT VM_TIMEOUT ROUNDS BENCH_SIZE BASE_ARCHES FORCE

.PHONY: deps tree series series-check build check rerun run bench shell selftest clean

deps:
	sh scripts/deps.sh

tree:
	sh scripts/tree.sh

series:
	sh scripts/series.sh

series-check: build
	ARCHES="$(ARCHES)" sh scripts/series-check.sh

build: tree
	for a in $(ARCHES); do ARCH=$$a sh scripts/build.sh || exit 1; done

check: tree
	ARCHES="$(ARCHES)" sh scripts/check.sh

rerun:
	ARCHES="$(ARCHES)" NOBUILD=1 sh scripts/check.sh

run: tree
	ARCH=x86_64 sh scripts/demo.sh

bench: tree
	ARCHES="$(ARCHES)" sh scripts/bench.sh

shell: tree
	ARCH=$(firstword $(ARCHES)) sh scripts/shell.sh

selftest:
	sh scripts/selftest.sh

clean:
	rm -rf build/*-debug build/*-bench build/bench
	-git -C build/linux worktree remove -f "$(CURDIR)/build/base/linux"
	rm -rf build/base
