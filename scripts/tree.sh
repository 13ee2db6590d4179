#!/bin/sh
# Make the work tree of a series (SERIES=linux, the default: build/linux
# from patches/; SERIES=qemu: build/qemu from qemu/patches, see use_series
# in scripts/lib.sh): the pinned Debian source (the kernel's linux-source
# .deb, base_deb; QEMU's source package, qemu_dsc; both in build/deb) as a
# git repository whose "base" tag is the pristine tree, with the series
# applied on top by git am.
# Re-running it re-applies the series from base when its patches changed
# since the last apply or export (scripts/applied.sh), unless that would
# lose work.
set -eu

. "$(dirname "$0")/../base.conf"
. "$(dirname "$0")/lib.sh"
use_series "${SERIES:-linux}"
g() { git -C "$tree" "$@"; }

# Fixed identity and dates make the base commit id the same on every machine,
# so "base-commit:" in the exported series is stable.
export GIT_AUTHOR_NAME="KVM Userfault harness" GIT_AUTHOR_EMAIL="harness@localhost"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"

if [ -e "$tree" ]; then
	# An existing tree may hold work: whatever keeps git from finding base
	# (a deleted tag, git's ownership check), say so and touch nothing.
	if ! why=$(g rev-parse --verify 'base^{commit}' 2>&1 >/dev/null); then
		echo "tree: $tree exists but git finds no tag base in it:" >&2
		echo "$why" | sed 's/^/  /' >&2
		echo "tree: nothing was removed; fix that, or move $tree away for a fresh one" >&2
		exit 1
	fi
else
	# Unpacked aside and moved in whole: an interrupted unpack leaves no
	# work tree that a later run would have to judge.
	new=$tree.new
	rm -rf "$new"
	case ${SERIES:-linux} in
	linux)
		deb=$(base_deb)
		version=$(dpkg-deb -f "$deb" Version)
		echo "tree: unpacking $deb"
		mkdir -p "$new"
		dpkg-deb --fsys-tarfile "$deb" | tar -xOf - "./usr/src/linux-source-$BASE_SERIES.tar.xz" |
			tar -xJf - -C "$new" --strip-components=1
		[ -f "$new/Makefile" ] || { echo "tree: no kernel source in $deb" >&2; exit 1; }
		title="Linux $version (Debian linux-source-$BASE_SERIES)"
		origin="linux-source-$BASE_SERIES $version, .deb sha256 $(sha256sum < "$deb" | cut -d' ' -f1)"
		;;
	qemu)
		dsc=$(qemu_dsc)
		version=$(sed -n 's/^Version: //p' "$dsc")
		echo "tree: unpacking $dsc"
		# dpkg-source checks the tarballs against the .dsc and applies
		# Debian's patches: the base is QEMU as Debian builds it.  Its
		# record of the applied patches (.pc) is not source.  The .dsc's
		# signature can't be checked (no Debian keyring): its sha256 was.
		if ! log=$(dpkg-source -q -x "$dsc" "$new" 2>&1); then
			echo "$log" >&2
			echo "tree: dpkg-source could not unpack $dsc" >&2
			exit 1
		fi
		rm -rf "$new/.pc"
		[ -f "$new/configure" ] || { echo "tree: no QEMU source in $dsc" >&2; exit 1; }
		title="QEMU $version (Debian qemu source package)"
		origin="qemu $version, .dsc sha256 $(sha256sum < "$dsc" | cut -d' ' -f1)"
		;;
	esac
	git -C "$new" init -q
	git -C "$new" config user.name "$GIT_AUTHOR_NAME"
	git -C "$new" config user.email "$GIT_AUTHOR_EMAIL"
	git -C "$new" config gc.auto 0
	# The kernel tarball's .gitignore is "/*": force-add everything.
	git -C "$new" add -f -A .
	GIT_AUTHOR_DATE="2000-01-01T00:00:00Z" GIT_COMMITTER_DATE="2000-01-01T00:00:00Z" \
		git -C "$new" commit -q -m "$title"
	git -C "$new" tag base
	# Which .deb the base came from, for every later run to say.
	echo "$origin" > "$new/.git/harness-base"
	mv "$new" "$tree"
fi
# Say which base this run builds on.
echo "tree: base: $(cat "$tree/.git/harness-base" 2>/dev/null ||
	echo "$(g log -1 --format=%s base), .deb not recorded (unpacked by an older make tree)")"

. "$(dirname "$0")/applied.sh"
head=$(g rev-parse HEAD)
sums=$(patch_sums "$pdir")
dirty=$(g status --porcelain --untracked-files=no)
if [ "$head" = "$recorded_head" ] && [ "$sums" = "$recorded_sums" ]; then
	if [ -n "$dirty" ]; then
		echo "tree: $tree matches $pdir/ but has uncommitted changes: using them"
	else
		echo "tree: $tree already matches $pdir/"
	fi
	exit 0
fi

# $pdir changed, or $tree has commits since.  Re-apply $pdir
# from base, unless that would throw away work done in $tree:
# uncommitted changes, or commits that "make series" hasn't exported.
if [ -n "$dirty" ]; then
	echo "tree: $tree has uncommitted changes and differs from $pdir/:" >&2
	echo "tree: commit them and run make ${mk}series, or discard them" >&2
	exit 1
fi
if [ "$head" != "$recorded_head" ] && [ "$head" != "$(g rev-parse base)" ]; then
	if [ "$sums" = "$recorded_sums" ]; then
		echo "tree: $tree has commits that $pdir/ lacks: run make ${mk}series," >&2
	else
		echo "tree: $tree has commits that $pdir/ lacks, and $pdir/ changed too:" >&2
		echo "tree: merge them by hand; FORCE=1 make ${mk}series keeps $tree's," >&2
	fi
	echo "tree: or \"git -C $tree reset --hard base\" to drop them" >&2
	exit 1
fi

g checkout -q -f -B series base
for p in "$pdir"/[0-9]*.patch; do
	[ -e "$p" ] || continue
	case "$p" in */0000-*) continue ;; esac
	if ! g am -q --keep-cr "$PWD/$p" >/dev/null 2>&1; then
		g am --abort >/dev/null 2>&1 || true
		# What did apply came from $pdir: back to base, so that the
		# next run re-applies rather than take it for work.
		g reset -q --hard base
		echo "tree: $p does not apply on base" >&2
		exit 1
	fi
done
write_record
echo "tree: $(g rev-list --count base..HEAD) patch(es) applied on base"
