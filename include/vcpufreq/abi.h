/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * vcpufreq-bpf ABI: the single source of truth for everything that crosses
 * a boundary -- BPF maps (key/value layouts, pin names), ring buffer events,
 * perf units, and the virtual cpufreq register layout.  Included by the BPF
 * programs, the vcpufreq-bpf CLI/agent, libvcpufreq and the tests.
 *
 * Units: a "perf" is host capacity units, 0..VCPUFREQ_PERF_MAX, the scale of
 * /sys/devices/system/cpu/cpuN/cpu_capacity and of the scheduler's util.
 *
 * A request is the performance a vCPU asks to run at while it runs: the
 * frequency its guest asked for, on the host's capacity scale (a vCPU on a
 * CPU of capacity C asking for f of its fmax requests C * f / fmax).  The
 * guest governor's own headroom is part of it; nothing is added or taken
 * off on the way.  Each backend turns a request into its knob once:
 *   scx       CPU of capacity >= request; cpuperf target 4/5 of it, since
 *             schedutil adds 25% to a sched_ext target (a floor: the
 *             thread's own load, as the fair class tracks it, may ask more)
 *   uclamp    uclamp_min = request (kernels >= 6.8 run a CPU at least at
 *             uclamp_min; older ones added 25%: 4/5 of it there)
 *   affinity  CPUs of capacity >= request
 *   cpufreq   scaling_min_freq = the lowest frequency delivering request
 */
#ifndef VCPUFREQ_ABI_H
#define VCPUFREQ_ABI_H

#ifdef __VCPUFREQ_BPF__
/* BPF side: types come from vmlinux.h */
#else
#include <linux/types.h>
#endif

#define VCPUFREQ_PERF_MAX		1024

/* Default pin directory and the names pinned below it. */
#define VCPUFREQ_PIN_DIR		"/sys/fs/bpf/vcpufreq"
#define VCPUFREQ_PIN_REQUESTS		"requests"
#define VCPUFREQ_PIN_CGROUPS		"cgroups"
#define VCPUFREQ_PIN_VCPU_STATE		"vcpu_state"
#define VCPUFREQ_PIN_ACTIONS		"actions"
#define VCPUFREQ_PIN_STATS		"stats"
#define VCPUFREQ_PIN_SETTINGS		"settings"
#define VCPUFREQ_PIN_EVENTS		"events"
#define VCPUFREQ_PIN_TID_BITS		"tid_bits"
#define VCPUFREQ_PIN_SLOTS		"slots"
#define VCPUFREQ_PIN_LINKS		"links"

#define VCPUFREQ_MAX_THREADS		16384
#define VCPUFREQ_MAX_CGROUPS		1024
#define VCPUFREQ_CGROUP_PATH_LEN	256
#define VCPUFREQ_MAX_CPUS		256
#define VCPUFREQ_CGROUP_MAX_DEPTH	32

/*
 * requests: BPF_MAP_TYPE_HASH, key __u32 host TID (root pid namespace),
 * value struct vcpufreq_request.  Written by the VMM (or `vcpufreq-bpf
 * request`); deleting the key drops the request.  The kernel side deletes
 * the key itself when the thread exits or never existed.
 */
struct vcpufreq_request {
	__u32 perf;		/* requested host capacity, 0..VCPUFREQ_PERF_MAX */
	__u32 guest_perf;	/* raw value the guest wrote to SET_PERF (0: n/a) */
	__u32 vm_id;		/* VMM-chosen VM identifier (0: unknown) */
	__u32 vcpu;		/* vCPU index inside that VM */
	__u32 slot;		/* 1 + index into `slots` (0: none) */
};

/*
 * slots: BPF_MAP_TYPE_ARRAY, BPF_F_MMAPABLE, VCPUFREQ_MAX_SLOTS entries.
 * The fast path: a registered vCPU thread owns one slot (claimed with a
 * compare-and-swap of tid 0 -> TID in the shared mapping) and a request
 * is a plain store of perf into it.  The BPF side trusts a slot only when
 * its tid matches the thread, reads it at the thread's wakeups and
 * switches, mirrors the value into requests[TID].perf for bpftool and
 * into taken_perf: a running vCPU that is never switched out takes in
 * nothing, so the agent's pass refreshes every owned slot whose perf is
 * not its taken_perf (plain loads, no system call per slot).
 */
#define VCPUFREQ_MAX_SLOTS		4096

struct vcpufreq_slot {
	__u32 tid;		/* owner thread, 0 when free */
	__u32 perf;		/* request, host capacity units */
	__u32 guest_perf;	/* raw guest value */
	__u32 gen;		/* +1 each time BPF frees the slot at an exit:
				 * a handle that claimed it before must not
				 * steer the thread that reuses the TID */
	__u32 taken_perf;	/* perf as BPF last took it in (BPF writes) */
	__u32 pad[3];		/* 32 bytes: two slots per cache line */
};

/*
 * cgroups: BPF_MAP_TYPE_HASH, key __u64 cgroup v2 id (the cgroup
 * directory's inode number), value struct vcpufreq_cgroup.  A thread is
 * enrolled when its cgroup v2, or any ancestor of it, has an entry here.
 */
struct vcpufreq_cgroup {
	__u64 enrolled_ns;	/* CLOCK_REALTIME of `enroll`, for status */
	char path[VCPUFREQ_CGROUP_PATH_LEN];
};

/*
 * vcpu_state: BPF_MAP_TYPE_TASK_STORAGE (so it dies with the thread and a
 * reused TID can never inherit it).  Present only on threads with a request.
 * From user space it is looked up with a pidfd of the thread.
 */
struct vcpufreq_vcpu {
	__u64 cgroup_id;	/* cgroup v2 the thread was last seen in */
	__u64 runtime_ns;	/* on-CPU time since its first request, as of
				 * its last switch-in or the agent's last pass */
	__u64 runtime_base_ns;	/* its se.sum_exec_runtime at its first request */
	__u64 switches;		/* times switched in */
	__u32 last_cpu;		/* CPU it last ran on */
	__u32 perf;		/* request as last seen by BPF */
	__u32 enrolled;		/* 1 when its cgroup or an ancestor is enrolled */
	__u32 taken;		/* 1 once a request was taken in */
	__u32 slot;		/* the slot its request names (0: none) and */
	__u32 guest_perf;	/* that slot's guest perf, as last taken in:
				 * switch-in skips the `requests` lookup
				 * while neither moved */
};

/*
 * tid_bits: BPF_MAP_TYPE_ARRAY of __u64, bit (tid % 64) of word (tid / 64)
 * set when `requests` may hold TID: the test that keeps thread exit and
 * the scheduler's wakeup cheap for every thread that has no request.
 */
#define VCPUFREQ_TID_BITS_WORDS	(4194304 / 64)	/* PID_MAX_LIMIT */

/*
 * tid_pending: BPF_MAP_TYPE_ARRAY (BPF_F_MMAPABLE) of __u64, the same
 * layout: set by a bpf() write or delete of requests[tid], which wakes the
 * agent (VCPUFREQ_EV_PENDING) only when the bit was clear; cleared by the
 * refresh iterator before it reads the request (by the agent for a TID
 * no thread has).  A write after a take-in always wakes the agent again.
 */
#define VCPUFREQ_PIN_TID_PENDING	"tid_pending"

/*
 * actions: BPF_MAP_TYPE_HASH, key __u32 TID, value struct vcpufreq_action.
 * Written by the agent: what it applied and what it must restore, so that
 * `vcpus` can show it and `unload` can restore even after an agent crash.
 */
enum vcpufreq_backend {
	VCPUFREQ_BACKEND_NONE = 0,
	VCPUFREQ_BACKEND_OBSERVE,
	VCPUFREQ_BACKEND_UCLAMP,
	VCPUFREQ_BACKEND_AFFINITY,
	VCPUFREQ_BACKEND_CPUFREQ,
	VCPUFREQ_BACKEND_SCX,
	VCPUFREQ_BACKEND_COUNT,
};

#define VCPUFREQ_CPUMASK_WORDS	(VCPUFREQ_MAX_CPUS / 64)

struct vcpufreq_action {
	__u32 backend;		/* enum vcpufreq_backend that applied it */
	__u32 perf;		/* effective perf applied (0: restored) */
	__u32 uclamp_min;	/* uclamp backend: value set */
	__u32 saved_uclamp_min;	/* uclamp backend: value to restore */
	__u32 floor_khz;	/* cpufreq backend: floor this thread asks for */
	__u32 saved_valid;	/* 1 while saved_* hold a value to restore */
	__u32 policy;		/* scx backend: policy set (SCHED_EXT) */
	__u32 saved_policy;	/* scx backend: policy to restore */
	__u64 start_time;	/* the thread's start (proc stat field 22), so a
				 * reused TID is never "restored" */
	__u64 cpus[VCPUFREQ_CPUMASK_WORDS];	  /* affinity applied */
	__u64 saved_cpus[VCPUFREQ_CPUMASK_WORDS]; /* affinity to restore */
	__u32 flags;		/* VCPUFREQ_ACTION_* */
	__u32 pad;
};

/*
 * scx backend: the thread stays in the fair class because its cgroup (or
 * an ancestor) limits CPU with cpu.max or cpu.weight, which our sched_ext
 * scheduler would not honour.
 */
#define VCPUFREQ_ACTION_CGROUP_LIMITED	1
/*
 * Recorded before the system call that sets what the record says (record
 * first, then apply), cleared in the record after it: a restore that
 * finds it restores the saved value whatever the thread has now (the
 * change may or may not have been made when the agent died).
 */
#define VCPUFREQ_ACTION_CHANGING	2

/*
 * stats: BPF_MAP_TYPE_ARRAY, BPF_F_MMAPABLE, one entry (key 0); counters
 * only ever grow, with atomic adds from BPF and from the agent.
 */
struct vcpufreq_stats {
	__u64 accepted;		/* requests for a live, enrolled thread */
	__u64 rejected;		/* requests with no effect (either reason) */
	__u64 rejected_no_thread;
	__u64 rejected_not_enrolled;
	__u64 dropped;		/* requests deleted (by VMM, exit or kernel) */
	__u64 exits;		/* tracked threads that exited */
	__u64 verdict_flips;	/* enrolled state changes seen by BPF */
	__u64 events_lost;	/* ring buffer full */
	__u64 syncs;		/* agent-run refresh iterations */
	/* the broker (unprivileged VMMs, see struct vcpufreq_broker_msg) */
	__u64 broker_registered;	/* TIDs registered through it */
	__u64 broker_refused;		/* operations refused (any reason) */
	__u64 broker_cross_vm;		/* of those: a thread outside the
					 * caller's VM, or another VM's */
	__u64 broker_quota;		/* of those: over the grant's quota */
	__u64 broker_requests;		/* request messages received */
	__u64 broker_coalesced;		/* requests overwritten before they
					 * were applied (a newer one won) */
	__u64 broker_rate_limited;	/* applies deferred by the per-VM
					 * rate limit */
	__u64 agent_full_walks;		/* refreshes of every host thread */
	__u64 log_suppressed;		/* agent log lines not written */
	__u64 scx_foreign_reset;	/* tasks we did not put in SCHED_EXT,
					 * moved back to SCHED_OTHER */
	__u64 broker_conns_refused;	/* connections refused: the user's
					 * share of the broker is used up */
	__u64 grants_reloaded;		/* times the agent read the grants
					 * (SIGHUP from `grant`) */
	__u64 agent_applies;		/* requests the agent handed to its
					 * backend (or recorded, scx/observe) */
	__u64 retunes_coalesced;	/* RETUNE events a newer one of the
					 * same thread replaced before the pass */
};

/* settings: BPF_MAP_TYPE_ARRAY, one entry (key 0), written by `load`. */
struct vcpufreq_config {
	__u32 backend;		/* enum vcpufreq_backend in use */
	__u32 agent_pid;	/* the agent `load` started (every backend has one) */
	__u64 loaded_ns;	/* CLOCK_REALTIME of load */
	char topology[VCPUFREQ_CGROUP_PATH_LEN]; /* override file, "" = sysfs */
	__u32 power;		/* enum vcpufreq_power of `load --power` */
};

/*
 * How a request is priced (`load --power`).  Balanced: a request alone is
 * served up to the efficiency knee of the host's OPP tables (past it each
 * unit of work costs much more); the scx backend serves it in full in a
 * burst after idle or a busy run.  Performance: every request in full.
 * Hosts without power figures have no knee: the two are the same there.
 */
enum vcpufreq_power {
	VCPUFREQ_POWER_BALANCED = 0,
	VCPUFREQ_POWER_PERFORMANCE = 1,
};

/* events: BPF_MAP_TYPE_RINGBUF of struct vcpufreq_event. */
enum vcpufreq_event_type {
	VCPUFREQ_EV_PENDING = 1,	/* requests[tid] written (from the writer) */
	VCPUFREQ_EV_REQUEST,		/* a thread's request taken in by BPF */
	VCPUFREQ_EV_DROP,		/* request deleted */
	VCPUFREQ_EV_VERDICT,		/* enrolled state of a thread changed */
	VCPUFREQ_EV_EXIT,		/* tracked thread exited */
	VCPUFREQ_EV_ENROLL,		/* cgroups map written */
	VCPUFREQ_EV_SCX_EXIT,		/* the scheduler was detached or
					 * ejected; perf = scx exit kind */
	VCPUFREQ_EV_FOREIGN_EXT,	/* a task joined SCHED_EXT: the agent
					 * moves it back unless it put it
					 * there itself */
	VCPUFREQ_EV_RETUNE,		/* a request taken in, from one nonzero
					 * value to another, enrollment unchanged,
					 * under a backend that reads requests in
					 * BPF (scx, observe): nothing to do at
					 * once; the agent keeps the latest per
					 * thread for its next pass */
};

struct vcpufreq_event {
	__u32 type;		/* enum vcpufreq_event_type */
	__u32 tid;
	__u32 perf;
	__u32 enrolled;
	__u64 cgroup_id;
	__u64 ts_ns;		/* bpf_ktime_get_ns() when emitted */
};

/*
 * The sched_ext backend (bpf/vcpufreq_scx.bpf.c).  CPUs are grouped into
 * capacity levels (distinct host capacities, ascending); a vCPU's request
 * picks the lowest level whose capacity fits it.  scx_cpus:
 * BPF_MAP_TYPE_ARRAY indexed by CPU, pinned by the agent while the
 * scheduler is attached; an entry is written under its CPU's runqueue lock.
 */
#define VCPUFREQ_SCX_OPS_NAME		"vcpufreq"
#define VCPUFREQ_PIN_SCX_CPUS		"scx_cpus"
#define VCPUFREQ_SCX_MAX_LEVELS		8
/*
 * The scheduler's energy table (efficient_level, bpf/vcpufreq_scx.bpf.c):
 * one entry per VCPUFREQ_SCX_DEMAND_STEP of demand, 0..VCPUFREQ_PERF_MAX.
 */
#define VCPUFREQ_SCX_DEMAND_STEP	32
#define VCPUFREQ_SCX_DEMAND_BUCKETS	(VCPUFREQ_PERF_MAX / VCPUFREQ_SCX_DEMAND_STEP + 1)

struct vcpufreq_scx_cpu {
	__u64 run_ns[VCPUFREQ_SCX_MAX_LEVELS + 1]; /* [0]: vCPUs without a
						    * request, [1 + L]: level L */
	__u64 cpuperf_sets;	/* scx_bpf_cpuperf_set() calls, both ways */
	__u64 running_at;	/* bpf_ktime when the current vCPU started */
	__u32 cpuperf_target;	/* this CPU's target (0..1024) as last set,
				 * read back from the kernel where it can be */
	__u32 running_level;	/* index into run_ns of the current vCPU */
	__u32 demand;		/* the request the target was set for */
	__u32 pad;
	__u64 held_since;	/* bpf_ktime the vCPU stopped, its target
				 * kept (0: not held) */
};

/*
 * The broker: how a VMM that is not root steers its vCPU threads.  Such a
 * VMM gets no access to any map (all are root-only); it connects to the
 * agent's unix socket STATE_DIR/NAME.sock (STATE_DIR: $VCPUFREQ_STATE_DIR,
 * default /run/vcpufreq; NAME: the pin dir's last component, so
 * "vcpufreq.sock" by default), SOCK_SEQPACKET, one message per operation.
 * The agent checks the peer's credentials (SO_PEERCRED) against the
 * grants `vcpufreq-bpf grant` recorded: a TID is registered only when it
 * is a thread of the peer's own process or lies in a cgroup granted to
 * the peer's user or group, is not another user's, and fits the grant's
 * quota.  REGISTER, UNREGISTER and HELLO are answered with a struct
 * vcpufreq_broker_reply; REQUEST is not (coalesced, rate limited).
 */
#define VCPUFREQ_STATE_DIR		"/run/vcpufreq"
#define VCPUFREQ_BROKER_VERSION		1

enum vcpufreq_broker_op {
	VCPUFREQ_BROKER_HELLO = 1,	/* tid = VCPUFREQ_BROKER_VERSION */
	VCPUFREQ_BROKER_REGISTER,
	VCPUFREQ_BROKER_REQUEST,
	VCPUFREQ_BROKER_UNREGISTER,
	VCPUFREQ_BROKER_RELOAD,		/* root: grants changed (grant) */
};

struct vcpufreq_broker_msg {
	__u32 op;		/* enum vcpufreq_broker_op */
	__u32 tid;
	__u32 vm_id;
	__u32 vcpu;
	__u32 perf;
	__u32 guest_perf;
};

struct vcpufreq_broker_reply {
	__u32 op;
	__u32 tid;
	__s32 error;		/* 0 or a negative errno */
	__u32 pad;
};

/* virtual cpufreq device registers and its shared-memory twin */
#include "vcpufreq/device.h"

#endif /* VCPUFREQ_ABI_H */
