#!/bin/sh
# make series-check: what a maintainer checks before taking the series.
#  - scripts/checkpatch.pl --strict on every patch in patches/;
#  - every commit of base..HEAD builds the KVM objects of every arch
#    (bisectable), incrementally in the debug build directories;
#  - at HEAD, W=1 and sparse (C=2) on the KVM objects report nothing on the
#    lines of the C files the series touches that they don't report at base.
# Needs "make build" for each arch first (it uses the configured trees).
set -eu
: "${ARCHES:=x86_64 arm64}"
tree=build/linux
g() { git -C "$tree" "$@"; }

rc=0
for p in patches/[0-9]*.patch; do
	case "$p" in */0000-*) continue ;; esac
	# checkpatch finds its data files (spelling, const structs) from the
	# kernel tree it runs in.  It asks whether MAINTAINERS needs updating
	# for every new file; answer that below instead of ignoring it.
	# Its SPDX check runs python3 with the ply and git modules, which make
	# deps installs for Debian's python3: put that one first in PATH, in
	# case another python3 (pyenv, a venv) comes first.
	if ! out=$(cd "$tree" && PATH=/usr/bin:$PATH ./scripts/checkpatch.pl --strict -q \
			--ignore FILE_PATH_CHANGES "$OLDPWD/$p" 2>&1); then
		echo "series-check: checkpatch: $p" >&2
		echo "$out" >&2
		rc=1
	fi
	# The files a patch adds: a "diff --git" header, then "new file mode".
	for f in $(awk '/^diff --git / { f = substr($4, 3) } /^new file mode/ { print f }' "$p"); do
		if ! (cd "$tree" && ./scripts/get_maintainer.pl --no-git -f "$f" 2>/dev/null | grep -q '(maintainer'); then
			echo "series-check: $p: new file $f has no maintainer in MAINTAINERS" >&2
			rc=1
		fi
	done
done
[ $rc = 0 ] && echo "series-check: checkpatch --strict clean; new files are covered by MAINTAINERS"

[ -z "$(g status --porcelain --untracked-files=no)" ] ||
	{ echo "series-check: $tree has uncommitted changes" >&2; exit 1; }
branch=$(g symbolic-ref -q --short HEAD) || { echo "series-check: $tree HEAD is detached" >&2; exit 1; }
trap 'g checkout -q "$branch"' EXIT INT TERM

. "$(dirname "$0")/lib.sh"
# archmake ARCH target...: build in the arch's debug tree, stderr to stdout.
archmake() {
	(FLAVOUR=debug; use_arch "$1"; shift; kmake "$tree" "$PWD/$out/kernel" "$@" 2>&1)
}
kvmdir() { (use_arch "$1"; echo "arch/$KARCH/kvm/"); }

built=yes
for c in $(g rev-list --reverse base..HEAD); do
	g checkout -q "$c"
	for a in $ARCHES; do
		if ! out=$(archmake "$a" "$(kvmdir "$a")"); then
			echo "series-check: $(g log -1 --format=%s "$c"): $a build failed" >&2
			echo "$out" | tail -20 >&2
			rc=1 built=
		fi
	done
done
[ -z "$built" ] || echo "series-check: every commit built for $ARCHES"

# Warnings are compared without line numbers, which the series moves.
files=$(g diff --name-only base "$branch" -- '*.c' '*.h' | grep -v '^tools/' || true)
pattern=$(echo "$files" | sed 's/[.]/[.]/g' | paste -sd'|')
# warnings REV ARCH: the build's log goes to a file first, so that a
# failed build is seen rather than lost in the pipe (and read as clean).
warnings() {
	g checkout -q "$1"
	log=build/$2-debug/warnings.log
	if ! archmake "$2" W=1 C=2 "$(kvmdir "$2")" > "$log"; then
		echo "series-check: $2: the W=1/sparse build at $1 failed:" >&2
		tail -20 "$log" >&2
		return 1
	fi
	# Paths come out absolute, and virt/kvm as arch/*/kvm/../../../virt/kvm.
	sed -e "s#^$PWD/$tree/##" -e 's#^arch/[^/]*/kvm/\.\./\.\./\.\./##' "$log" |
		grep -E "^($pattern):[0-9]+:" |
		sed -E 's/:[0-9]+(:[0-9]+)?:/:/' | sort -u
}
for a in $ARCHES; do
	warnings base "$a" > "build/$a-debug/warnings.base" &&
		warnings "$branch" "$a" > "build/$a-debug/warnings.head" ||
		{ rc=1; continue; }
	new=$(comm -13 "build/$a-debug/warnings.base" "build/$a-debug/warnings.head")
	if [ -n "$new" ]; then
		echo "series-check: $a: new W=1/sparse warnings in touched files:" >&2
		echo "$new" >&2
		rc=1
	else
		echo "series-check: $a: no new W=1/sparse warnings in touched files"
	fi
done
exit $rc
