#!/usr/bin/env bash
# qemu/build.sh [-j N]: build qemu-system-aarch64 with the virtual cpufreq
# device (qemu/patches/*.patch) into build/qemu/qemu-system-aarch64, from
# Debian's QEMU source package (7.2+dfsg-7+deb12u18, Debian's own patches
# applied by dpkg-source, then ours), linked with build/libvcpufreq.a
# (run by `make qemu`, which builds the library first).  Cached: rebuilt
# only when the binary is missing or the sha256 of the patches, this
# script and the library (IMAGE.sha256) changed; changed patches are
# swapped in place, so a rebuild recompiles only what they touch.  Needs
# a deb-src entry for Debian's mirror (added to /etc/apt/sources.list.d/
# debian-src.sources when there is none) and the packages of
# `scripts/deps.sh --vm`.  -j N: ninja's jobs (default 2).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
VERSION=1:7.2+dfsg-7+deb12u18
DSC=qemu_7.2+dfsg-7+deb12u18.dsc
OUT=$ROOT/build/qemu
SRC=$OUT/src/qemu-7.2+dfsg
OBJ=$OUT/obj
IMAGE=$OUT/qemu-system-aarch64
STAMP=$IMAGE.sha256
LIB=$ROOT/build/libvcpufreq.a
LIBBPF=$ROOT/build/libbpf/libbpf.a
JOBS=2

case "${1:-}" in
-h|--help)
	sed -n '2,13s/^# \{0,1\}//p' "$0"; exit 0 ;;
-j)
	JOBS=${2:?"-j needs a number"} ;;
-j*)
	JOBS=${1#-j} ;;
'') ;;
*)
	echo "Error: unknown option '$1'; see qemu/build.sh --help" >&2; exit 1 ;;
esac

say() { printf '  %-9s %s\n' "$1" "$2"; }
die() { echo "Error: $*" >&2; exit 1; }

PATCHES=("$HERE"/patches/*.patch)
[ -e "${PATCHES[0]}" ] || die "no patches in $HERE/patches"
for f in "$LIB" "$LIBBPF"; do
	[ -r "$f" ] || die "missing $f: run \`make\` first (\`make qemu\` does)"
done
patched=$(cat "${PATCHES[@]}" | sha256sum | cut -d' ' -f1)
want=$(cat "${PATCHES[@]}" "$0" "$LIB" "$LIBBPF" | sha256sum | cut -d' ' -f1)
if [ -x "$IMAGE" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
	say QEMU "cached $IMAGE"
	exit 0
fi

mkdir -p "$OUT/src"
# one build at a time
exec 9>"$OUT/.lock"
flock 9
if [ -x "$IMAGE" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
	say QEMU "cached $IMAGE (built by another run)"
	exit 0
fi
start=$SECONDS

# ---- the source package, fetched once ----------------------------------
has_deb_src() {
	grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list \
		/etc/apt/sources.list.d/
}
if [ ! -f "$OUT/src/$DSC" ]; then
	if ! has_deb_src; then
		[ -r /etc/apt/sources.list.d/debian.sources ] ||
			die "no deb-src entry in /etc/apt and no /etc/apt/sources.list.d/debian.sources to copy one from: add a deb-src line for your Debian mirror"
		say QEMU "add deb-src entries (/etc/apt/sources.list.d/debian-src.sources)"
		sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
			>/etc/apt/sources.list.d/debian-src.sources
		apt-get update -qq || die "apt-get update failed"
	fi
	say QEMU "apt-get source qemu=$VERSION"
	(cd "$OUT/src" && apt-get source -q --download-only "qemu=$VERSION") \
		>"$OUT/fetch.log" 2>&1 || die "apt-get source qemu=$VERSION failed (log: $OUT/fetch.log)"
fi

# ---- unpacked (Debian's patches applied) and patched with ours ---------
# Changed patches are swapped in place: the old ones reversed, the new
# ones applied, so that only the files they touch get a new date and
# ninja recompiles only those (a tree unpacked anew would give Debian's
# patched files, headers included everywhere among them, new dates too).
unpack() {
	rm -rf "$SRC"
	say QEMU "dpkg-source -x $DSC"
	(cd "$OUT/src" && dpkg-source -x "$DSC") >"$OUT/unpack.log" 2>&1 ||
		die "dpkg-source -x failed (log: $OUT/unpack.log)"
	mkdir -p "$SRC/.vcpufreq-patches"
}
unapply_old() {	# reverse the patches applied last time, newest first
	local p
	for p in $(find "$SRC/.vcpufreq-patches" -name '*.patch' | sort -r); do
		say QEMU "unpatch ${p##*/} (the previous version)"
		patch -d "$SRC" -p1 -R --quiet <"$p" >>"$OUT/unpack.log" 2>&1 || return 1
		rm -f "$p"
	done
}
if [ "$(cat "$SRC/.patched" 2>/dev/null)" != "$patched" ]; then
	[ -d "$SRC/.vcpufreq-patches" ] && unapply_old || unpack
	rm -f "$SRC/.patched"
	for p in "${PATCHES[@]}"; do
		say QEMU "patch ${p#"$ROOT"/}"
		patch -d "$SRC" -p1 --quiet --forward <"$p" >>"$OUT/unpack.log" 2>&1 ||
			die "${p#"$ROOT"/} does not apply to QEMU $VERSION (log: $OUT/unpack.log)"
		cp "$p" "$SRC/.vcpufreq-patches/"
	done
	echo "$patched" >"$SRC/.patched"
fi

# ---- libvcpufreq for meson, as an installed library would be found -----
mkdir -p "$OUT/pkgconfig"
cat >"$OUT/pkgconfig/vcpufreq.pc" <<EOF
Name: vcpufreq
Description: vcpufreq-bpf's libvcpufreq, from $ROOT/build
Version: 0.1.0
Libs: $LIB $LIBBPF -lelf -lz
Cflags: -I$ROOT/include
EOF

if [ ! -f "$OBJ/build.ninja" ]; then
	say QEMU "configure --target-list=aarch64-softmmu"
	mkdir -p "$OBJ"
	(cd "$OBJ" && PKG_CONFIG_PATH=$OUT/pkgconfig "$SRC/configure" \
		--target-list=aarch64-softmmu --without-default-features \
		--disable-docs --disable-tools --disable-user --disable-install-blobs \
		--enable-fdt=system --enable-vcpufreq) >"$OUT/configure.log" 2>&1 ||
		{ tail -n 20 "$OUT/configure.log" >&2; die "configure failed (log: $OUT/configure.log)"; }
fi
# relinked whenever the library changed: meson does not know the .a files
rm -f "$OBJ/qemu-system-aarch64"
say QEMU "ninja qemu-system-aarch64 (-j$JOBS, log: $OUT/build.log)"
PKG_CONFIG_PATH=$OUT/pkgconfig ninja -C "$OBJ" -j "$JOBS" qemu-system-aarch64 \
	>"$OUT/build.log" 2>&1 ||
	{ grep -E 'error|FAILED' "$OUT/build.log" | head -n 20 >&2; die "the QEMU build failed (log: $OUT/build.log)"; }
cp "$OBJ/qemu-system-aarch64" "$IMAGE.tmp"
mv "$IMAGE.tmp" "$IMAGE"
echo "$want" >"$STAMP"
say QEMU "built $IMAGE in $((SECONDS - start)) s"
