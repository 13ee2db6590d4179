#!/bin/sh
# Test the harness's own judges on the sample logs in tests/harness/: a
# scanner or summariser that passes a broken run would make every green
# "make check" meaningless.  Runs before anything is built.
set -u
d=tests/harness
fails=0
expect() { # expect RC description command...
	want=$1 what=$2
	shift 2
	"$@" >/dev/null 2>&1
	got=$?
	if [ "$got" -ne "$want" ]; then
		echo "harness self-test: $what: exit $got, expected $want" >&2
		fails=$((fails + 1))
	fi
}
summary() { sh scripts/tap-summary.sh "$1" t | tail -n 1; }

expect 0 "clean console passes" sh scripts/scan-console.sh $d/clean.console
expect 1 "WARN on the console fails" sh scripts/scan-console.sh $d/warn.console
expect 1 "KASAN report fails" sh scripts/scan-console.sh $d/kasan.console
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
[ "$(summary $d/good.tap)" = "counts 2 0 1" ] ||
	{ echo "harness self-test: good.tap counted as $(summary $d/good.tap)" >&2; fails=$((fails + 1)); }
[ "$(summary $d/truncated.tap)" = "counts 1 2 0" ] ||
	{ echo "harness self-test: truncated.tap counted as $(summary $d/truncated.tap)" >&2; fails=$((fails + 1)); }
[ "$(sh scripts/tap-summary.sh $d/good.tap x86_64/tdp | head -n 1)" = "x86_64/tdp: 2 passed, 0 failed, 1 skipped" ] ||
	{ echo "harness self-test: summary line format changed" >&2; fails=$((fails + 1)); }

[ $fails -eq 0 ] || { echo "harness self-test: $fails failure(s)" >&2; exit 1; }
echo "harness self-test: ok"
