// SPDX-License-Identifier: GPL-2.0
/*
 * vcpufreq tracking programs.
 *
 * A VMM writes a request (host capacity units) into the `requests` hash,
 * keyed by the vCPU's host TID.  Policy:
 *
 *  - The writer's bpf() call is seen by the syscalls/sys_exit_bpf
 *    tracepoint: it marks the TID in `tid_bits` and `tid_pending`, and
 *    tells the agent (PENDING) when the pending bit was clear.  The
 *    iterator clears the bit before it reads the request, so a write
 *    after a take-in always wakes the agent again, and a writer in a
 *    loop costs it one event per take-in.  A tracepoint program cannot
 *    reach another thread's task_struct, so the request is taken in
 *    where the task is at hand: the task iterator the agent runs right
 *    away (refresh_thread.h, also run by the sched_ext scheduler when a
 *    vCPU wakes).
 *  - Taking a request in: a live thread gets task storage (so its state
 *    dies with it and a reused TID inherits nothing); it is accepted when
 *    its cgroup v2 or an ancestor is enrolled, else counted rejected.  The
 *    agent hears every change through the `events` ring buffer.
 *  - sched_switch costs every other thread on the host one test of its
 *    own local storage pointer (task_has_storage): one line of the task,
 *    no helper call, no wakeup or switch-out hook at all.  A tracked
 *    thread re-reads its request (drop, change, fast-path slot) at
 *    switch-in, before it runs, when its tid_pending bit, its slot or its
 *    cgroup says something may have moved; its runtime is the kernel's own (se.sum_exec_runtime), read
 *    there and by the iterator.  A new TID is taken in by the iterator
 *    the agent runs on PENDING (and by the scheduler when it wakes).
 *  - When a tracked thread exits, its request is deleted and its slot
 *    freed; one that exits before its request was taken in is left to
 *    the agent, which deletes requests of dead TIDs.
 *
 * Nothing here changes scheduling: the actuators live in the agent (and,
 * with sched_ext, in the scheduler).  Kernels without BPF trampolines
 * (fentry/fexit) or kprobes are supported on purpose: tp_btf, syscall
 * tracepoints and iterators only.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define __VCPUFREQ_BPF__
#include "vcpufreq/abi.h"
#include "shared_maps.h"
#include "refresh_thread.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VCPUFREQ_MAX_THREADS);
	__type(key, __u32);
	__type(value, struct vcpufreq_action);
} actions SEC(".maps");

/*
 * tid_pending: bit (tid % 64) of word (tid / 64) set by a bpf() write or
 * delete of requests[tid] and cleared by whoever takes it in for the
 * agent (the refresh iterator, before it reads the request; the agent,
 * for a TID no thread has).  A write wakes the agent only when it sets
 * the bit: however fast a writer goes, one PENDING is outstanding per
 * TID, and the write after the last take-in always sets it again.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, VCPUFREQ_TID_BITS_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} tid_pending SEC(".maps");

/* set @tid's pending bit; true when it was clear (the agent must hear) */
static bool tid_pending_set(__u32 tid)
{
	__u64 bit, *w = tid_bitmap_word(&tid_pending, tid, &bit);

	/* no word: a TID past PID_MAX_LIMIT, tell the agent anyway */
	return !w || !(__sync_fetch_and_or(w, bit) & bit);
}

/* clear @tid's pending bit (an atomic only when it is set) */
static void tid_pending_take(__u32 tid)
{
	__u64 bit, *w = tid_bitmap_word(&tid_pending, tid, &bit);

	if (w && (*w & bit))
		__sync_fetch_and_and(w, ~bit);
}

/* The map behind fd @fd of the current process, or NULL. */
static void *current_fd_map(int fd)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(cur, files, fdt);
	struct file **fds, *file;

	if (fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	return BPF_CORE_READ(file, private_data);
}

/*
 * Every bpf() syscall that wrote or deleted a `requests` entry: mark the
 * TID and, unless a PENDING is already outstanding for it (tid_pending),
 * wake the agent, which takes it in through the task iterator.  The
 * syscall's arguments are still in the task's user registers.
 */
SEC("tracepoint/syscalls/sys_exit_bpf")
int on_bpf_syscall(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs;
	union bpf_attr attr;
	void *uattr, *map;
	long cmd;
	__u32 tid;

	if (ctx->ret)
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	cmd = (int)PT_REGS_PARM1_CORE_SYSCALL(regs);	/* the kernel's int */
	if (cmd != BPF_MAP_UPDATE_ELEM && cmd != BPF_MAP_DELETE_ELEM)
		return 0;
	uattr = (void *)PT_REGS_PARM2_CORE_SYSCALL(regs);
	/* map_fd and key (the u64 after map_fd's padding), nothing more */
	if (bpf_probe_read_user(&attr, __builtin_offsetof(union bpf_attr, key) +
				sizeof(attr.key), uattr))
		return 0;
	map = current_fd_map(attr.map_fd);
	if (map == (void *)&cgroups) {
		emit(VCPUFREQ_EV_ENROLL, 0, 0, 0, 0);
		return 0;
	}
	if (map != (void *)&requests ||
	    bpf_probe_read_user(&tid, sizeof(tid), (void *)attr.key))
		return 0;
	if (cmd == BPF_MAP_UPDATE_ELEM)
		tid_mark(tid, true);
	if (tid_pending_set(tid))
		emit(VCPUFREQ_EV_PENDING, tid, 0, 0, 0);
	return 0;
}

/*
 * May @p have vcpu_state?  false: it certainly has none.  The task's own
 * local storage pointer, set when any task-storage map first gives it an
 * entry and freed with the task: one line of the task itself, so the test
 * answers for this task alone however many threads were ever tracked (a
 * shared filter fills up as tracked threads come and go).  A task that
 * has storage of another map (another BPF tool's, the scheduler's
 * task_ctxs) pays one storage lookup more.
 */
static __always_inline bool task_has_storage(struct task_struct *p)
{
	return p->bpf_storage;
}

/* runtime_ns as of now: the kernel's own account, since the first request */
static void update_runtime(struct task_struct *p, struct vcpufreq_vcpu *s)
{
	s->runtime_ns = p->se.sum_exec_runtime - s->runtime_base_ns;
}

/*
 * Has nothing moved for tracked @p since its request was last taken in?
 * A bpf() write or delete of its request sets its tid_pending bit, which
 * stays set until the iterator takes it in; a fast-path request moves its
 * slot, a move to another cgroup its cgroup id.  While none did, the
 * `requests` lookup (a hash and two cold lines per thread: a third to a
 * half of a tracked switch-in, bench section 1) would find what @s holds.
 */
static bool request_unchanged(struct task_struct *p, struct vcpufreq_vcpu *s)
{
	__u32 tid = p->pid, perf = s->perf;
	struct vcpufreq_slot *slot;
	__u64 bit, *w = tid_bitmap_word(&tid_pending, tid, &bit);

	if (!w || (*w & bit) || !s->taken ||
	    s->cgroup_id != task_cgroup_id(p))
		return false;
	if (!s->slot)
		return true;
	/* a slot it does not own (yet): read the request */
	slot = tid_slot(s->slot, tid);
	return slot && perf_in_range(slot->perf) == perf &&
	       slot->taken_perf == perf && slot->guest_perf == s->guest_perf;
}

/*
 * The work for a thread that may be tracked, out of line: a BPF subprogram
 * is JITed as an image of its own, so the hooks' own images stay a few
 * cache lines long, their early return next to their test.  Every other
 * thread's switch or exit runs only those lines, which at a cold exit
 * (the task ran exec and its own work since) are what the hook costs.
 */
static __noinline int switch_in_tracked(struct task_struct *next)
{
	struct vcpufreq_vcpu *s;

	s = bpf_task_storage_get(&vcpu_state, next, 0, 0);
	if (s && !request_unchanged(next, s))
		s = refresh_thread(next, s, false, NULL);
	if (!s)
		return 0;
	update_runtime(next, s);
	s->last_cpu = bpf_get_smp_processor_id();
	s->switches++;
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	/* take in a change or a drop before it runs */
	if (!task_has_storage(next))
		return 0;
	return switch_in_tracked(next);
}

static __noinline int exit_tracked(struct task_struct *p)
{
	struct vcpufreq_request *req;
	struct vcpufreq_slot *slot;
	struct vcpufreq_vcpu *s;
	__u32 tid;

	s = bpf_task_storage_get(&vcpu_state, p, 0, 0);
	if (!s)
		return 0;
	tid = p->pid;
	req = bpf_map_lookup_elem(&requests, &tid);
	slot = req ? owned_slot(req, tid) : NULL;
	if (slot) {
		/* a VMM that died cannot free it; a live one sees the new gen */
		__sync_fetch_and_add(&slot->gen, 1);
		slot->tid = 0;
	}
	bpf_map_delete_elem(&requests, &tid);
	tid_mark(tid, false);
	STAT_INC(exits);
	emit(VCPUFREQ_EV_EXIT, tid, 0, s->enrolled, s->cgroup_id);
	bpf_task_storage_delete(&vcpu_state, p);
	return 0;
}

/*
 * A tracked thread exits: its request and fast-path slot go with it, so a
 * thread that gets the TID next inherits neither.  Every other exit costs
 * one test of the task's storage pointer, as on_switch.  A thread whose
 * request was written but which exited before it was taken in (no
 * storage) is the agent's: it deletes requests of dead TIDs on PENDING,
 * and frees their slots.
 */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
	if (!task_has_storage(p))
		return 0;
	return exit_tracked(p);
}

/*
 * Run by the agent after PENDING/ENROLL events and by `enroll`, `leave`
 * and `request` (through the pinned link): every thread with a request is
 * refreshed and re-decided now, running or not.
 */
SEC("iter/task")
int refresh_all(struct bpf_iter__task *ctx)
{
	struct task_struct *p = ctx->task;
	struct vcpufreq_vcpu *s;

	if (!p)
		return 0;
	/*
	 * the pending bit first: a write after this sets it again (an update
	 * also marks tid_bits, which picks a thread without storage)
	 */
	tid_pending_take(p->pid);
	s = bpf_task_storage_get(&vcpu_state, p, 0, 0);
	if (s || tid_marked(p->pid))
		s = refresh_thread(p, s, true, NULL);
	if (s)
		update_runtime(p, s);
	return 0;
}
