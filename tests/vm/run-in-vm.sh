#!/usr/bin/env bash
# tests/vm/run-in-vm.sh [OPTIONS] -- COMMAND [ARG...]
#
# Run COMMAND as root inside a QEMU (TCG) VM booted on the test kernel
# (tests/vm/build-kernel.sh: sched_ext, uclamp, cpufreq/schedutil, BTF,
# kprobes), whose root is this host's / over virtio-9p (read-only) under a
# tmpfs overlay: same userland, same project files (build/ must be built on
# the host first), every write in guest RAM.  COMMAND runs with bash in the
# project directory; the guest's console streams to stdout and this script
# exits with COMMAND's exit code (124: timed out, 125: the VM failed).
#
# Options:
#   --smp N        vCPUs (default 4)
#   --cpu MODEL    QEMU's -cpu (default max)
#   --mem SIZE     guest memory (default 2G)
#   --accel A      tcg (default) or kvm (needs a working /dev/kvm; on the
#                  project's machines, nested KVM hangs after the firmware)
#   --icount SHIFT TCG only: QEMU's -icount shift=SHIFT, one host thread
#                  for all vCPUs and a guest clock that counts executed guest
#                  instructions (2^SHIFT ns each): a time the guest measures
#                  is then a number of instructions, whatever else the host
#                  runs (the benchmarks' deterministic mode)
#   --timeout S    kill the VM after S seconds (default 900)
#   --favour       run QEMU at nice -10: the vCPUs get about 9 times the
#                  CPU share of the host's other work (the effect lab's
#                  emulated speeds).  Not SCHED_RR: a real-time vCPU thread
#                  throttled or preempted inside a translated block runs
#                  code the guest already patched (text_poke's int3: an
#                  oops seen twice when BPF attached to sched_switch)
#   --plugin SPEC  load a TCG plugin: QEMU's -plugin SPEC (file=LIB.so,ARG=...;
#                  bench/scx-curve.sh passes bench/insncount.c's)
#   -C DIR         run COMMAND in DIR (default: the project directory)
#   -e NAME=VALUE  set an environment variable for COMMAND (repeatable)
#   --kernel FILE  boot FILE instead of build/vm/bzImage (no build step)
#   --verbose      show the kernel's boot messages
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SMP=4 MEM=2G TIMEOUT=900 ACCEL=tcg DIR=$ROOT KERNEL='' VERBOSE=0 CPU=max ICOUNT='' PLUGIN='' FAVOUR=()
ENVS=()

die() { echo "Error: $*" >&2; exit 125; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

while [ $# -gt 0 ]; do
	case "$1" in
	--smp) SMP=${2:?}; shift 2 ;;
	--cpu) CPU=${2:?}; shift 2 ;;
	--mem) MEM=${2:?}; shift 2 ;;
	--accel) ACCEL=${2:?}; shift 2 ;;
	--icount) ICOUNT=${2:?}; shift 2 ;;
	--plugin) PLUGIN=${2:?}; shift 2 ;;
	--timeout) TIMEOUT=${2:?}; shift 2 ;;
	-C) DIR=$(realpath "${2:?}"); shift 2 ;;
	-e) ENVS+=("${2:?}"); shift 2 ;;
	--kernel) KERNEL=$(realpath "${2:?}"); shift 2 ;;
	--verbose) VERBOSE=1; shift ;;
	--favour) FAVOUR=(nice -n -10); shift ;;
	-h|--help) usage; exit 0 ;;
	--) shift; break ;;
	*) die "unknown option '$1' (COMMAND goes after '--'; see --help)" ;;
	esac
done
[ $# -gt 0 ] || die "no COMMAND given (usage: $0 [OPTIONS] -- COMMAND...)"
NR_CPUS=$(sed -n 's/^CONFIG_NR_CPUS=//p' "$HERE/kernel.config")
[[ $SMP =~ ^[1-9][0-9]*$ ]] && [ "$SMP" -le "$NR_CPUS" ] ||
	die "--smp $SMP: want 1..$NR_CPUS (the kernel has NR_CPUS=$NR_CPUS)"
[[ $CPU =~ ^[A-Za-z0-9_.,=+-]+$ ]] || die "--cpu '$CPU': not a QEMU CPU model (qemu-system-x86_64 -cpu help)"
case "$ACCEL" in
tcg) ;;
kvm) [ -w /dev/kvm ] || die "--accel kvm: /dev/kvm is missing or not writable" ;;
*) die "--accel $ACCEL: want tcg or kvm" ;;
esac
if [ -n "$ICOUNT" ]; then
	[[ $ICOUNT =~ ^[0-9]$ ]] || die "--icount $ICOUNT: want a shift of 0..9 (2^SHIFT ns per guest instruction)"
	[ "$ACCEL" = tcg ] || die "--icount needs --accel tcg (KVM runs instructions natively)"
fi
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "--timeout $TIMEOUT: want a number of seconds"
if [ -n "$PLUGIN" ]; then
	[ "$ACCEL" = tcg ] || die "--plugin needs --accel tcg (plugins instrument TCG's translation)"
	[[ $PLUGIN == file=* ]] && [ -r "$(f=${PLUGIN#file=}; echo "${f%%,*}")" ] ||
		die "--plugin '$PLUGIN': want file=LIB.so[,ARG=VALUE...] naming a readable plugin"
fi
[ -d "$DIR" ] || die "-C $DIR: not a directory"
case "$DIR/" in
/dev/*|/proc/*|/sys/*)
	die "-C $DIR: the guest mounts its own /dev, /proc and /sys; use a directory of the host's root filesystem" ;;
esac
[ "$(id -u)" = 0 ] || echo "Warning: not root: QEMU reads the host's / with your permissions, the guest (root) sees only what you may read" >&2
for e in ${ENVS[@]+"${ENVS[@]}"}; do
	[[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "-e $e: want NAME=VALUE"
done

"$HERE/deps.sh"
if [ -z "$KERNEL" ]; then
	"$HERE/build-kernel.sh" >&2
	KERNEL=$ROOT/build/vm/bzImage
fi
[ -r "$KERNEL" ] || die "no kernel image at $KERNEL"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found; run tests/vm/deps.sh"
INIT=$HERE/guest-init.sh
# the kernel command line is split at spaces and has no quoting for init=
for p in "$INIT" "$DIR"; do
	[[ $p =~ ^[A-Za-z0-9_./+-]+$ ]] || die "path '$p' has characters the guest's kernel command line cannot carry"
done

TMP=$(mktemp -d /tmp/vcpufreq-vm.XXXXXX)
chmod 755 "$TMP"
# stop our QEMU (its pid from -pidfile, checked to still be a QEMU)
cleanup() {
	local pid
	pid=$(cat "$TMP/qemu.pid" 2>/dev/null || true)
	if [[ $pid =~ ^[0-9]+$ ]] && [[ $(cat /proc/"$pid"/comm 2>/dev/null) == qemu-system* ]]; then
		echo "  VM       stopping QEMU (pid $pid)" >&2
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# the script the guest runs (read by the guest's init through 9p)
{
	for e in ${ENVS[@]+"${ENVS[@]}"}; do printf 'export %q=%q\n' "${e%%=*}" "${e#*=}"; done
	printf 'cd %q || exit 125\n' "$DIR"
	printf '%q ' "$@"; echo
} >"$TMP/cmd"

APPEND="console=ttyS0,115200 root=hostroot rootfstype=9p"
APPEND+=" rootflags=trans=virtio,version=9p2000.L,msize=512000,cache=loose ro"
APPEND+=" init=$INIT vmcmd=$TMP/cmd vmdir=$DIR panic=-1 oops=panic"
FILTER=()	# sed expressions for the console stream
if [ "$VERBOSE" != 1 ]; then
	APPEND+=" quiet loglevel=5"
	# known noise: TCG's timing and what this small kernel lacks; power-off
	for re in "'struct module' btf id not found" 'amd_pstate: the _CPC object is not present' \
		'tsc: Unable to calibrate against PIT' 'tsc: Marking TSC unstable' \
		'clocksource: ' 'hrtimer: interrupt took' 'reboot: '; do
		FILTER+=(-e "/^\\[ *[0-9.]*\\] $re/d")
	done
	# -cpu MODEL: features TCG cannot emulate, one line per vCPU
	FILTER+=(-e "/^qemu-system-x86_64: warning: TCG doesn't support requested feature/d")
fi

# QEMU under timeout(1) (exit 124 when the time is up), in the background:
# bash runs traps only between commands, and `wait` is one it can leave
{
	qst=0
	timeout -k 10 "$TIMEOUT" ${FAVOUR[@]+"${FAVOUR[@]}"} qemu-system-x86_64 \
		-name vcpufreq-vm -M q35 -accel "$ACCEL" ${ICOUNT:+-icount shift=$ICOUNT,sleep=on} ${PLUGIN:+-plugin "$PLUGIN"} -cpu "$CPU" -smp "$SMP" -m "$MEM" \
		-nographic -no-reboot -nic none -bios qboot.rom -pidfile "$TMP/qemu.pid" \
		-kernel "$KERNEL" -append "$APPEND" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		</dev/null 2>&1 || qst=$?
	echo "$qst" >"$TMP/qemu.status"
} | sed -u -e 's/\r$//' "${FILTER[@]}" | tee "$TMP/console" &
wait $! || true
qst=$(cat "$TMP/qemu.status" 2>/dev/null || echo "?")

if [ "$qst" = 124 ] || [ "$qst" = 137 ]; then
	echo "Error: the VM did not finish within --timeout $TIMEOUT s; killed QEMU" >&2
	exit 124
fi
rc=$(grep -a -o 'VM-EXIT-CODE=[0-9]*' "$TMP/console" | tail -n1 | cut -d= -f2 || true)
if [ -z "$rc" ]; then
	echo "Error: the VM stopped without reporting an exit code (QEMU exit status $qst);" \
		"see the console output above (rerun with --verbose for boot messages)" >&2
	exit 125
fi
exit "$rc"
