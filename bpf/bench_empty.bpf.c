// SPDX-License-Identifier: GPL-2.0
/*
 * Baselines for the benchmarks: an empty program on each hook vcpufreq's
 * tracking programs use (on_switch, on_wakeup, on_exit).  Their bpf_stats
 * run time is what the trampoline, the stats accounting and an (almost)
 * empty body cost on this machine, so each hook's cost can be given as a
 * ratio against the empty program of the same kind.  bench_switch_word
 * is the least a program that filters on any state can do: it reads one
 * word of an array map (section 4 of bench/run.sh shows what that alone
 * costs under a fork-heavy load).  bench/bench-sched attaches only
 * bench_switch.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} bench_word SEC(".maps");

SEC("tp_btf/sched_switch")
int BPF_PROG(bench_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(bench_switch_word, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	__u32 zero = 0;
	__u64 *w = bpf_map_lookup_elem(&bench_word, &zero);

	if (w && *w)
		return 1;
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
