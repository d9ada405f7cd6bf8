#!/usr/bin/env bash
# sudo make test: unit tests, live tests against the running kernel, then
# under QEMU (tests/vm): the guest driver's builds, the end-to-end test of
# guest driver + QEMU bridge (x86, then an arm64 devicetree guest), the
# patched QEMU's own virtual cpufreq device (qemu/, arm64), the same
# under libvirt (the hook, two domains), and the live tests again inside a
# Linux 6.12 guest with sched_ext and uclamp.  VCPUFREQ_SKIP_VM=1 skips the QEMU part.
# Ends with one summary line: "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
passed=0 failed=0 skipped=0

count_unit() {
	local bin=$1 out
	out=$("$bin" 2>&1)
	printf '%s\n' "$out" | grep -E '^(ok|FAIL) ' | sed "s|^|  $(basename "$bin"): |"
	printf '%s\n' "$out" | grep -E '^    ' || true
	passed=$((passed + $(printf '%s\n' "$out" | grep -c '^ok ')))
	failed=$((failed + $(printf '%s\n' "$out" | grep -c '^FAIL ')))
}

echo "== unit tests"
for t in build/tests/test_*; do
	[ -x "$t" ] && count_unit "$t"
done

echo "== fuzz (register model, libFuzzer + ASan/UBSan, 20000 runs)"
if out=$(tests/fuzz/run.sh 20000 2>&1); then
	echo "  ok   fuzz_regmodel: ${out##*$'\n'}"; passed=$((passed + 1))
else
	printf '%s\n' "$out" | tail -n 5 | sed 's/^/  /'
	echo "  FAIL fuzz_regmodel"; failed=$((failed + 1))
fi

# run_suite TITLE SCRIPT...: a script that ends with "RESULT p f s"
run_suite() {
	local title=$1 out r p f s; shift
	echo "== $title"
	out=$("$@" 2>&1)
	printf '%s\n' "$out" | grep -v '^RESULT'
	r=$(printf '%s\n' "$out" | grep '^RESULT' | tail -n1)
	read -r _ p f s <<<"$r"
	passed=$((passed + ${p:-0})); failed=$((failed + ${f:-1})); skipped=$((skipped + ${s:-0}))
}

run_suite "guest devicetree (topology --dts, dtc, dt-validate)" tests/live/dts.sh build/vcpufreq-bpf
run_suite "fleet manifests (deploy/kubernetes) against the Kubernetes API types" tests/ops/manifests.sh

if [ "$(id -u)" -ne 0 ]; then
	echo "== live tests: skipped, they load BPF programs; run 'sudo make test'"
	skipped=$((skipped + 1))
else
	run_suite "live tests (running kernel $(uname -r))" tests/live/run-live.sh
	run_suite "effect lab's guest model against the host side (running kernel)" lab/selftest.sh
	run_suite "metrics: node_exporter's textfile collector, scraped by a real Prometheus" tests/ops/metrics.sh
	run_suite "Debian packages: make deb, lintian, installed, run, removed and purged" tests/ops/package.sh
fi

case "$(uname -r)" in *-vcpufreq-vm) VCPUFREQ_SKIP_VM=1 ;; esac	# already in the VM
if [ "$(id -u)" -ne 0 ] || [ -n "${VCPUFREQ_SKIP_VM:-}" ]; then
	echo "== QEMU tests: skipped (need root; VCPUFREQ_SKIP_VM is ${VCPUFREQ_SKIP_VM:-unset})"
	skipped=$((skipped + 1))
elif ! tests/vm/build-kernel.sh; then
	echo "  FAIL build the VM test kernel (tests/vm/build-kernel.sh)"
	failed=$((failed + 1))
else
	arm64=1
	if ! tests/vm/build-kernel.sh --arch arm64; then
		echo "  FAIL build the arm64 test kernel (tests/vm/build-kernel.sh --arch arm64)"
		failed=$((failed + 1)) arm64=''
	fi
	run_suite "the scheduler's vmlinux.h (bpf/vmlinux/x86) vs the test kernel's BTF" tests/vm/check-scx-vmlinux.sh
	run_suite "VM harness: refused options, --icount's instruction clock" tests/vm/harness.sh
	run_suite "guest driver (guest-driver/): builds and checkpatch" tests/vm/guest-driver.sh
	run_suite "end to end: guest driver, QEMU bridge, vcpufreq-bpf (QEMU TCG, -smp 2)" tests/vm/e2e.sh
	[ -n "$arm64" ] && run_suite "end to end on arm64: devicetree guest, capacities, frequency invariance, 17 vCPUs, ACPI (qemu-system-aarch64 -M virt, TCG)" \
		tests/vm/arm64.sh
	if [ -z "$arm64" ]; then
		:	# no arm64 kernel to boot
	elif qemu/build.sh; then
		run_suite "the patched QEMU's virtual-cpufreq device on arm64: its own devicetree, MMIO traps on the vCPU thread, bad accesses (qemu/patches)" \
			tests/vm/qemu-device.sh
		run_suite "effect lab: the guest model against a real arm64 guest (lab/fidelity.sh, one workload)" \
			tests/vm/lab-fidelity.sh
	else
		echo "  FAIL build the patched QEMU (qemu/build.sh)"
		failed=$((failed + 1))
	fi
	run_suite "libvirt: the hook, the bridge per domain, two TCG domains (virsh start/destroy)" tests/vm/libvirt.sh
	run_suite "effect lab: the emulated big.LITTLE host (QEMU TCG, -smp 4)" tests/vm/effect-lab.sh
	run_suite "live tests inside QEMU (Linux 6.12: sched_ext, uclamp; -smp 4)" \
		tests/vm/run-in-vm.sh --smp 4 --timeout 2400 -- tests/live/run-live.sh
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
