#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# check-exports.sh LIB HEADER...: the global symbols LIB defines are
# exactly the functions HEADERs declare VCPUFREQ_API (include/vcpufreq/
# api.h): nothing internal leaks to a VMM, nothing public went missing.
set -eu

lib=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

grep -ho '^VCPUFREQ_API[^(;]*(' "$@" | sed 's/.*[^a-z0-9_]\([a-z0-9_]*\)($/\1/' |
	sort -u >"$tmp/declared"
nm -g --defined-only "$lib" | awk 'NF == 3 { print $3 }' | sort -u >"$tmp/exported"

status=0
for sym in $(comm -13 "$tmp/declared" "$tmp/exported"); do
	echo "Error: $lib exports $sym, which no public header declares VCPUFREQ_API" >&2
	status=1
done
for sym in $(comm -23 "$tmp/declared" "$tmp/exported"); do
	echo "Error: $lib does not define $sym, declared VCPUFREQ_API" >&2
	status=1
done
exit $status
