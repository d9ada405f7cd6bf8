// SPDX-License-Identifier: GPL-2.0
/*
 * vcpufreq tracking programs.
 *
 * A VMM writes a request (host capacity units) into the `requests` hash,
 * keyed by the vCPU's host TID.  Policy:
 *
 *  - The writer's bpf() call is seen by the syscalls/sys_exit_bpf
 *    tracepoint: it marks the TID in `tid_bits` and tells the agent
 *    (PENDING).  A tracepoint program cannot reach another thread's
 *    task_struct, so the request is taken in where the task is at hand:
 *    the task iterator the agent runs right away, and the thread's own
 *    wakeup and switch-in.
 *  - Taking a request in: a live thread gets task storage (so its state
 *    dies with it and a reused TID inherits nothing); it is accepted when
 *    its cgroup v2 or an ancestor is enrolled, else counted rejected.  The
 *    agent hears every change through the `events` ring buffer.
 *  - On sched_switch a thread without storage costs two storage probes;
 *    tracked threads also account runtime and CPU and re-read their
 *    request (drop, change, fast-path slot).  A new TID is found by its
 *    bit in `tid_bits` on wakeup and by the iterator.
 *  - When a tracked thread exits, its request is deleted.
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

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VCPUFREQ_MAX_THREADS);
	__type(key, __u32);
	__type(value, struct vcpufreq_request);
} requests SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VCPUFREQ_MAX_CGROUPS);
	__type(key, __u64);
	__type(value, struct vcpufreq_cgroup);
} cgroups SEC(".maps");


struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VCPUFREQ_MAX_THREADS);
	__type(key, __u32);
	__type(value, struct vcpufreq_action);
} actions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vcpufreq_stats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, VCPUFREQ_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct vcpufreq_slot);
} slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VCPUFREQ_TID_BITS_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} tid_bits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vcpufreq_config);
} settings SEC(".maps");

/* the last PENDING this CPU emitted: a writer in a loop wakes us once */
struct last_pending {
	__u32 tid;
	__u64 ts;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct last_pending);
} pending_seen SEC(".maps");

#define PENDING_COALESCE_NS	1000000	/* one PENDING per TID per ms per CPU */

/* the last FOREIGN_EXT this CPU emitted */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct last_pending);
} foreign_seen SEC(".maps");

#define SCHED_EXT_POLICY	7
#define FOREIGN_COALESCE_NS	10000000	/* per TID per CPU: 10 ms */


static struct vcpufreq_stats *the_stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&stats, &zero);
}

#define STAT_INC(field)						\
	do {							\
		struct vcpufreq_stats *__s = the_stats();	\
		if (__s)					\
			__sync_fetch_and_add(&__s->field, 1);	\
	} while (0)

static __u64 *tid_word(__u32 tid, __u64 *bit)
{
	__u32 idx = tid / 64;

	*bit = 1ULL << (tid % 64);
	return bpf_map_lookup_elem(&tid_bits, &idx);
}

static bool tid_marked(__u32 tid)
{
	__u64 bit, *w = tid_word(tid, &bit);

	return w && (*w & bit);
}

static void tid_mark(__u32 tid, bool on)
{
	__u64 bit, *w = tid_word(tid, &bit);

	if (!w)
		return;
	if (on)
		__sync_fetch_and_or(w, bit);
	else
		__sync_fetch_and_and(w, ~bit);
}

static __u64 task_cgroup_id(struct task_struct *p)
{
	return BPF_CORE_READ(p, cgroups, dfl_cgrp, kn, id);
}

/* Enrolled: the task's cgroup v2 or one of its ancestors is in `cgroups`. */
static bool task_enrolled(struct task_struct *p)
{
	struct cgroup *cgrp = BPF_CORE_READ(p, cgroups, dfl_cgrp);
	int level = BPF_CORE_READ(cgrp, level);

	for (int i = 0; i < VCPUFREQ_CGROUP_MAX_DEPTH; i++) {
		struct cgroup *anc;
		__u64 id;

		if (i > level)
			break;
		anc = BPF_CORE_READ(cgrp, ancestors[i]);
		id = BPF_CORE_READ(anc, kn, id);
		if (bpf_map_lookup_elem(&cgroups, &id))
			return true;
	}
	return false;
}

static void emit_flags(__u32 type, __u32 tid, __u32 perf, __u32 enrolled,
		       __u64 cgroup_id, __u64 flags)
{
	struct vcpufreq_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		STAT_INC(events_lost);
		return;
	}
	e->type = type;
	e->tid = tid;
	e->perf = perf;
	e->enrolled = enrolled;
	e->cgroup_id = cgroup_id;
	e->ts_ns = bpf_ktime_get_ns();
	bpf_ringbuf_submit(e, flags);
}

static void emit(__u32 type, __u32 tid, __u32 perf, __u32 enrolled,
		 __u64 cgroup_id)
{
	emit_flags(type, tid, perf, enrolled, cgroup_id, 0);
}

/*
 * Must the agent act on a request going from @old to @perf at once?  The
 * uclamp, affinity and cpufreq backends turn every value into a system
 * call; scx reads requests itself and observe only records them, so they
 * need the agent only when a request starts or ends.  Other changes wait
 * for the agent's next pass (a guest may change its request hundreds of
 * times a second, and each wakeup costs the host a CPU).
 */
static bool agent_must_wake(__u32 old, __u32 perf)
{
	__u32 zero = 0;
	struct vcpufreq_config *c = bpf_map_lookup_elem(&settings, &zero);

	if (!old || !perf || !c)
		return true;
	return c->backend != VCPUFREQ_BACKEND_SCX &&
	       c->backend != VCPUFREQ_BACKEND_OBSERVE;
}

/* Decide enrollment again; tell the agent when it flipped. */
static void decide_enrolled(struct task_struct *p, struct vcpufreq_vcpu *s,
			    __u32 tid)
{
	__u32 enrolled = task_enrolled(p);

	s->cgroup_id = task_cgroup_id(p);
	if (enrolled == s->enrolled)
		return;
	s->enrolled = enrolled;
	STAT_INC(verdict_flips);
	emit(VCPUFREQ_EV_VERDICT, tid, s->perf, enrolled, s->cgroup_id);
}

static void take_in_request(struct task_struct *p, struct vcpufreq_vcpu *s,
			    __u32 tid, __u32 old, __u32 perf)
{
	s->enrolled = task_enrolled(p);
	s->cgroup_id = task_cgroup_id(p);
	if (s->enrolled) {
		STAT_INC(accepted);
	} else {
		STAT_INC(rejected);
		STAT_INC(rejected_not_enrolled);
	}
	emit_flags(VCPUFREQ_EV_REQUEST, tid, perf, s->enrolled, s->cgroup_id,
		   agent_must_wake(old, perf) ? 0 : BPF_RB_NO_WAKEUP);
}

/* @tid's slot, when the request names one that @tid owns */
static struct vcpufreq_slot *owned_slot(struct vcpufreq_request *req,
					__u32 tid)
{
	__u32 idx = req->slot - 1;
	struct vcpufreq_slot *slot;

	if (!req->slot)
		return NULL;
	slot = bpf_map_lookup_elem(&slots, &idx);
	return slot && slot->tid == tid ? slot : NULL;
}

/*
 * The request in force, at most VCPUFREQ_PERF_MAX: the fast-path slot wins
 * over the hash value.
 */
static __u32 requested_perf(struct vcpufreq_request *req, __u32 tid)
{
	struct vcpufreq_slot *slot = owned_slot(req, tid);
	__u32 perf;

	perf = slot ? slot->perf : req->perf;
	if (perf > VCPUFREQ_PERF_MAX)
		perf = VCPUFREQ_PERF_MAX;
	req->perf = perf;		/* so bpftool shows what is in force */
	if (slot)
		req->guest_perf = slot->guest_perf;
	return perf;
}

/*
 * Is @perf news for this thread, and are we the one to take it in?  The
 * agent's iterator, `request`'s and a wakeup may sync the same thread at
 * once: compare-and-swap lets exactly one count it and tell the agent.
 */
static bool claim_change(struct vcpufreq_vcpu *s, __u32 perf)
{
	__u32 old = s->perf;

	if (!s->taken) {
		if (__sync_val_compare_and_swap(&s->taken, 0, 1))
			return false;
		s->perf = perf;
		return true;
	}
	return old != perf &&
	       __sync_val_compare_and_swap(&s->perf, old, perf) == old;
}

/*
 * Bring @p's tracked state in line with `requests`: start tracking it,
 * take in a changed request, or forget a dropped one.  @s is its storage
 * or NULL; @recheck forces a new enrollment verdict.
 */
static void sync_thread(struct task_struct *p, struct vcpufreq_vcpu *s,
			bool recheck)
{
	__u32 tid = BPF_CORE_READ(p, pid);
	struct vcpufreq_request *req;
	__u32 perf, old;

	req = bpf_map_lookup_elem(&requests, &tid);
	if (!req) {
		tid_mark(tid, false);
		/* a writer may have re-added it between the lookup and the clear */
		if (bpf_map_lookup_elem(&requests, &tid))
			tid_mark(tid, true);
		/* of concurrent syncers, only the one that deletes reports it */
		if (!s || bpf_task_storage_delete(&vcpu_state, p))
			return;
		STAT_INC(dropped);
		emit(VCPUFREQ_EV_DROP, tid, 0, 0, 0);
		return;
	}
	perf = requested_perf(req, tid);
	if (!s) {
		s = bpf_task_storage_get(&vcpu_state, p, 0,
					 BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (!s)
			return;
	}
	old = s->taken ? s->perf : 0;	/* what the agent was last told */
	if (claim_change(s, perf))
		take_in_request(p, s, tid, old, perf);
	else if (recheck || s->cgroup_id != task_cgroup_id(p))
		decide_enrolled(p, s, tid);
}

/*
 * @p woke up: take in anything new for it.  Only here (and in the
 * iterator) is a thread without storage checked against tid_bits, which
 * keeps that array load off the sched_switch path.
 */
static void sync_woken(struct task_struct *p)
{
	struct vcpufreq_vcpu *s = bpf_task_storage_get(&vcpu_state, p, 0, 0);

	if (s || tid_marked(BPF_CORE_READ(p, pid)))
		sync_thread(p, s, false);
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
 * Was @tid's PENDING emitted from this CPU less than a millisecond ago?
 * Then the agent is already on its way, and a writer in a tight loop
 * costs it one event per millisecond rather than one per write (the
 * thread also takes its request in itself at its next wakeup or switch,
 * before it runs).
 */
static bool pending_again(__u32 tid, bool deleted)
{
	__u32 zero = 0;
	struct last_pending *l = bpf_map_lookup_elem(&pending_seen, &zero);
	__u64 now = bpf_ktime_get_ns();

	if (!l)
		return false;
	if (deleted) {		/* a drop is always told: it restores */
		l->tid = 0;
		return false;
	}
	if (l->tid == tid && now - l->ts < PENDING_COALESCE_NS)
		return true;
	l->tid = tid;
	l->ts = now;
	return false;
}

/*
 * Every bpf() syscall that wrote or deleted a `requests` entry: mark the
 * TID and wake the agent, which syncs it through the task iterator.  The
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
	if (bpf_probe_read_user(&attr, sizeof(attr.map_fd) + 4 +
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
	if (!pending_again(tid, cmd == BPF_MAP_DELETE_ELEM))
		emit(VCPUFREQ_EV_PENDING, tid, 0, 0, 0);
	return 0;
}

/*
 * @p runs in SCHED_EXT but has no request: not a vCPU the agent moved
 * there (a user's own sched_setscheduler(), or a child of a vCPU).  Our
 * scheduler serves vCPUs only, and such a task could get it ejected: tell
 * the agent, which moves it back to SCHED_OTHER.  Once per 10 ms per CPU.
 */
static void check_foreign_ext(struct task_struct *p)
{
	__u32 zero = 0, tid = p->pid;
	struct last_pending *l;
	__u64 now;

	if (p->policy != SCHED_EXT_POLICY)
		return;
	l = bpf_map_lookup_elem(&foreign_seen, &zero);
	now = bpf_ktime_get_ns();
	if (!l || (l->tid == tid && now - l->ts < FOREIGN_COALESCE_NS))
		return;
	l->tid = tid;
	l->ts = now;
	emit(VCPUFREQ_EV_FOREIGN_EXT, tid, 0, 0, 0);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	struct vcpufreq_vcpu *s;
	__u64 now = 0;

	s = bpf_task_storage_get(&vcpu_state, prev, 0, 0);
	if (s && s->last_in_ns) {
		now = bpf_ktime_get_ns();
		s->runtime_ns += now - s->last_in_ns;
		s->last_in_ns = 0;
	}
	s = bpf_task_storage_get(&vcpu_state, next, 0, 0);
	if (s) {
		sync_thread(next, s, false);
		/* a dropped request took the storage with it */
		s = bpf_task_storage_get(&vcpu_state, next, 0, 0);
	}
	if (s) {
		s->last_in_ns = now ? now : bpf_ktime_get_ns();
		s->last_cpu = bpf_get_smp_processor_id();
		s->switches++;
	} else {
		check_foreign_ext(next);
	}
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(on_wakeup, struct task_struct *p)
{
	sync_woken(p);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
	struct vcpufreq_vcpu *s = bpf_task_storage_get(&vcpu_state, p, 0, 0);
	__u32 tid = BPF_CORE_READ(p, pid);
	struct vcpufreq_request *req;
	struct vcpufreq_slot *slot;

	if (!s && !tid_marked(tid))
		return 0;
	req = bpf_map_lookup_elem(&requests, &tid);
	slot = req ? owned_slot(req, tid) : NULL;
	if (slot) {
		/* a VMM that died cannot free it; a live one sees the new gen */
		__sync_fetch_and_add(&slot->gen, 1);
		slot->tid = 0;
	}
	bpf_map_delete_elem(&requests, &tid);
	tid_mark(tid, false);
	if (!s)
		return 0;
	STAT_INC(exits);
	emit(VCPUFREQ_EV_EXIT, tid, 0, s->enrolled, s->cgroup_id);
	bpf_task_storage_delete(&vcpu_state, p);
	return 0;
}

/*
 * Run by the agent after PENDING/ENROLL events and by `enroll`, `leave`
 * and `request` (through the pinned link): every thread with a request is
 * synced and re-decided now, running or not.
 */
SEC("iter/task")
int refresh_all(struct bpf_iter__task *ctx)
{
	struct task_struct *p = ctx->task;
	struct vcpufreq_vcpu *s;

	if (!p)
		return 0;
	s = bpf_task_storage_get(&vcpu_state, p, 0, 0);
	if (s || tid_marked(BPF_CORE_READ(p, pid)))
		sync_thread(p, s, true);
	return 0;
}
