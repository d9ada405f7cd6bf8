#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# lab/build-module.sh: build the effect lab's host module,
# build/lab/vcpufreq_labhost.ko, against the test kernel (built first, or
# taken from the cache, by tests/vm/build-kernel.sh).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/build/lab
"$ROOT/tests/vm/build-kernel.sh" >&2
mkdir -p "$OUT/host"
cp "$ROOT"/lab/host/* "$OUT/host/"
if ! make -C "$ROOT/build/vm/obj" M="$OUT/host" W=1 modules >"$OUT/module.log" 2>&1 ||
	grep -q 'warning:' "$OUT/module.log"; then
	cat "$OUT/module.log" >&2
	echo "Error: building vcpufreq_labhost.ko failed or warned (log: $OUT/module.log)" >&2
	exit 1
fi
cp "$OUT/host/vcpufreq_labhost.ko" "$OUT/vcpufreq_labhost.ko"
printf '  %-9s %s\n' MODULE "$OUT/vcpufreq_labhost.ko" >&2
