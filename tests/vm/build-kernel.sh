#!/usr/bin/env bash
# tests/vm/build-kernel.sh [--arch arm64] [OUTDIR]: build the test kernel the
# VM harness boots (sched_ext, uclamp, cpufreq/schedutil, BTF, kprobes, 9p
# root) into OUTDIR/bzImage (default build/vm), from Debian's
# linux-source-6.12: `make tinyconfig` + tests/vm/kernel.config, with
# tests/vm/patches/*.patch applied (test-only exports for the effect lab).
# --arch arm64: the devicetree guest of tests/vm/arm64.sh instead,
# tests/vm/kernel-arm64.config cross-built into OUTDIR/Image (default
# build/vm-arm64), no patches.  Cached: rebuilt only when the image is
# missing or the sha256 of the fragment and the patches (IMAGE.sha256)
# changed.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
KSRC_TAR=${KSRC_TAR:-/usr/src/linux-source-6.12.tar.xz}

arch=x86_64
case "${1:-}" in
-h|--help)
	sed -n '2,11s/^# \{0,1\}//p' "$0"; exit 0 ;;
--arch)
	arch=${2:-}; shift 2 || true ;;
esac
case "$arch" in
x86_64)
	FRAGMENT=$HERE/kernel.config
	OUT=$(realpath -m "${1:-$ROOT/build/vm}")
	IMAGE=$OUT/bzImage
	KARCH=(ARCH=x86_64) KTARGET=bzImage BOOT_IMAGE=arch/x86/boot/bzImage
	PATCHES=("$HERE"/patches/*.patch) ;;
arm64)
	FRAGMENT=$HERE/kernel-arm64.config
	OUT=$(realpath -m "${1:-$ROOT/build/vm-arm64}")
	IMAGE=$OUT/Image
	KARCH=(ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-) KTARGET=Image
	BOOT_IMAGE=arch/arm64/boot/Image
	PATCHES=() ;;
*)
	echo "Error: --arch '$arch': give x86_64 or arm64" >&2; exit 1 ;;
esac
SRC=$OUT/linux-source-6.12
OBJ=$OUT/obj
STAMP=$IMAGE.sha256

say() { printf '  %-9s %s\n' "$1" "$2"; }
die() { echo "Error: $*" >&2; exit 1; }

[ -r "$FRAGMENT" ] || die "missing $FRAGMENT"
[ ${#PATCHES[@]} -eq 0 ] || [ -e "${PATCHES[0]}" ] || PATCHES=()
patched=$(cat ${PATCHES[@]+"${PATCHES[@]}"} | sha256sum | cut -d' ' -f1)
want=$(cat "$FRAGMENT" ${PATCHES[@]+"${PATCHES[@]}"} | sha256sum | cut -d' ' -f1)
if [ -s "$IMAGE" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
	say VM-KERNEL "cached $IMAGE"
	exit 0
fi

"$HERE/deps.sh"
mkdir -p "$OUT"
# one build at a time per OUTDIR
exec 9>"$OUT/.lock"
flock 9
if [ -s "$IMAGE" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
	say VM-KERNEL "cached $IMAGE (built by another run)"
	exit 0
fi

start=$SECONDS
# a tree patched with other patches is extracted anew (tar keeps the
# files' dates, so only what the patches touch is rebuilt)
if [ -f "$SRC/.extracted" ] && [ "$(cat "$SRC/.patched" 2>/dev/null)" != "$patched" ]; then
	rm -f "$SRC/.extracted"
fi
if [ ! -f "$SRC/.extracted" ]; then
	[ -r "$KSRC_TAR" ] || die "no kernel source at $KSRC_TAR; install the Debian package linux-source-6.12"
	say VM-KERNEL "extract $KSRC_TAR"
	rm -rf "$SRC"
	tar -C "$OUT" -xJf "$KSRC_TAR" || die "could not extract $KSRC_TAR into $OUT"
	[ -f "$SRC/Makefile" ] || die "$KSRC_TAR did not contain linux-source-6.12/"
	for p in ${PATCHES[@]+"${PATCHES[@]}"}; do
		say VM-KERNEL "patch ${p#"$ROOT"/}"
		patch -d "$SRC" -p1 --quiet --forward <"$p" >>"$OUT/patch.log" 2>&1 \
			|| die "${p#"$ROOT"/} does not apply to $KSRC_TAR (log: $OUT/patch.log)"
	done
	echo "$patched" >"$SRC/.patched"
	touch "$SRC/.extracted"
fi

say VM-KERNEL "config tinyconfig + ${FRAGMENT#"$ROOT"/}"
mkdir -p "$OBJ"
log=$OUT/build.log
: >"$log"
kmake() { make -C "$SRC" O="$OBJ" "${KARCH[@]}" "$@" >>"$log" 2>&1; }
kmake tinyconfig || { tail -n 30 "$log" >&2; die "make tinyconfig failed (log: $log)"; }
(cd "$OBJ" && "$SRC/scripts/kconfig/merge_config.sh" -m -O "$OBJ" .config "$FRAGMENT") >>"$log" 2>&1 \
	|| { tail -n 30 "$log" >&2; die "merging $FRAGMENT failed (log: $log)"; }
kmake olddefconfig || { tail -n 30 "$log" >&2; die "make olddefconfig failed (log: $log)"; }

# Kconfig silently drops options whose dependencies are unmet: check each one
missing=()
while IFS= read -r line; do
	line=${line%%#*}
	line=${line//[[:space:]]/}
	[ -n "$line" ] || continue
	grep -qxF "$line" "$OBJ/.config" || missing+=("$line (have: $(grep -E "^(# )?${line%%=*}[= ]" "$OBJ/.config" || echo unset))")
done < <(grep -E '^CONFIG_' "$FRAGMENT")
while IFS= read -r line; do	# "# CONFIG_X is not set" lines of the fragment
	opt=$(sed -E 's/^# (CONFIG_[A-Za-z0-9_]+) is not set.*/\1/' <<<"$line")
	grep -qE "^$opt=" "$OBJ/.config" && missing+=("$opt is not set (have: $(grep -E "^$opt=" "$OBJ/.config"))")
done < <(grep -E '^# CONFIG_[A-Za-z0-9_]+ is not set' "$FRAGMENT")
if [ ${#missing[@]} -gt 0 ]; then
	echo "Error: these kernel options from ${FRAGMENT#"$ROOT"/} did not end up in the .config" \
		"(unmet Kconfig dependencies; see $SRC/**/Kconfig):" >&2
	printf '  %s\n' "${missing[@]}" >&2
	exit 1
fi

say VM-KERNEL "build $KTARGET + Module.symvers (make -j$(nproc); log: $log)"
kmake -j"$(nproc)" "$KTARGET" modules || { tail -n 40 "$log" >&2; die "kernel build failed (log: $log)"; }
cp "$OBJ/$BOOT_IMAGE" "$IMAGE.tmp"
cp "$OBJ/.config" "$OUT/config"
mv "$IMAGE.tmp" "$IMAGE"
echo "$want" >"$STAMP"
say VM-KERNEL "built $IMAGE ($(make -s -C "$SRC" O="$OBJ" "${KARCH[@]}" kernelrelease 2>/dev/null), $((SECONDS - start)) s)"
