/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Taking a thread's request in (refresh_thread), shared by the tracking
 * programs (switch-in, the iterator) and the sched_ext scheduler
 * (a vCPU waking up, before it is queued): both objects include this
 * after shared_maps.h and run on the same pinned maps.
 */
#ifndef VCPUFREQ_REFRESH_THREAD_H
#define VCPUFREQ_REFRESH_THREAD_H

static struct vcpufreq_stats *global_stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&stats, &zero);
}

#define STAT_INC(field)						\
	do {							\
		struct vcpufreq_stats *__s = global_stats();	\
		if (__s)					\
			__sync_fetch_and_add(&__s->field, 1);	\
	} while (0)

/* @tid's word and bit in @bitmap, an array of __u64 indexed tid / 64 */
static __always_inline __u64 *tid_bitmap_word(void *bitmap, __u32 tid,
					      __u64 *bit)
{
	__u32 idx = tid / 64;

	*bit = 1ULL << (tid % 64);
	return bpf_map_lookup_elem(bitmap, &idx);
}

static __u64 *tid_word(__u32 tid, __u64 *bit)
{
	return tid_bitmap_word(&tid_bits, tid, bit);
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

/*
 * Plain loads, not BPF_CORE_READ's helper call per hop: every caller holds
 * a trusted task in an RCU section (tp_btf, iter/task, struct_ops), which
 * the verifier turns into faulting loads.  Each sync re-reads it.
 */
static __u64 task_cgroup_id(struct task_struct *p)
{
	return p->cgroups->dfl_cgrp->kn->id;
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

	/*
	 * The ring wakes its reader only for a record it has caught up to:
	 * behind an unread RETUNE (BPF_RB_NO_WAKEUP), an event that must
	 * wake the agent would wait for its next pass.  Force it then.
	 */
	if (!flags && bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA))
		flags = BPF_RB_FORCE_WAKEUP;
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
 * need the agent only when a request starts or ends.  Other changes are
 * VCPUFREQ_EV_RETUNE: they do not wake the agent, which takes the latest
 * of each thread in at its next pass (a guest may change its request
 * hundreds of times a second, and each wakeup or apply costs the host a CPU).
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
	__u32 was_enrolled = s->enrolled;
	bool wake;

	s->enrolled = task_enrolled(p);
	s->cgroup_id = task_cgroup_id(p);
	if (s->enrolled) {
		STAT_INC(accepted);
	} else {
		STAT_INC(rejected);
		STAT_INC(rejected_not_enrolled);
	}
	wake = agent_must_wake(old, perf) || s->enrolled != was_enrolled;
	emit_flags(wake ? VCPUFREQ_EV_REQUEST : VCPUFREQ_EV_RETUNE, tid, perf,
		   s->enrolled, s->cgroup_id, wake ? 0 : BPF_RB_NO_WAKEUP);
}

/* slot number @nr (1-based, as a request names it; 0: none), if @tid owns it */
static struct vcpufreq_slot *tid_slot(__u32 nr, __u32 tid)
{
	__u32 idx = nr - 1;
	struct vcpufreq_slot *slot;

	if (!nr)
		return NULL;
	slot = bpf_map_lookup_elem(&slots, &idx);
	return slot && slot->tid == tid ? slot : NULL;
}

/* @tid's slot, when the request names one that @tid owns */
static struct vcpufreq_slot *owned_slot(struct vcpufreq_request *req,
					__u32 tid)
{
	return tid_slot(req->slot, tid);
}

/* a request as it is taken in: at most VCPUFREQ_PERF_MAX */
static __u32 perf_in_range(__u32 perf)
{
	return perf < VCPUFREQ_PERF_MAX ? perf : VCPUFREQ_PERF_MAX;
}

/*
 * The request in force, at most VCPUFREQ_PERF_MAX: the fast-path slot
 * @slot (owned by the thread, or NULL) wins over the hash value.
 */
static __u32 requested_perf(struct vcpufreq_request *req,
			    struct vcpufreq_slot *slot)
{
	__u32 perf;

	perf = perf_in_range(slot ? slot->perf : req->perf);
	/*
	 * so bpftool shows what is in force; stored only when it moved, or
	 * every sync on every CPU would pull the entry's line over
	 */
	if (req->perf != perf)
		req->perf = perf;
	if (slot && req->guest_perf != slot->guest_perf)
		req->guest_perf = slot->guest_perf;
	return perf;
}

/*
 * Is @perf news for this thread, and are we the one to take it in?  The
 * agent's iterator, `request`'s and a wakeup may refresh the same thread at
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
 * or NULL; @recheck forces a new enrollment verdict; *@slot_seen (unless
 * NULL) gets the request's fast-path slot as the request names it (0: none).
 * Returns its storage afterwards: NULL when it has no request.
 */
static struct vcpufreq_vcpu *refresh_thread(struct task_struct *p,
					 struct vcpufreq_vcpu *s, bool recheck,
					 __u32 *slot_seen)
{
	__u32 tid = p->pid;
	struct vcpufreq_request *req;
	struct vcpufreq_slot *slot;
	__u32 perf, old;

	req = bpf_map_lookup_elem(&requests, &tid);
	if (slot_seen)
		*slot_seen = req ? req->slot : 0;
	if (!req) {
		tid_mark(tid, false);
		/* a writer may have re-added it between the lookup and the clear */
		if (bpf_map_lookup_elem(&requests, &tid))
			tid_mark(tid, true);
		/* of concurrent syncers, only the one that deletes reports it */
		if (!s || bpf_task_storage_delete(&vcpu_state, p))
			return NULL;
		STAT_INC(dropped);
		emit(VCPUFREQ_EV_DROP, tid, 0, 0, 0);
		return NULL;
	}
	slot = owned_slot(req, tid);
	perf = requested_perf(req, slot);
	if (!s) {
		s = bpf_task_storage_get(&vcpu_state, p, 0,
					 BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (!s)
			return NULL;
		if (!s->taken)	/* new: its runtime counts from here */
			s->runtime_base_ns = p->se.sum_exec_runtime;
	}
	old = s->taken ? s->perf : 0;	/* what the agent was last told */
	if (claim_change(s, perf))
		take_in_request(p, s, tid, old, perf);
	else if (recheck || s->cgroup_id != task_cgroup_id(p))
		decide_enrolled(p, s, tid);
	/* for the agent's pass: this slot's value is in (written on change) */
	if (slot && slot->taken_perf != perf)
		slot->taken_perf = perf;
	/* what switch-in compares to know that nothing moved */
	if (s->slot != req->slot)
		s->slot = req->slot;
	if (slot && s->guest_perf != slot->guest_perf)
		s->guest_perf = slot->guest_perf;
	return s;
}

#endif /* VCPUFREQ_REFRESH_THREAD_H */
