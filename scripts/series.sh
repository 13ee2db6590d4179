#!/bin/sh
# Export build/linux base..HEAD as patches/: git format-patch with the cover
# letter text from cover-letter.txt (first line: subject; then the body).
# The output is stable: a re-export of an unchanged tree gives no diff.
# It refuses to overwrite changes made in patches/ since build/linux last
# took them (make tree) or gave them (make series); FORCE=1 overwrites.
set -eu

tree=build/linux
g() { git -C "$tree" "$@"; }
g rev-parse -q --verify base >/dev/null || { echo "series: no $tree: run make tree" >&2; exit 1; }
# A detached HEAD is a commit being looked at (make series-check), not the
# series: exporting it would drop the patches after it.
g symbolic-ref -q HEAD >/dev/null ||
	{ echo "series: $tree HEAD is detached: check out the series branch" >&2; exit 1; }

. "$(dirname "$0")/applied.sh"
sums=$(patch_sums patches)
if [ "$sums" != "$recorded_sums" ] && [ -z "${FORCE:-}" ]; then
	echo "series: patches/ changed since make tree or make series last ran:" >&2
	printf '%s\n%s\n' "$recorded_sums" "$sums" | sort | uniq -u |
		awk 'NF == 2 { print "  patches/" $2 }' | sort -u >&2
	echo "series: make tree applies them (it stops rather than lose work in $tree);" >&2
	echo "series: FORCE=1 make series overwrites them with $tree" >&2
	exit 1
fi

n=$(g rev-list --count base..HEAD)
rm -f patches/*.patch
mkdir -p patches
if [ "$n" -eq 0 ]; then
	write_record
	echo "series: no commits on base: empty series"
	exit 0
fi

format_patch "$PWD/patches"

# Fill the cover letter from the repository's text, and date it like the
# newest patch rather than "now", so that it too is stable.
cover=patches/0000-cover-letter.patch
subject=$(head -n 1 cover-letter.txt)
date=$(g log -1 --format='%ad' --date=rfc2822 HEAD)
awk -v subject="$subject" -v date="$date" -v body=cover-letter.txt '
	/^Date: / { print "Date: " date; next }
	/\*\*\* SUBJECT HERE \*\*\*/ { sub(/\*\*\* SUBJECT HERE \*\*\*/, subject) }
	/^\*\*\* BLURB HERE \*\*\*$/ {
		getline line < body	# the subject line
		getline line < body	# the blank line after it
		while ((getline line < body) > 0) print line
		next
	}
	{ print }' "$cover" > "$cover.tmp"
mv "$cover.tmp" "$cover"
# What patches/ now holds, for scripts/tree.sh: build/linux has no work that
# a later re-apply of patches/ would lose.
write_record
echo "series: $n patch(es) in patches/"
