# Sourced by scripts/tree.sh and scripts/series.sh (with use_series's
# $tree, $pdir and $SERIES_PREFIX, and g() set): what $pdir and $tree held
# when tree.sh last applied $pdir or series.sh last exported $tree.  The
# record is exact, so that an edit to a changelog or to whitespace in $pdir
# counts as a change:
#   HEAD <commit of $tree>
#   <sha256>  <name>     one line per patch file, the cover letter left out
# "none" in place of either means unknown: it counts as changed.
record=$tree/.git/harness-applied

# patch_sums DIR: the checksum of each patch in DIR, as in the record.
patch_sums() {
	[ -d "$1" ] || return 0
	(cd "$1" && for p in [0-9]*.patch; do
		[ -e "$p" ] || continue
		case "$p" in 0000-*) continue ;; esac
		sha256sum "$p"
	done)
}
# format_patch DIR: base..HEAD as patches in DIR, as series.sh exports them
# (the cover letter numbers the patches and takes the base-commit line).
format_patch() {
	g format-patch -q --zero-commit --no-signature --base=base \
		--subject-prefix="$SERIES_PREFIX" --cover-letter -o "$1" base..HEAD
}
write_record() {
	{ echo "HEAD $(g rev-parse HEAD)"; patch_sums "$pdir"; } > "$record"
}

# A tree made by the older scripts has no record, only the git patch-ids
# (blind to changelogs and whitespace) of its last apply or export in
# .git/patches-applied.  Translate it once, losing nothing: if build/linux
# exports exactly to patches/, the two match; otherwise each side is
# unchanged if its patch-ids are those recorded, as the old scripts judged,
# unless both are (an edit the patch-ids cannot see, on an unknown side).
if [ ! -f "$record" ]; then
	head=none sums=none
	dir=$(mktemp -d)
	format_patch "$dir"
	if [ "$(patch_sums "$dir")" = "$(patch_sums "$pdir")" ]; then
		head=HEAD sums=yes
	elif [ -f "$tree/.git/patches-applied" ]; then
		ids() { git patch-id --stable | cut -d' ' -f1; }
		old=$(cat "$tree/.git/patches-applied")
		h=$(g log -p --reverse base..HEAD | ids)
		p=$(cat /dev/null "$pdir"/[0-9]*.patch 2>/dev/null | ids)
		if [ "$h" != "$old" ] || [ "$p" != "$old" ]; then
			[ "$h" != "$old" ] || head=HEAD
			[ "$p" != "$old" ] || sums=yes
		fi
	elif [ "$(g rev-parse HEAD)" = "$(g rev-parse base)" ]; then
		head=HEAD	# nothing to lose: tree.sh applies patches/
	else
		sums=yes	# commits of unknown origin: series.sh exports them
	fi
	rm -rf "$dir"
	{
		if [ $head = HEAD ]; then echo "HEAD $(g rev-parse HEAD)"; else echo "HEAD none"; fi
		if [ $sums = yes ]; then patch_sums "$pdir"; else echo none; fi
	} > "$record"
fi
recorded_head=$(sed -n '1s/^HEAD //p' "$record")
recorded_sums=$(sed 1d "$record")
