#!/bin/sh
# Fail (exit 1) if a kernel console log shows a warning, bug, sanitizer or
# lockdep report, a stall, lockup or hung task, a stack dump, or a panic;
# print the offending lines, the log's path and the first report.  A missing or empty log
# fails too: a VM that wrote nothing was not seen to be clean.
#   scan-console.sh LOG [KNOWN]
# KNOWN (make kcsan: tests/kcsan-known.txt) lists, one extended regular
# expression per line ('#' lines are comments), the report lines that are
# known and explained there: they alone don't fail the log.
set -u
log=$1
known=${2:-}
# x86 prints "Call Trace:", arm64 "Call trace:"; an RCU stall is "rcu:
# INFO: rcu_preempt detected stalls" or "self-detected stall"; UBSAN and a
# soft lockup ("watchdog: BUG: soft lockup") print no WARNING of their own;
# KCSAN's "BUG: KCSAN: data-race in" is a BUG: line.
pattern='WARNING:|BUG:|kernel BUG at|Oops|Unable to handle kernel|KASAN|UBSAN:|possible circular locking|inconsistent lock state|sleeping function called|blocked for more than|detected stalls? on|soft lockup|hard LOCKUP|Call [Tt]race|Kernel panic'
if [ ! -s "$log" ]; then
	echo "console: $log is missing or empty" >&2
	exit 1
fi
# No known list: no pattern to drop (grep -v -f of nothing keeps all).
pats=/dev/null
if [ -n "$known" ]; then
	[ -f "$known" ] || { echo "console: no $known" >&2; exit 1; }
	pats=$(mktemp)
	grep -v '^#' "$known" | grep . > "$pats"
fi
hits=$(grep -E -n "$pattern" "$log" | grep -v -E -f "$pats" | head -n 10)
[ "$pats" = /dev/null ] || rm -f "$pats"
if [ -n "$hits" ]; then
	echo "console: kernel splat in $log:" >&2
	echo "$hits" | sed 's/^/  /' >&2
	# The first report whole (a CI log is often all there is of a run):
	# up to 40 lines from its first matching line.
	first=${hits%%:*}
	echo "console: first report, lines $first-$((first + 39)):" >&2
	sed -n "$first,$((first + 39))p" "$log" | sed 's/^/  | /' >&2
	exit 1
fi
exit 0
