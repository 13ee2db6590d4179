#!/bin/sh
# Summarise the TAP of one VM run: print "LABEL: N passed, N failed,
# N skipped" plus one line per failed test, and exit 1 on a failed test or
# an incomplete run (no plan, fewer results than planned, bad numbering) or
# an empty one (plan 1..0);
# a result that never came counts as failed.  The last line on stdout is
# "counts P F S" for the caller to add up.
set -u
tap=$1 label=$2
if [ ! -s "$tap" ]; then
	echo "$label: no TAP output in $tap"
	echo "counts 0 1 0"
	exit 1
fi
awk -v label="$label" -v tap="$tap" '
	/^1\.\.[0-9]+/ && !seen { seen = 1; plan = substr($1, 4) + 0; next }
	/^(not )?ok [0-9]+/ {
		n++
		num = ($1 == "not") ? $3 : $2
		if (num != n && bad == "") bad = "result " num " out of order (expected " n ")"
		if ($1 == "not") { failed++; fails = fails "  FAIL " $0 "\n"; next }
		if ($0 ~ /# *SKIP/) skipped++; else passed++
	}
	END {
		missing = 0
		if (!seen) { note = "no TAP plan"; missing = 1 }
		else if (!plan) { note = "empty plan 1..0: no test ran"; missing = 1 }
		else if (n < plan) { note = (plan - n) " of " plan " results missing: run cut short"; missing = plan - n }
		else if (n > plan) { note = n " results for a plan of " plan; missing = 1 }
		if (bad != "") { note = bad; missing += 1 }
		printf "%s: %d passed, %d failed, %d skipped\n", label, passed, failed + missing, skipped
		printf "%s", fails
		if (note != "") print "  " note
		if (failed + missing) print "  log: " tap
		printf "counts %d %d %d\n", passed, failed + missing, skipped
		exit (failed + missing) > 0
	}' "$tap"
