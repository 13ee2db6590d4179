#!/bin/sh
# Put into the test VM's root ROOT what QEMU's tests need to run there:
# qemu-system-x86_64 and migration-test (make qemu-build) in /qemu/bin,
# stripped; the host libraries they link (the VM has the host's Debian
# userspace libraries nowhere else), with the dynamic loader; and the
# firmware a pc machine loads (SeaBIOS, its VGA BIOS, the e1000 option ROM,
# kvmvapic, linuxboot_dma), from make deps's qemu-system-x86 packages, in
# the data directory QEMU finds beside its binary (../share/qemu).
set -eu
root=$1
obj=build/qemu-x86_64
mkdir -p "$root/qemu/bin" "$root/qemu/share/qemu"
for b in qemu-system-x86_64 tests/qtest/migration-test; do
	[ -x "$obj/$b" ] || { echo "qemu-payload: no $obj/$b: run make qemu-build" >&2; exit 1; }
	strip -o "$root/qemu/bin/${b##*/}" "$obj/$b"
	# "lib => /path (addr)" and the loader's "/path (addr)".
	for lib in $(ldd "$obj/$b" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		mkdir -p "$root${lib%/*}"
		cp -L "$lib" "$root$lib"
	done
done
for f in /usr/share/seabios/bios-256k.bin /usr/share/seabios/vgabios-stdvga.bin \
	/usr/lib/ipxe/qemu/efi-e1000.rom /usr/share/qemu/kvmvapic.bin \
	/usr/share/qemu/linuxboot_dma.bin; do
	cp -L "$f" "$root/qemu/share/qemu/"
done
# migration-test's x86 guest, for make qemu-bench: the boot sector that
# migration-test writes out of its header (a loop that writes every page
# of 1M-100M and prints B on the serial port after each pass).
awk 'function hex(s) { return index("0123456789abcdef", substr(s, 1, 1)) * 16 + index("0123456789abcdef", substr(s, 2, 1)) - 17 }
	{ for (i = 1; i <= NF; i++) if ($i ~ /^0x[0-9a-f][0-9a-f],?$/) printf "\\%03o", hex(substr($i, 3, 2)) }' \
	build/qemu/tests/migration/i386/a-b-bootblock.h > "$root/qemu/bootsect.esc"
# shellcheck disable=SC2059 # the escapes are the data
printf "$(cat "$root/qemu/bootsect.esc")" > "$root/qemu/share/qemu/migration-test-bootsect"
rm "$root/qemu/bootsect.esc"
[ "$(wc -c < "$root/qemu/share/qemu/migration-test-bootsect")" -eq 512 ] ||
	{ echo "qemu-payload: the boot sector is not 512 bytes" >&2; exit 1; }
