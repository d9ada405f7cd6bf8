// SPDX-License-Identifier: GPL-2.0
/*
 * Baseline for bench/bench-sched: an empty program on the same hook as
 * vcpufreq's on_switch.  Its bpf_stats run time is what the trampoline,
 * the stats accounting and an (almost) empty body cost on this machine,
 * so on_switch's cost can be given as a ratio against it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sched_switch")
int BPF_PROG(bench_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	return 0;
}
