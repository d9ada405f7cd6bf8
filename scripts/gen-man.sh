#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# gen-man.sh OUTDIR VCPUFREQ_BPF BRIDGE VCPUFREQ_LIBVIRT: the man pages,
# section 8, from what each program prints for --help, so that a page
# never says other than --help does.  vcpufreq-bpf gets a page, and one
# per command of its command table (vcpufreq-bpf-load(8), ...), from
# `vcpufreq-bpf --help` and `vcpufreq-bpf COMMAND --help`; the bridge's
# and vcpufreq-libvirt's --help are already in sections (NAME, SYNOPSIS,
# ...), which become the page's sections.
set -eu
[ $# -eq 4 ] || { echo "Usage: $0 OUTDIR VCPUFREQ_BPF BRIDGE VCPUFREQ_LIBVIRT" >&2; exit 2; }
out=$1 vf=$2 bridge=$3 libvirt=$4
mkdir -p "$out"
# the page's date: the source's, not the build's (reproducible builds)
date=$(date -u -d "@${SOURCE_DATE_EPOCH:-0}" +%Y-%m-%d)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# roff-safe text: backslashes, and a line may not start with . or '
roff() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }

header() {	# header NAME: the title line
	printf '.TH %s 8 "%s" "vcpufreq-bpf" "System Administration"\n' \
		"$(echo "$1" | tr a-z A-Z)" "$date"
}

verbatim() {	# the lines of stdin as they are, in a no-fill block
	echo '.nf'
	roff
	echo '.fi'
}

# ---- vcpufreq-bpf and its commands -----------------------------------------
"$vf" --help >"$tmp/help"
# a row's first word, if it is a command (a summary's second line is
# indented as a row is): what answers "NAME --help" with its usage
sed -n '/^Commands:/,/^$/p' "$tmp/help" | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' |
while read -r c; do
	"$vf" "$c" --help 2>/dev/null | grep "^Usage: [^ ]* $c " >/dev/null && echo "$c"
done >"$tmp/commands"
[ -s "$tmp/commands" ] || { echo "Error: no command list in '$vf --help'" >&2; exit 1; }
sed -n '/^Options/,$p' "$tmp/help" | tail -n +2 >"$tmp/options"

{
	header vcpufreq-bpf
	echo '.SH NAME'
	echo 'vcpufreq-bpf \- host CPU frequency and placement for VM vCPU threads'
	echo '.SH SYNOPSIS'
	sed -n 's/^Usage: //p' "$tmp/help" | roff
	echo '.SH COMMANDS'
	sed -n '/^Commands:/,/^$/p' "$tmp/help" | tail -n +2 | sed '/^$/d' | verbatim
	echo '.SH OPTIONS'
	verbatim <"$tmp/options"
	echo '.SH SEE ALSO'
	sed 's/.*/.BR vcpufreq-bpf-& (8),/' "$tmp/commands"
	echo '.BR vcpufreq-qemu-bridge (8),'
	echo '.BR vcpufreq-libvirt (8)'
} >"$out/vcpufreq-bpf.8"

while read -r cmd; do
	"$vf" "$cmd" --help >"$tmp/cmd"
	{
		header "vcpufreq-bpf-$cmd"
		echo '.SH NAME'
		# the usage, up to the blank line, then the summary: the whatis
		# line is the summary's first clause
		sed -n '1,/^$/p' "$tmp/cmd" | sed -e '1s/^Usage: //' -e '/^$/d' >"$tmp/syn"
		sed -n '/^$/,$p' "$tmp/cmd" | sed -e '/^$/d' -e 's/^  //' >"$tmp/desc"
		printf 'vcpufreq-bpf-%s \\- %s\n' "$cmd" \
			"$(tr '\n' ' ' <"$tmp/desc" | sed -e 's/ ([^)]*)//g' -e 's/;.*//' -e 's/ *$//' | roff)"
		echo '.SH SYNOPSIS'
		verbatim <"$tmp/syn"
		echo '.SH DESCRIPTION'
		verbatim <"$tmp/desc"
		echo '.SH OPTIONS'
		verbatim <"$tmp/options"
		echo '.SH SEE ALSO'
		echo '.BR vcpufreq-bpf (8)'
	} >"$out/vcpufreq-bpf-$cmd.8"
done <"$tmp/commands"

# ---- programs whose --help is in sections ----------------------------------
sectioned() {	# sectioned NAME PROGRAM
	"$2" --help >"$tmp/s"
	grep -q '^NAME$' "$tmp/s" || { echo "Error: '$2 --help' has no NAME section" >&2; exit 1; }
	{
		header "$1"
		# text lines: backslashes escaped, a leading . or ' guarded; NAME's
		# line as whatis wants it ("name \- summary"), the rest verbatim
		awk '
			/^[A-Z][A-Z ]*$/ { if (nf) print ".fi"; nf = 0; sec = $0; print ".SH " $0; next }
			{ gsub(/\\/, "\\e"); sub(/^    /, ""); sub(/^[.'"'"']/, "\\\\\\&&") }
			sec == "NAME" { if ($0 != "") { sub(/ - /, " \\- "); print }; next }
			{ if (!nf) print ".nf"; nf = 1; print }
			END { if (nf) print ".fi" }
		' "$tmp/s"
	} >"$out/$1.8"
}
sectioned vcpufreq-qemu-bridge "$bridge"
sectioned vcpufreq-libvirt "$libvirt"
