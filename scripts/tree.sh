#!/bin/sh
# Make build/linux: the pinned Debian source as a git repository whose
# "base" tag is the pristine tree, with patches/ applied on top by git am.
# Re-running it re-applies patches/ from base when the two differ.
set -eu

. "$(dirname "$0")/../base.conf"
tree=build/linux
tarball=/usr/src/linux-source-$BASE_SERIES.tar.xz
g() { git -C "$tree" "$@"; }

# Fixed identity and dates make the base commit id the same on every machine,
# so "base-commit:" in the exported series is stable.
export GIT_AUTHOR_NAME="KVM Userfault harness" GIT_AUTHOR_EMAIL="harness@localhost"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"

if ! g rev-parse -q --verify base >/dev/null 2>&1; then
	[ -r "$tarball" ] || { echo "tree: $tarball missing: run the set-up command (make deps)" >&2; exit 1; }
	echo "tree: unpacking $tarball"
	rm -rf "$tree"
	mkdir -p "$tree"
	tar -xf "$tarball" -C "$tree" --strip-components=1
	g init -q
	g config user.name "$GIT_AUTHOR_NAME"
	g config user.email "$GIT_AUTHOR_EMAIL"
	g config gc.auto 0
	# The Debian tarball's .gitignore is "/*": force-add everything.
	g add -f -A .
	GIT_AUTHOR_DATE="2000-01-01T00:00:00Z" GIT_COMMITTER_DATE="2000-01-01T00:00:00Z" \
		g commit -q -m "Linux $(dpkg-query -W -f='${Version}' "linux-source-$BASE_SERIES" 2>/dev/null || echo "$BASE_SERIES") (Debian linux-source-$BASE_SERIES)"
	g tag base
fi

ids() { git patch-id --stable | cut -d' ' -f1; }
want=$(cat /dev/null patches/[0-9]*.patch 2>/dev/null | ids)
have=$(g log -p --reverse base..HEAD | ids)
dirty=$(g status --porcelain --untracked-files=no)
if [ "$want" = "$have" ]; then
	if [ -n "$dirty" ]; then
		echo "tree: build/linux matches patches/ but has uncommitted changes: using them"
	else
		echo "tree: build/linux already matches patches/"
	fi
	exit 0
fi

# patches/ changed.  Re-apply it, unless that would throw away work done in
# build/linux: uncommitted changes, or commits made since the last apply
# (recorded in $applied) that "make series" hasn't exported yet.
applied=$tree/.git/patches-applied
if [ -n "$dirty" ]; then
	echo "tree: build/linux has uncommitted changes and differs from patches/:" >&2
	echo "tree: commit them and run make series, or discard them" >&2
	exit 1
fi
if [ "$(g rev-parse HEAD)" != "$(g rev-parse base)" ] &&
   ! { [ -f "$applied" ] && [ "$have" = "$(cat "$applied")" ]; }; then
	echo "tree: build/linux has commits that patches/ lacks: run make series," >&2
	echo "tree: or \"git -C $tree reset --hard base\" to drop them" >&2
	exit 1
fi

g checkout -q -f -B series base
for p in patches/[0-9]*.patch; do
	[ -e "$p" ] || continue
	case "$p" in */0000-*) continue ;; esac
	if ! g am -q --keep-cr "$PWD/$p" >/dev/null 2>&1; then
		g am --abort >/dev/null 2>&1 || true
		echo "tree: $p does not apply on base" >&2
		exit 1
	fi
done
g log -p --reverse base..HEAD | ids > "$applied"
echo "tree: $(g rev-list --count base..HEAD) patch(es) applied on base"
