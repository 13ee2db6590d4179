#!/bin/sh
# Fail (exit 1) if a kernel console log shows a warning, bug, sanitizer or
# lockdep report, or a panic; print the offending lines and the log's path.
set -u
log=$1
pattern='WARNING:|BUG:|Oops|KASAN|possible circular locking|inconsistent lock state|sleeping function called|blocked for more than|Call Trace|Kernel panic'
if hits=$(grep -E -n -m 10 "$pattern" "$log"); then
	echo "console: kernel splat in $log:" >&2
	echo "$hits" | sed 's/^/  /' >&2
	exit 1
fi
exit 0
