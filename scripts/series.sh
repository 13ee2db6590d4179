#!/bin/sh
# Export build/linux base..HEAD as patches/: git format-patch with the cover
# letter text from cover-letter.txt (first line: subject; then the body).
# The output is stable: a re-export of an unchanged tree gives no diff.
set -eu

tree=build/linux
git -C "$tree" rev-parse -q --verify base >/dev/null || { echo "series: no $tree: run make tree" >&2; exit 1; }
# A detached HEAD is a commit being looked at (make series-check), not the
# series: exporting it would drop the patches after it.
git -C "$tree" symbolic-ref -q HEAD >/dev/null ||
	{ echo "series: $tree HEAD is detached: check out the series branch" >&2; exit 1; }
n=$(git -C "$tree" rev-list --count base..HEAD)
rm -f patches/*.patch
mkdir -p patches
[ "$n" -gt 0 ] || { echo "series: no commits on base: empty series"; exit 0; }

git -C "$tree" format-patch -q --zero-commit --no-signature --base=base \
	--cover-letter -o "$PWD/patches" base..HEAD

# Fill the cover letter from the repository's text, and date it like the
# newest patch rather than "now", so that it too is stable.
cover=patches/0000-cover-letter.patch
subject=$(head -n 1 cover-letter.txt)
date=$(git -C "$tree" log -1 --format='%ad' --date=rfc2822 HEAD)
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
git -C "$tree" log -p --reverse base..HEAD | git patch-id --stable |
	cut -d' ' -f1 > "$tree/.git/patches-applied"
echo "series: $n patch(es) in patches/"
