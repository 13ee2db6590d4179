#!/bin/sh
# Install everything the harness needs, from Debian bookworm only.  Idempotent:
# apt-get skips what is already there.  Run as root or through sudo.
set -eu

. "$(dirname "$0")/../base.conf"
. "$(dirname "$0")/lib.sh"

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

# busybox-static is not co-installable across architectures; the arm64 one
# is only downloaded and unpacked (scripts/initramfs.sh), so the foreign
# architecture is needed for apt to see it.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	$SUDO dpkg --add-architecture arm64
fi
# QEMU's source package (make qemu-tree): a deb-src entry for the archive
# the machine already uses, made from its deb entries (deb822 or one-line).
srcdir=${APT_SOURCES_D:-/etc/apt/sources.list.d}
if [ ! -f "$srcdir/kvm-userfault-src.sources" ] && [ ! -f "$srcdir/kvm-userfault-src.list" ]; then
	if [ -f "$srcdir/debian.sources" ]; then
		sed 's/^Types: deb$/Types: deb-src/' "$srcdir/debian.sources" |
			$SUDO tee "$srcdir/kvm-userfault-src.sources" >/dev/null
	else
		sed -n 's/^deb \(.*debian.*\)/deb-src \1/p' "${srcdir%.d}" |
			$SUDO tee "$srcdir/kvm-userfault-src.list" >/dev/null
	fi
fi
$SUDO apt-get update -qq

$SUDO apt-get install -y -qq --no-install-recommends \
	xz-utils \
	make gcc libc6-dev bc bison flex libelf-dev libssl-dev cpio rsync \
	ccache sparse git perl python3 python3-docutils python3-ply python3-git \
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
	qemu-system-x86 qemu-system-arm \
	gnuplot-nox \
	dpkg-dev meson ninja-build pkg-config libglib2.0-dev libpixman-1-dev zlib1g-dev libfdt-dev \
	>/dev/null

# busybox for both guests, unpacked under build/ (never installed on the host).
deb=build/deb
mkdir -p "$deb"
for a in amd64 arm64; do
	[ -x "$deb/$a/bin/busybox" ] && continue
	(cd "$deb" && apt-get download -qq "busybox-static:$a")
	dpkg-deb -x "$deb"/busybox-static_*_"$a".deb "$deb/$a"
done
# The kernel base, pinned: its .deb is downloaded, never installed (apt
# would refuse the pinned version on a machine with a newer one), checked
# against base.conf's sha256 and unpacked by make tree.  If the archive
# dropped it, take the newest $BASE_SERIES so that a set-up still works,
# but say loudly that the base moved (base_deb says it again at each use).
if [ ! -f "$deb/linux-source-${BASE_SERIES}_${BASE_DEBVER}_all.deb" ]; then
	if apt-cache madison "linux-source-$BASE_SERIES" | grep -q " $BASE_DEBVER "; then
		(cd "$deb" && apt-get download -qq "linux-source-$BASE_SERIES=$BASE_DEBVER")
	elif ! ls "$deb"/linux-source-"$BASE_SERIES"_*_all.deb >/dev/null 2>&1; then
		echo "WARNING: linux-source-$BASE_SERIES $BASE_DEBVER is gone from the archive;" >&2
		echo "WARNING: downloading the newest $BASE_SERIES instead." >&2
		(cd "$deb" && apt-get download -qq "linux-source-$BASE_SERIES")
	fi
fi
base=$(base_deb)
echo "deps: kernel base $base, sha256 $(sha256sum < "$base" | cut -d' ' -f1)"
# QEMU's source, pinned like the kernel (base.conf): downloaded only;
# make qemu-tree unpacks it.  The same fallback, as loudly.
q=$deb/qemu
mkdir -p "$q"
if [ ! -f "$q/qemu_${QEMU_DEBVER#*:}.dsc" ]; then
	if ! (cd "$q" && apt-get source --download-only -qq "qemu=$QEMU_DEBVER" >/dev/null 2>&1) &&
		! ls "$q"/qemu_*.dsc >/dev/null 2>&1; then
		echo "WARNING: qemu $QEMU_DEBVER is gone from the archive;" >&2
		echo "WARNING: downloading the newest qemu instead." >&2
		(cd "$q" && apt-get source --download-only -qq qemu >/dev/null)
	fi
fi
dsc=$(qemu_dsc)
echo "deps: QEMU base $dsc, sha256 $(sha256sum < "$dsc" | cut -d' ' -f1)"
# Run as root (sudo make deps), what was made here would be root's: a later
# run as the user could not write build/.  Give it to the checkout's owner.
if [ "$(id -u)" -eq 0 ]; then
	owner=$(stat -c %u:%g .)
	chown "$owner" build
	chown -R "$owner" "$deb"
fi
echo "deps: done"
