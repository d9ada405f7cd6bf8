#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# deb.sh OUTDIR (make deb): the Debian packages of debian/, built with
# `dpkg-buildpackage -us -uc -b` from a copy of the tree in OUTDIR/src (the
# files git knows, edits included; never build/), so nothing of the tree
# itself is cleaned or rebuilt.  Leaves the .debs, the .changes and
# lintian's report (OUTDIR/lintian.txt) in OUTDIR; fails on a lintian
# error or warning (debian/*.lintian-overrides says why a tag is accepted).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$1
rm -rf "$out"
mkdir -p "$out/src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		tar --null -T - -cf - | tar -C "$out/src" -xf -
else
	tar --exclude=./build -cf - . | tar -C "$out/src" -xf -
fi
echo "  DEB      dpkg-buildpackage -us -uc -b (log: $out/build.log)"
if ! (cd "$out/src" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1; then
	tail -n 30 "$out/build.log"
	echo "Error: dpkg-buildpackage failed; the whole log is $out/build.log" >&2
	exit 1
fi
rm -rf "$out/src"
changes=$(ls "$out"/*.changes)
echo "  LINTIAN  $(basename "$changes")"
lintian --display-info --fail-on error,warning "$changes" >"$out/lintian.txt" 2>&1 && rc=0 || rc=$?
cat "$out/lintian.txt"
[ "$rc" -eq 0 ] || { echo "Error: lintian found errors or warnings (above)" >&2; exit 1; }
ls "$out"/*.deb
