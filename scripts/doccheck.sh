#!/bin/sh
# Check that the series leaves the kernel's reStructuredText parseable:
# parse each .rst file the series changes, at base and at HEAD, with
# docutils (Debian's python3-docutils), and fail on any message HEAD adds.
# Sphinx would be heavier to install and slower; the errors a patch can
# introduce (tables, literal blocks, indentation, section titles) are
# docutils' own, and Sphinx-only roles give the same messages on both sides.
set -eu
tree=build/linux
tmp=$tree/.git/doccheck

git -C "$tree" rev-parse -q --verify base >/dev/null ||
	{ echo "doccheck: no $tree with a base tag: run make tree" >&2; exit 1; }
# A parser that cannot start gives no messages, which would pass.
/usr/bin/python3 -c 'import docutils.core' ||
	{ echo "doccheck: no docutils for /usr/bin/python3: run make deps" >&2; exit 1; }

# messages REV FILE: docutils' messages on FILE at REV (none where the file
# does not exist), sorted, without line numbers, which move with the patch.
# Each step writes a file: a pipeline would lose a failed parse.
messages() {
	: > "$tmp.in"
	if git -C "$tree" cat-file -e "$1:$2" 2>/dev/null; then
		git -C "$tree" show "$1:$2" > "$tmp.in"
	fi
	/usr/bin/python3 -c '
import io, sys
import docutils.core
err = io.StringIO()
docutils.core.publish_doctree(sys.stdin.read(), settings_overrides={
	"report_level": 2, "halt_level": 5, "warning_stream": err})
sys.stdout.write(err.getvalue())' < "$tmp.in" > "$tmp.out" ||
		{ echo "doccheck: docutils failed on $2 at $1" >&2; exit 1; }
	sed -n 's/^<string>:[0-9]*: //p' "$tmp.out" | sort
}

files=$(git -C "$tree" diff --name-only base HEAD -- '*.rst')
rc=0
for f in $files; do
	messages base "$f" > "$tmp.base"
	messages HEAD "$f" > "$tmp.head"
	new=$(comm -13 "$tmp.base" "$tmp.head")
	if [ -n "$new" ]; then
		echo "doccheck: $f: new docutils messages:" >&2
		echo "$new" >&2
		rc=1
	else
		echo "doccheck: $f: no new docutils messages"
	fi
done
rm -f "$tmp.in" "$tmp.out" "$tmp.base" "$tmp.head"
exit $rc
