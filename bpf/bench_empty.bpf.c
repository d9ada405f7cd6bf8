// SPDX-License-Identifier: GPL-2.0
/*
 * Baselines for the benchmarks: an empty program on each hook vcpufreq's
 * tracking programs use (on_switch, on_wakeup, on_exit).  Their bpf_stats
 * run time is what the trampoline, the stats accounting and an (almost)
 * empty body cost on this machine, so each hook's cost can be given as a
 * ratio against the empty program of the same kind.  bench/bench-sched
 * attaches only bench_switch.
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

SEC("tp_btf/sched_wakeup")
int BPF_PROG(bench_wakeup, struct task_struct *p)
{
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(bench_exit, struct task_struct *p)
{
	return 0;
}
