#!/bin/sh
# make harness-test: test the harness's own judges on the sample logs in
# tests/harness/, and its scripts in fake checkouts with stand-in tests,
# kernels and package tools: a scanner, summariser or script that passes a
# broken run would make every green "make check" meaningless.  Builds and
# boots nothing; make check runs it first.
set -u
# A check.sh that failed to stop at a bad selection would run this again.
[ -z "${HARNESS_TEST:-}" ] || { echo "harness-test: run from itself" >&2; exit 1; }
d=tests/harness
top=$PWD
fails=0
expect() { # expect RC description command...
	want=$1 what=$2
	shift 2
	"$@" >/dev/null 2>&1
	got=$?
	if [ "$got" -ne "$want" ]; then
		echo "harness-test: $what: exit $got, expected $want" >&2
		fails=$((fails + 1))
	fi
}
# expect_err RC TEXT description command...: also wants TEXT in stderr, so
# that the command failed for the reason tested and not another.
expect_err() {
	want=$1 text=$2 what=$3
	shift 3
	err=$("$@" 2>&1 >/dev/null)
	got=$?
	case "$got:$err" in
	"$want:"*"$text"*) ;;
	*)
		echo "harness-test: $what: exit $got, expected $want with \"$text\"" >&2
		fails=$((fails + 1))
		;;
	esac
}
summary() { sh scripts/tap-summary.sh "$1" t | tail -n 1; }

expect 0 "clean console passes" sh scripts/scan-console.sh $d/clean.console
expect 1 "WARN on the console fails" sh scripts/scan-console.sh $d/warn.console
expect 1 "KASAN report fails" sh scripts/scan-console.sh $d/kasan.console
expect 1 "KCSAN data-race report fails" sh scripts/scan-console.sh $d/kcsan.console
printf '# a reason\nBUG: KCSAN: data-race in kvm_example_reader / \n' > "${TMPDIR:-/tmp}/known.$$"
expect 0 "known KCSAN report passes" sh scripts/scan-console.sh $d/kcsan.console "${TMPDIR:-/tmp}/known.$$"
expect 1 "known KCSAN report, other splat fails" sh scripts/scan-console.sh $d/warn.console "${TMPDIR:-/tmp}/known.$$"
expect 1 "missing known file fails" sh scripts/scan-console.sh $d/kcsan.console "${TMPDIR:-/tmp}/no-such-known.$$"
rm -f "${TMPDIR:-/tmp}/known.$$"
expect 1 "lockdep report fails" sh scripts/scan-console.sh $d/lockdep.console
expect 1 "hung task report fails" sh scripts/scan-console.sh $d/hung.console
expect 0 "clean arm64 console passes" sh scripts/scan-console.sh $d/arm64-clean.console
expect 1 "arm64 stack dump fails" sh scripts/scan-console.sh $d/arm64-stack.console
expect 1 "arm64 RCU stall fails" sh scripts/scan-console.sh $d/arm64-rcu-stall.console
expect 1 "arm64 UBSAN report fails" sh scripts/scan-console.sh $d/arm64-ubsan.console
expect 1 "arm64 hung task report fails" sh scripts/scan-console.sh $d/arm64-hung.console
expect 1 "arm64 soft lockup fails" sh scripts/scan-console.sh $d/arm64-softlockup.console
expect 1 "empty console log fails" sh scripts/scan-console.sh $d/empty.console
expect 1 "missing console log fails" sh scripts/scan-console.sh $d/does-not-exist.console
expect 0 "complete TAP passes" sh scripts/tap-summary.sh $d/good.tap t
expect 1 "failed test fails" sh scripts/tap-summary.sh $d/fail.tap t
expect 1 "truncated TAP fails" sh scripts/tap-summary.sh $d/truncated.tap t
expect 1 "TAP without a plan fails" sh scripts/tap-summary.sh $d/noplan.tap t
expect 1 "missing TAP fails" sh scripts/tap-summary.sh $d/does-not-exist.tap t
expect 1 "TAP with an empty plan fails" sh scripts/tap-summary.sh $d/empty.tap t
[ "$(summary $d/good.tap)" = "counts 2 0 1" ] ||
	{ echo "harness-test: good.tap counted as $(summary $d/good.tap)" >&2; fails=$((fails + 1)); }
[ "$(summary $d/truncated.tap)" = "counts 1 2 0" ] ||
	{ echo "harness-test: truncated.tap counted as $(summary $d/truncated.tap)" >&2; fails=$((fails + 1)); }
[ "$(sh scripts/tap-summary.sh $d/good.tap x86_64/tdp | head -n 1)" = "x86_64/tdp: 2 passed, 0 failed, 1 skipped" ] ||
	{ echo "harness-test: summary line format changed" >&2; fails=$((fails + 1)); }

# make check: a selection that matches nothing fails before anything runs
# (the selection is set whole: make check exports its own to this test).
export HARNESS_TEST=running
# The kvm lists, whatever list the make target that runs this uses (make
# soak and make kcsan export LISTS).
check() { env ARCHES="$1" MODES="$2" TESTS="$3" LISTS=kvm sh scripts/check.sh; }
expect_err 1 '"tpd"' "check MODES=<typo> fails" check x86_64 tpd ""
expect_err 1 '"nosuch_test"' "check TESTS=<typo> fails" \
	check x86_64 "" "demand_paging_test nosuch_test"
expect_err 1 "no arch" "check with no arch fails" check " " "" ""
expect_err 1 "arch/x86-64.conf" "check ARCH=<typo> fails" check x86-64 "" ""

# guest/runtests on the host, in a fake guest root with stand-in tests and
# the real kselftest runner (the install copies it from the kernel tree
# unchanged): a list line's arguments reach the test and name its result,
# a timeout, an out-of-memory kill and another SIGKILL are told apart, and
# the kselftest settings timeout holds unless the list line or TIMEOUT
# overrides it.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sel=build/linux/tools/testing/selftests
r=$tmp/guest
mkdir -p "$r/harness" "$r/kselftest/kvm" "$r/proc" "$r/tmp" "$r/dev"
cp -r $sel/run_kselftest.sh $sel/kselftest "$r/kselftest/" 2>/dev/null ||
	{ echo "harness-test: no kselftest runner in $sel: run make tree" >&2; fails=$((fails + 1)); }
echo "oom_kill 0" > "$r/proc/vmstat"
echo "timeout=1" > "$r/kselftest/kvm/settings"
printf '#!/bin/sh\nexit 0\n' > "$r/kselftest/kvm/pass"
printf '#!/bin/sh\n[ "$*" = "-b 8M -v 2" ]\n' > "$r/kselftest/kvm/args"
printf '#!/bin/sh\nexec sleep "$1"\n' > "$r/kselftest/kvm/sleeper"
printf '#!/bin/sh\necho "oom_kill 1" > "%s"\nkill -KILL $$\n' "$r/proc/vmstat" > "$r/kselftest/kvm/oomer"
printf '#!/bin/sh\nkill -KILL $$\n' > "$r/kselftest/kvm/killed"
chmod +x "$r/kselftest/kvm/"*
cat > "$r/harness/tests" <<'LIST'
pass
sleeper 5
oomer
sleeper 2 | timeout=4
killed
pass | tdp,legacy: not in this mode
args -b 8M -v 2
args -b 8M -v 2 -k
LIST
runtests() { echo "$1" > "$r/harness/timeout"; HARNESS_ROOT=$r sh guest/runtests tdp | grep '^\(not \)\?ok'; }
got=$(runtests "")
want="ok 1 selftests: kvm: pass
not ok 2 selftests: kvm: sleeper 5 # TIMEOUT 1 seconds
not ok 3 selftests: kvm: oomer # OOM exit=137
ok 4 selftests: kvm: sleeper 2
not ok 5 selftests: kvm: killed # exit=137
ok 6 selftests: kvm: pass # SKIP in mode tdp: not in this mode
ok 7 selftests: kvm: args -b 8M -v 2
not ok 8 selftests: kvm: args -b 8M -v 2 -k # exit=1"
[ "$got" = "$want" ] || { printf 'harness-test: guest/runtests gave:\n%s\n' "$got" >&2; fails=$((fails + 1)); }
printf 'sleeper 2 | timeout=4\n' > "$r/harness/tests"
[ "$(runtests 1)" = "not ok 1 selftests: kvm: sleeper 2 # TIMEOUT 1 seconds" ] ||
	{ echo "harness-test: guest/runtests: TIMEOUT= does not override the list" >&2; fails=$((fails + 1)); }
grep -q '^harness: test 1: sleeper 2 (timeout 1s)$' "$r/dev/kmsg" ||
	{ echo "harness-test: guest/runtests: no kernel log marker" >&2; fails=$((fails + 1)); }

# guest/timeout, the VM's /usr/bin/timeout, called as kselftest/runner.sh
# calls it, on the busybox of the VM: exit 124 on a timeout only, and the
# test's own exit status otherwise.
bb=build/deb/$(dpkg --print-architecture)/bin/busybox
if [ -x "$bb" ]; then
	mkdir -p "$tmp/bb"
	ln -s "$PWD/$bb" "$tmp/bb/busybox"
	tmo() { # tmo SECS TEST ARGS...
		secs=$1
		shift
		(cd "$r/kselftest/kvm" && PATH=$tmp/bb:$PATH sh "$top/guest/timeout" \
			--foreground "$secs" "$top/guest/timeout" "$secs" "$@")
	}
	expect 124 "guest/timeout: a timeout exits 124" tmo 1 ./sleeper 3
	expect 0 "guest/timeout: a test that ends in time exits 0" tmo 2 ./pass
	expect 1 "guest/timeout: a failing test exits with its status" tmo 2 ./args -k
	expect 137 "guest/timeout: a test killed in time is no timeout" tmo 2 ./killed
	expect 0 "guest/timeout: 0 is no timeout" tmo 0 ./sleeper 1
else
	echo "harness-test: no $bb to test guest/timeout with: run make deps" >&2
	fails=$((fails + 1))
fi

unset FORCE FAIL	# read by series.sh and by the fake kernel Makefile
# The scenarios below work in fake checkouts: DIR/build/linux a small git
# repository whose tag "base" has a Makefile and an .rst file.
export GIT_AUTHOR_NAME=selftest GIT_AUTHOR_EMAIL=selftest@localhost \
	GIT_COMMITTER_NAME=selftest GIT_COMMITTER_EMAIL=selftest@localhost
fake_tree() { # fake_tree DIR
	mkdir -p "$1/build/linux/Documentation"
	(
		cd "$1/build/linux"
		git init -q
		printf 'Title\n=====\n\nText.\n' > Documentation/a.rst
		# A kernel build that fails on FAIL=all, or on FAIL=w1 with W=1.
		printf '.DEFAULT:\n\t@case "$(FAIL)$(W)" in all*|w1?*) echo "fake: $@ failed" >&2; exit 1 ;; esac\n' > Makefile
		git add -A && git commit -q -m base && git tag base
	)
}
fake_commit() { # fake_commit DIR FILE TEXT: a commit that writes TEXT to FILE
	printf '%s\n' "$3" > "$1/build/linux/$2"
	git -C "$1/build/linux" add -A && git -C "$1/build/linux" commit -q -m "Change $2"
}

# doccheck: a new docutils message fails, and so does a missing docutils.
fake_tree "$tmp/doc"
fake_commit "$tmp/doc" Documentation/a.rst "$(printf 'Title\n=====\n\nMore text.')"
cd "$tmp/doc"
expect 0 "doccheck passes a clean change" sh "$top/scripts/doccheck.sh"
mkdir -p nodoc/docutils
echo 'raise ImportError("no docutils here")' > nodoc/docutils/__init__.py
expect_err 1 docutils "doccheck without docutils fails" env PYTHONPATH=nodoc sh "$top/scripts/doccheck.sh"
fake_commit "$tmp/doc" Documentation/a.rst "$(printf 'Title\n=====\n\n- list\nnot indented')"
expect_err 1 "new docutils messages" "doccheck fails on a new message" sh "$top/scripts/doccheck.sh"
cd "$top"

# series-check: a failed W=1/sparse build fails, and a failed commit build
# is not followed by "every commit built".
fake_tree "$tmp/sc"
fake_commit "$tmp/sc" a.c "int a;"
mkdir -p "$tmp/sc/patches" "$tmp/sc/build/linux/scripts" "$tmp/sc/build/x86_64-debug"
cp -r arch "$tmp/sc/"
printf '#!/bin/sh\nexit 0\n' > "$tmp/sc/build/linux/scripts/checkpatch.pl"
printf '#!/bin/sh\necho "A <a@localhost> (maintainer:KVM)"\n' > "$tmp/sc/build/linux/scripts/get_maintainer.pl"
chmod +x "$tmp/sc/build/linux/scripts/"*.pl
git -C "$tmp/sc/build/linux" format-patch -q -o "$tmp/sc/patches" base..HEAD
cd "$tmp/sc"
expect 0 "series-check passes a clean series" env ARCHES=x86_64 sh "$top/scripts/series-check.sh"
expect_err 1 "W=1/sparse build at base failed" "series-check fails when W=1/sparse does not build" \
	env ARCHES=x86_64 FAIL=w1 sh "$top/scripts/series-check.sh"
ARCHES=x86_64 FAIL=all sh "$top/scripts/series-check.sh" 2>/dev/null | grep -q "every commit built" &&
	{ echo "harness-test: series-check says every commit built after a failure" >&2; fails=$((fails + 1)); }
cd "$top"

# make bench: a crashed userfault_bench fails its round in guest/bench (the
# line scripts/bench.sh looks for), and a round missing from the results
# fails the report rather than giving a median of fewer rounds, or a zero.
r=$tmp/bench
mkdir -p "$r/harness" "$r/kselftest/kvm" "$r/proc" "$r/tmp" "$r/res"
printf 'processor\t: 0\nprocessor\t: 1\n' > "$r/proc/cpuinfo"
echo 1 > "$r/harness/rounds"
echo 4M > "$r/harness/size"
printf '#!/bin/sh\necho "RESULT exit_bare 900 ns"\nkill -SEGV $$\n' > "$r/kselftest/kvm/userfault_bench"
chmod +x "$r/kselftest/kvm/userfault_bench"
HARNESS_ROOT=$r HARNESS_KERNEL=base sh guest/bench 2>&1 | grep -q '^# .* failed:' ||
	{ echo "harness-test: guest/bench: a crashed userfault_bench did not fail its round" >&2; fails=$((fails + 1)); }
# Two measured vCPUs never share a CPU: with 2 CPUs (CPU 0 kept free), the
# 2-vCPU runs fail their round instead of measuring something else.
printf '#!/bin/sh\necho "Per-vcpu demand paging rate:\t1 pgs/sec/vcpu"\necho "Overall demand paging rate:\t2 pgs/sec"\n' \
	> "$r/kselftest/kvm/demand_paging_test"
chmod +x "$r/kselftest/kvm/demand_paging_test"
HARNESS_ROOT=$r sh guest/bench 2>&1 | grep -q '^# baseline, 2 vCPUs, round 1 failed: 2 CPUs' ||
	{ echo "harness-test: guest/bench: 2 vCPUs ran on 2 CPUs" >&2; fails=$((fails + 1)); }
cp $d/bench-missing-round.csv "$r/res/results.csv"
cd "$r"
expect_err 1 "rounds missing" "bench report with a round missing fails" sh "$top/scripts/bench-report.sh" res
cd "$top"

# guest/qemu_migration_test judges migration-test, one process per case:
# a failed, crashed, silent or doubled case fails the line, a skipped one
# (glib's "# SKIP") skips it, and only a real pass passes.
q=$tmp/qemu
mkdir -p "$q/qemu/bin" "$q/tmp"
cat > "$q/qemu/bin/migration-test" <<'STUB'
#!/bin/sh
case $STUB in
pass) echo "ok 1 $3" ;;
fail) echo "not ok 1 $3"; exit 1 ;;
skip) echo "ok 1 $3 # SKIP no KVM" ;;
crash) kill -SEGV $$ ;;
two) echo "ok 1 $3"; echo "ok 2 $3/more" ;;
thresh) [ "$(cat "$HARNESS_ROOT/proc/sys/kernel/watchdog_thresh")" = 60 ] &&
	echo "ok 1 $3" ;;
esac
exit 0
STUB
chmod +x "$q/qemu/bin/migration-test"
mt() { env HARNESS_ROOT="$q" STUB=$1 sh guest/qemu_migration_test -p /x/case; }
expect 0 "qemu_migration_test: a passing case passes" mt pass
expect 1 "qemu_migration_test: a failing case fails" mt fail
expect 4 "qemu_migration_test: a skipped case skips" mt skip
expect 1 "qemu_migration_test: a crashed case fails" mt crash
expect 1 "qemu_migration_test: a case with no result fails" mt none
expect 1 "qemu_migration_test: a path that selects two cases fails" mt two
expect 1 "qemu_migration_test: no case fails" env HARNESS_ROOT="$q" sh guest/qemu_migration_test
# The soft-lockup detector waits its longest while QEMU runs, and is
# given back its threshold however the cases end.
mkdir -p "$q/proc/sys/kernel"
echo 10 > "$q/proc/sys/kernel/watchdog_thresh"
expect 0 "qemu_migration_test: watchdog_thresh is 60 while a case runs" mt thresh
expect 1 "qemu_migration_test: a failing case fails (watchdog_thresh)" mt fail
[ "$(cat "$q/proc/sys/kernel/watchdog_thresh")" = 10 ] ||
	{ echo "harness-test: qemu_migration_test left watchdog_thresh changed" >&2; fails=$((fails + 1)); }

# make tree / make series, in a fake checkout whose base.conf names no
# tarball (nothing is ever unpacked here).  patches/ and build/linux are
# compared exactly, and no work is thrown away.
t=$tmp/tree
fake_tree "$t"
mkdir -p "$t/scripts"
cp scripts/tree.sh scripts/series.sh scripts/applied.sh scripts/lib.sh "$t/scripts/"
printf 'BASE_SERIES=selftest-none\n' > "$t/base.conf"
printf 'Subject\n\nBody.\n' > "$t/cover-letter.txt"
fake_commit "$t" a.c "int a;"
cd "$t"
subject() { git -C build/linux log -1 --format=%s; }
expect 0 "series exports a tree the old scripts made" sh scripts/series.sh
expect 0 "tree finds build/linux matching patches/" sh scripts/tree.sh
sed -i '/^Subject:/s/Change a.c$/Change a.c, reworded/' patches/0001-*.patch
expect 0 "tree re-applies an edited changelog" sh scripts/tree.sh
[ "$(subject)" = "Change a.c, reworded" ] ||
	{ echo "harness-test: tree: an edited changelog in patches/ was not applied" >&2; fails=$((fails + 1)); }
sed -i '/^Subject:/s/reworded$/again/' patches/0001-*.patch
expect_err 1 "patches/0001-Change-a.c.patch" "series refuses to overwrite an edit in patches/" sh scripts/series.sh
grep -q "Change a.c, again" patches/0001-*.patch ||
	{ echo "harness-test: series overwrote an edit in patches/" >&2; fails=$((fails + 1)); }
expect 0 "tree takes the edit" sh scripts/tree.sh
fake_commit "$t" b.c "int b;"
expect_err 1 "commits that patches/ lacks" "tree keeps commits not exported" sh scripts/tree.sh
[ "$(subject)" = "Change b.c" ] ||
	{ echo "harness-test: tree threw away a commit" >&2; fails=$((fails + 1)); }
git -C build/linux tag -d base >/dev/null
expect_err 1 "no tag base" "tree stops when base does not resolve" sh scripts/tree.sh
[ "$(subject)" = "Change b.c" ] ||
	{ echo "harness-test: tree removed a work tree without base" >&2; fails=$((fails + 1)); }
git -C build/linux tag base HEAD~2
expect 0 "series exports the new commit" sh scripts/series.sh
# A tree of the old scripts: their patch-ids record, none of ours.
rm build/linux/.git/harness-applied
git -C build/linux log -p --reverse base..HEAD | git patch-id --stable | cut -d' ' -f1 \
	> build/linux/.git/patches-applied
expect 0 "tree migrates an old tree that matches" sh scripts/tree.sh
rm build/linux/.git/harness-applied
echo "int c;" > build/linux/b.c
expect 0 "tree migrates an old tree with changes" sh scripts/tree.sh
git -C build/linux diff --quiet &&
	{ echo "harness-test: tree threw away uncommitted changes" >&2; fails=$((fails + 1)); }
cd "$top"

# make tree from nothing, in a fake checkout with fake linux-source .debs:
# it unpacks the pinned .deb only if its sha256 is base.conf's, says which
# base it used, and warns when it has to use another version.
u=$tmp/unpack
mkdir -p "$u/scripts" "$u/build/deb" "$u/src/linux-9.9" "$u/patches"
cp scripts/tree.sh scripts/applied.sh scripts/lib.sh "$u/scripts/"
printf 'all:\n' > "$u/src/linux-9.9/Makefile"
fake_deb() { # fake_deb VERSION: build/deb/linux-source-9.9_VERSION_all.deb
	p=$u/pkg-$1
	mkdir -p "$p/DEBIAN" "$p/usr/src"
	printf 'Package: linux-source-9.9\nVersion: %s\nArchitecture: all\nMaintainer: t <t@localhost>\nDescription: t\n' \
		"$1" > "$p/DEBIAN/control"
	tar -cJf "$p/usr/src/linux-source-9.9.tar.xz" -C "$u/src" linux-9.9
	dpkg-deb --root-owner-group -b "$p" "$u/build/deb/linux-source-9.9_$1_all.deb" >/dev/null
}
fake_deb 9.9.1-1
sum=$(sha256sum < "$u/build/deb/linux-source-9.9_9.9.1-1_all.deb" | cut -d' ' -f1)
cd "$u"
printf 'BASE_SERIES=9.9\nBASE_DEBVER=9.9.1-1\nBASE_SHA256=%s\n' 0000 > base.conf
expect_err 1 "sha256" "tree refuses a .deb whose checksum is not base.conf's" sh scripts/tree.sh
[ ! -e build/linux ] || { echo "harness-test: tree unpacked a .deb of the wrong checksum" >&2; fails=$((fails + 1)); }
printf 'BASE_SERIES=9.9\nBASE_DEBVER=9.9.1-1\nBASE_SHA256=%s\n' "$sum" > base.conf
sh scripts/tree.sh 2>&1 | grep -qx "tree: base: linux-source-9.9 9.9.1-1, .deb sha256 $sum" ||
	{ echo "harness-test: tree does not say which base it unpacked" >&2; fails=$((fails + 1)); }
[ "$(git -C build/linux log -1 --format=%s base 2>/dev/null)" = "Linux 9.9.1-1 (Debian linux-source-9.9)" ] ||
	{ echo "harness-test: tree: base commit not made from the .deb" >&2; fails=$((fails + 1)); }
rm -rf build/linux build/deb/*
fake_deb 9.9.2-1
expect_err 0 "WARNING: the pinned base" "tree warns when it falls back to another base" sh scripts/tree.sh
cd "$top"

# make deps, with apt and dpkg stubbed: what it makes under build/ belongs
# to the checkout's owner, also when it runs as root (sudo make deps).
c=$tmp/deps
mkdir -p "$c/scripts" "$c/bin"
cp scripts/deps.sh scripts/lib.sh "$c/scripts/"
# The pinned .deb the stub downloads holds "pinned" (STUB_DEB otherwise).
sed -e "s/^BASE_SHA256=.*/BASE_SHA256=$(echo pinned | sha256sum | cut -d' ' -f1)/" \
	-e "s/^QEMU_DSC_SHA256=.*/QEMU_DSC_SHA256=$(echo pinned | sha256sum | cut -d' ' -f1)/" \
	base.conf > "$c/base.conf"
# The machine's apt sources, deb822 (make deps adds a deb-src entry).
mkdir -p "$c/apt"
printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n' > "$c/apt/debian.sources"
export APT_SOURCES_D="$c/apt"
for s in apt-get apt-cache dpkg dpkg-deb sudo; do
	cat > "$c/bin/$s" <<'STUB'
#!/bin/sh
case "$(basename "$0") $1" in
"sudo "*) exec "$@" ;;
"dpkg --print-foreign-architectures") echo arm64 ;;
"apt-cache madison") [ -n "${STUB_GONE:-}" ] || echo " linux-source-6.12 | 6.12.117-1~deb12u1 | stub" ;;
"apt-get download")
	case $3 in
	busybox*) a=${3#*:}; : > "busybox-static_1_$a.deb" ;;
	*=*) echo "${STUB_DEB:-pinned}" > "linux-source-6.12_${3#*=}_all.deb" ;;
	*) echo newest > linux-source-6.12_6.12.999-1_all.deb ;;
	esac
	;;
"apt-get source")
	v=${4#*=}
	echo "${STUB_DEB:-pinned}" > "qemu_${v#*:}.dsc"
	;;
# apt will not downgrade a package to a pinned version.
"apt-get install") case "$*" in *linux-source*=*) exit 100 ;; esac ;;
"dpkg-deb -x") mkdir -p "$3/bin" && : > "$3/bin/busybox" && chmod +x "$3/bin/busybox" ;;
esac
exit 0
STUB
	chmod +x "$c/bin/$s"
done
# As root, the checkout is given to someone else, as under sudo.
[ "$(id -u)" -ne 0 ] || chown -R 65534:65534 "$c"
(cd "$c" && PATH=$c/bin:$PATH sh scripts/deps.sh) >/dev/null 2>&1 ||
	{ echo "harness-test: deps.sh failed with stubs" >&2; fails=$((fails + 1)); }
grep -qx 'Types: deb-src' "$c/apt/kvm-userfault-src.sources" ||
	{ echo "harness-test: deps did not add a deb-src entry" >&2; fails=$((fails + 1)); }
for f in build build/deb build/deb/arm64/bin/busybox build/deb/linux-source-6.12_6.12.117-1~deb12u1_all.deb \
	build/deb/qemu/qemu_7.2+dfsg-7+deb12u18.dsc; do
	[ "$(stat -c %u "$c/$f" 2>/dev/null)" = "$(stat -c %u "$c")" ] ||
		{ echo "harness-test: deps: $f is not the checkout owner's" >&2; fails=$((fails + 1)); }
done
# The base .deb: a checksum that is not base.conf's fails; a pinned
# version gone from the archive gives the newest, loudly.
deps() { (cd "$c" && env PATH="$c/bin:$PATH" "$@" sh scripts/deps.sh); }
rm -f "$c"/build/deb/linux-source-*
expect_err 1 sha256 "deps refuses a base .deb whose checksum is not base.conf's" deps STUB_DEB=evil
rm -f "$c"/build/deb/linux-source-*
expect_err 0 "WARNING: linux-source-6.12 6.12.117-1~deb12u1 is gone" \
	"deps warns when the pinned base is gone" deps STUB_GONE=1

# make help names every target and every variable the Makefile passes on.
help=$(make -s help 2>/dev/null)
for w in $(awk '/^\.PHONY:/, !/\\$/' Makefile | tr -d '\\' | sed 's/^\.PHONY://') \
	ARCH $(sed -n 's/^export //p' Makefile); do
	case " $(echo $help) " in
	*" $w "* | *" $w="*) ;;
	*) echo "harness-test: make help does not name $w" >&2; fails=$((fails + 1)) ;;
	esac
done

[ $fails -eq 0 ] || { echo "harness-test: $fails failure(s)" >&2; exit 1; }
echo "harness-test: ok"
