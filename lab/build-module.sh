#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# lab/build-module.sh [--arm64]: build the effect lab's modules against the
# test kernel (built first, or taken from the cache, by
# tests/vm/build-kernel.sh):
#   build/lab/vcpufreq_labhost.ko  the emulated host (lab/host)
#   build/lab/vcpufreq_labio.ko    the iowait device (lab/io)
# --arm64: only the device, for the arm64 guest kernel (lab/fidelity.sh):
#   build/lab/arm64/vcpufreq_labio.ko
# Each with W=1; a warning fails the build.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/build/lab

# build SRC_DIR KERNEL_OBJ DEST [MAKE_ARG...]: one module folder
build() {
	local src=$1 kobj=$2 dest=$3 tmp; shift 3
	tmp=$dest/$(basename "$src")
	mkdir -p "$tmp"
	cp "$src"/* "$tmp/"
	if ! make -C "$kobj" M="$tmp" W=1 "$@" modules >"$tmp/module.log" 2>&1 ||
		grep -q 'warning:' "$tmp/module.log"; then
		cat "$tmp/module.log" >&2
		echo "Error: building the module in $src failed or warned (log: $tmp/module.log)" >&2
		exit 1
	fi
	local ko
	for ko in "$tmp"/*.ko; do
		cp "$ko" "$dest/"
		printf '  %-9s %s\n' MODULE "$dest/${ko##*/}" >&2
	done
}

if [ "${1:-}" = --arm64 ]; then
	"$ROOT/tests/vm/build-kernel.sh" --arch arm64 >&2
	build "$ROOT/lab/io" "$ROOT/build/vm-arm64/obj" "$OUT/arm64" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-
	exit 0
fi
"$ROOT/tests/vm/build-kernel.sh" >&2
build "$ROOT/lab/host" "$ROOT/build/vm/obj" "$OUT"
build "$ROOT/lab/io" "$ROOT/build/vm/obj" "$OUT"
