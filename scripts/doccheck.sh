#!/bin/sh
# Check that the series leaves the kernel's reStructuredText parseable:
# parse each .rst file the series changes, at base and at HEAD, with
# docutils (Debian's python3-docutils), and fail on any message HEAD adds.
# Sphinx would be heavier to install and slower; the errors a patch can
# introduce (tables, literal blocks, indentation, section titles) are
# docutils' own, and Sphinx-only roles give the same messages on both sides.
set -eu
tree=build/linux

messages() {
	git -C "$tree" show "$1:$2" | /usr/bin/python3 -c '
import io, sys
import docutils.core
err = io.StringIO()
docutils.core.publish_doctree(sys.stdin.read(), settings_overrides={
	"report_level": 2, "halt_level": 5, "warning_stream": err})
sys.stdout.write(err.getvalue())' |
		# Line numbers move with the patch: compare the messages only.
		sed -n 's/^<string>:[0-9]*: //p' | sort
}

rc=0
for f in $(git -C "$tree" diff --name-only base HEAD -- '*.rst'); do
	messages base "$f" > "$tree/.doc-base"
	messages HEAD "$f" > "$tree/.doc-head"
	new=$(comm -13 "$tree/.doc-base" "$tree/.doc-head")
	if [ -n "$new" ]; then
		echo "doccheck: $f: new docutils messages:" >&2
		echo "$new" >&2
		rc=1
	else
		echo "doccheck: $f: no new docutils messages"
	fi
done
rm -f "$tree/.doc-base" "$tree/.doc-head"
exit $rc
