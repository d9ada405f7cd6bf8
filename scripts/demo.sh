#!/usr/bin/env bash
# sudo make demo: load vcpufreq-bpf with the default backend, enroll a demo
# cgroup, run a stand-in VMM of 4 vCPU threads inside it, show the live
# vCPU table, show that a thread outside the cgroup is not touched, unload.
set -euo pipefail
cd "$(dirname "$0")/.."
B=build
VF=$B/vcpufreq-bpf

[ "$(id -u)" -eq 0 ] || { echo "Error: the demo loads BPF programs; run it as root (sudo make demo)" >&2; exit 1; }
CG2=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
[ -n "$CG2" ] || { echo "Error: no cgroup v2 hierarchy mounted" >&2; exit 1; }
CG=$CG2/vcpufreq-demo
VMM_PID= OUTSIDER_PID=

cleanup() {
	[ -n "$VMM_PID" ] && kill "$VMM_PID" 2>/dev/null || true
	[ -n "$OUTSIDER_PID" ] && kill "$OUTSIDER_PID" 2>/dev/null || true
	wait 2>/dev/null || true
	$VF unload >/dev/null 2>&1 || true
	rmdir "$CG" 2>/dev/null || true
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

step "vcpufreq-bpf load (backend auto)"
$VF load
$VF status

step "enroll the demo cgroup $CG"
mkdir -p "$CG"
$VF enroll "$CG"

step "start a stand-in VMM with 4 vCPU threads inside it (6 s of synthetic guest load)"
sh -c "echo \$\$ > $CG/cgroup.procs && exec $B/standin-vmm -n 4 -t 6" &
VMM_PID=$!
sleep 0.5

step "a thread outside every enrolled cgroup asks for 800: rejected, untouched"
coproc OUT { exec $B/tests/spawn-threads 1; }
OUTSIDER_PID=$OUT_PID
read -r OUTSIDER_TID <&"${OUT[0]}"
$VF request "$OUTSIDER_TID" 800 || true

for i in 1 2 3; do
	step "vcpufreq-bpf vcpus (t=${i}.5 s): requests follow each vCPU's busy/idle phases"
	$VF vcpus
	sleep 1.5
done
wait "$VMM_PID" || true
VMM_PID=

step "status after the run"
$VF status | tail -n 4

step "vcpufreq-bpf unload"
$VF unload
ls /sys/fs/bpf/vcpufreq 2>/dev/null && echo "pins left behind!" || echo "nothing of ours is left under /sys/fs/bpf"
