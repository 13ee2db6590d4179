#!/bin/sh
# Export a series's work tree base..HEAD (SERIES=linux, the default:
# build/linux as patches/; SERIES=qemu: build/qemu as qemu/patches, see
# use_series in scripts/lib.sh): git format-patch with the cover letter text
# from its file (cover-letter.txt, qemu/cover-letter.txt; first line: the
# subject, then the body).
# The output is stable: a re-export of an unchanged tree gives no diff.
# It refuses to overwrite changes made in the export since the work tree
# last took them (make tree) or gave them (make series); FORCE=1 overwrites.
set -eu

. "$(dirname "$0")/lib.sh"
use_series "${SERIES:-linux}"
g() { git -C "$tree" "$@"; }
g rev-parse -q --verify base >/dev/null || { echo "series: no $tree: run make ${mk}tree" >&2; exit 1; }
# A detached HEAD is a commit being looked at (make series-check), not the
# series: exporting it would drop the patches after it.
g symbolic-ref -q HEAD >/dev/null ||
	{ echo "series: $tree HEAD is detached: check out the series branch" >&2; exit 1; }

. "$(dirname "$0")/applied.sh"
sums=$(patch_sums "$pdir")
if [ "$sums" != "$recorded_sums" ] && [ -z "${FORCE:-}" ]; then
	echo "series: $pdir/ changed since make ${mk}tree or make ${mk}series last ran:" >&2
	printf '%s\n%s\n' "$recorded_sums" "$sums" | sort | uniq -u |
		awk -v d="$pdir" 'NF == 2 { print "  " d "/" $2 }' | sort -u >&2
	echo "series: make ${mk}tree applies them (it stops rather than lose work in $tree);" >&2
	echo "series: FORCE=1 make ${mk}series overwrites them with $tree" >&2
	exit 1
fi

n=$(g rev-list --count base..HEAD)
rm -f "$pdir"/*.patch
mkdir -p "$pdir"
if [ "$n" -eq 0 ]; then
	write_record
	echo "series: no commits on base: empty series"
	exit 0
fi

format_patch "$PWD/$pdir"

# Fill the cover letter from the repository's text, and date it like the
# newest patch rather than "now", so that it too is stable.
letter=$pdir/0000-cover-letter.patch
subject=$(head -n 1 "$cover")
date=$(g log -1 --format='%ad' --date=rfc2822 HEAD)
awk -v subject="$subject" -v date="$date" -v body="$cover" '
	/^Date: / { print "Date: " date; next }
	/\*\*\* SUBJECT HERE \*\*\*/ { sub(/\*\*\* SUBJECT HERE \*\*\*/, subject) }
	/^\*\*\* BLURB HERE \*\*\*$/ {
		getline line < body	# the subject line
		getline line < body	# the blank line after it
		while ((getline line < body) > 0) print line
		next
	}
	{ print }' "$letter" > "$letter.tmp"
mv "$letter.tmp" "$letter"
# What $pdir now holds, for scripts/tree.sh: $tree has no work that a
# later re-apply of $pdir would lose.
write_record
echo "series: $n patch(es) in $pdir/"
