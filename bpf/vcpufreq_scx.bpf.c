// SPDX-License-Identifier: GPL-2.0
/*
 * vcpufreq: a sched_ext scheduler for vCPU threads, in partial mode.
 *
 * Only tasks the agent switched to SCHED_EXT run here: the vCPU threads of
 * enrolled cgroups that carry a request; every other task stays in the
 * fair class.
 *
 * The policy in plain words.  A vCPU gets what its own load needs, as the
 * host's schedutil would give the thread (its load at its recent halts
 * remembered, as the fair class's util_est remembers it), or what its
 * guest asks, if that is more.  What the guest asks is priced by energy: it is served up to
 * the host's efficiency knee (the OPP past which a unit of work costs far
 * more), since a guest asking for its top speed is most often a guest's
 * iowait boost for a vCPU that halts between short runs, and running those
 * runs at the top OPP costs several times the energy for little I/O.
 * Above the knee only three things take a vCPU: its own measured load, a
 * burst after idle -- a vCPU that slept LONG_SLEEP_NS or more and whose
 * guest asks high gets the full request at once, until it halts again --
 * and a busy run: a vCPU that ran BUSY_RUN_NS without a halt gets its
 * full request until it halts.
 * The recent peak of a guest's requests is kept, halving at each halt of
 * the vCPU (as schedutil's iowait boost halves at an update without new
 * I/O) and every 32 ms.  A demand runs on the capacity level that does it
 * for the least energy, else the lowest that fits; the CPU's frequency
 * target is set for it while it runs and kept 4 ms after it stops.
 * `load --power performance` sets the knee to 1024: every request in full.
 *
 * The details -- demand, capacity levels and the energy preference,
 * placement, dispatch, frequency targets and their hold, and what tick,
 * cpu_release, enable and exit do, with the reason for each choice -- are
 * in docs/design.md ("The sched_ext backend").  The callbacks follow in
 * lifecycle order.
 */
/*
 * The kernel's own sched_ext headers (tools/sched_ext/include/scx, taken
 * from linux-source-6.12 at build time): kfuncs, BPF_STRUCT_OPS, UEI_*,
 * SCX_OPS_DEFINE.  Their "vmlinux.h" is bpf/vmlinux/ARCH/vmlinux.h, the
 * test kernel's BTF (make vmlinux-scx), since a build host's BTF may have
 * no sched_ext types.
 */
#include <scx/common.bpf.h>
#include <scx/compat.bpf.h>
#include <bpf/bpf_core_read.h>

#define __VCPUFREQ_BPF__
#include "vcpufreq/abi.h"
#include "shared_maps.h"	/* the tracking programs' maps */
#include "refresh_thread.h"	/* taking a request in, as they do */

char LICENSE[] SEC("license") = "GPL";

/*
 * 6.13 renamed dispatch/consume to dsq_insert/dsq_move_to_local and 6.18
 * deprecated scx_bpf_cpu_rq; 6.12's common.bpf.h declares the old names
 * only, and strong.  Every one is weak here: the kernel's is picked at
 * load (dsq_insert, dsq_move_to_local below, set_cpuperf).
 */
void scx_bpf_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice,
			u64 enq_flags) __ksym __weak;
bool scx_bpf_dsq_move_to_local(u64 dsq_id) __ksym __weak;
void scx_bpf_dispatch(struct task_struct *p, u64 dsq_id, u64 slice,
		      u64 enq_flags) __ksym __weak;
bool scx_bpf_consume(u64 dsq_id) __ksym __weak;
struct rq *scx_bpf_cpu_rq(s32 cpu) __ksym __weak;

static __always_inline void dsq_insert(struct task_struct *p, u64 dsq_id,
				       u64 slice, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_insert))
		scx_bpf_dsq_insert(p, dsq_id, slice, enq_flags);
	else
		scx_bpf_dispatch(p, dsq_id, slice, enq_flags);
}

static __always_inline bool dsq_move_to_local(u64 dsq_id)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move_to_local))
		return scx_bpf_dsq_move_to_local(dsq_id);
	return scx_bpf_consume(dsq_id);
}

/* schedutil runs a CPU at 1.25x its sched_ext target: 4/5 of a request */
#define CPUPERF_NUM		4
#define CPUPERF_DEN		5
#define SHARED_DSQ		0
#define LEVEL_DSQ(level)	(1 + (u64)(level))
/* far below the watchdog's 30 s, far above what a busy CPU takes to free */
#define STARVE_NS		(1000 * 1000 * 1000ULL)	/* 1 s */
#define STARVE_CHECK_NS		(250 * 1000 * 1000ULL)
/* the guest's own PELT half-life: a frame's peak outlives the frame */
#define DEMAND_HALFLIFE_NS	(32 * 1000 * 1000ULL)
/* how long a stopped vCPU's target outlives it: a guest tick */
#define HOLD_NS			(4 * 1000 * 1000ULL)
/*
 * a target moves only for a demand this far from the one it was set for
 * (or to or from 0): the thread's own load changes a little at every
 * event, and each set calls into schedutil
 */
#define DEMAND_STEP		16
/* a thread's own load halves every 2^25 ns (33.6 ms; PELT's is 32 ms) */
#define UTIL_HALFLIFE_SHIFT	25
/*
 * a halt this long makes the next wakeup a burst after idle: the host's
 * own view of the thread has lost half of its load by then
 */
#define LONG_SLEEP_NS		DEMAND_HALFLIFE_NS
/*
 * a vCPU that has run this long since it last woke, without a halt, is
 * busy: what its guest asks is its load (a hog, a long frame), not an
 * iowait boost for runs between device waits, and is served in full
 */
#define BUSY_RUN_NS		(8 * 1000 * 1000ULL)

/* set by the loader before load, from the host topology */
const volatile __u32 nr_levels = 1;
const volatile __u32 level_cap[VCPUFREQ_SCX_MAX_LEVELS] = { VCPUFREQ_PERF_MAX };
const volatile __u8 cpu_level[VCPUFREQ_MAX_CPUS];
/*
 * the highest efficiency knee of the host's OPP tables (the loader's
 * topo_knee_capacity): what a request alone is served up to
 */
const volatile __u32 knee_cap = VCPUFREQ_PERF_MAX;

/* why the scheduler stopped, for the agent (written once, in exit) */
UEI_DEFINE(uei);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VCPUFREQ_MAX_CPUS);
	__type(key, u32);
	__type(value, struct vcpufreq_scx_cpu);
} scx_cpus SEC(".maps");

/*
 * per task: the highest level its cpumask reaches, its request peak, and
 * its own load as the fair class would track it (util, as of util_at),
 * the slot its request named when select_cpu last took it in, when it
 * last halted and whether it runs a burst after idle
 */
struct task_ctx {
	u32 max_level;
	u32 peak;
	u64 peak_at;
	u64 util_at;
	u32 util;
	u32 slot;	/* its request's fast-path slot when last taken in */
	u64 halted_at;	/* when it last stopped without being runnable, 0
			 * once a wakeup took the halt in */
	u32 burst;	/* woke after LONG_SLEEP_NS, has not halted since */
	u32 util_est;	/* util at its halts, as the fair class's util_est */
	u64 woke_at;	/* when a wakeup last took a halt in (0: never
			 * halted here, so busy) */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctxs SEC(".maps");

/* per CPU, for dispatch's every-fourth-time rule */
__u32 cpu_dispatches[VCPUFREQ_MAX_CPUS];
/*
 * per level: when a fitting CPU last took from its queue (or the queue
 * filled up), and when a lower CPU last helped it out
 */
__u64 level_fit_at[VCPUFREQ_SCX_MAX_LEVELS];
__u64 level_helped_at[VCPUFREQ_SCX_MAX_LEVELS];
/* a level, masked so that the verifier sees it index the per-level arrays */
#define LEVEL_BOUNDED(level)	((level) & (VCPUFREQ_SCX_MAX_LEVELS - 1))

struct sched_timer {
	struct bpf_timer timer;
};

/* the scheduler's timers: the starvation check, the release of held targets */
#define STARVE_CHECK_TIMER	0
#define RELEASE_HELD_TIMER	1
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, u32);
	__type(value, struct sched_timer);
} sched_timers SEC(".maps");
bool release_timer_armed;

static u32 nr_cpus(void)
{
	u32 n = scx_bpf_nr_cpu_ids();

	return n < VCPUFREQ_MAX_CPUS ? n : VCPUFREQ_MAX_CPUS;
}

/*
 * CPU numbers are below VCPUFREQ_MAX_CPUS (the loader refuses bigger
 * hosts); the mask, not a comparison, is what the verifier can follow.
 */
#define CPU_BOUNDED(cpu)	((u32)(cpu) & (VCPUFREQ_MAX_CPUS - 1))

static u32 level_of(s32 cpu)
{
	return cpu_level[CPU_BOUNDED(cpu)];
}

/* @p's state as the tracking programs keep it (NULL: no request) */
static struct vcpufreq_vcpu *vcpu_of(struct task_struct *p)
{
	return bpf_task_storage_get(&vcpu_state, p, 0, 0);
}

static u32 vcpu_request(struct vcpufreq_vcpu *vcpu)
{
	if (!vcpu || !vcpu->enrolled)
		return 0;
	return vcpu->perf < SCX_CPUPERF_ONE ? vcpu->perf : SCX_CPUPERF_ONE;
}

/* @p's task_ctx (NULL for a task enable has not seen): one lookup per callback */
static struct task_ctx *task_ctx_of(struct task_struct *p)
{
	return bpf_task_storage_get(&task_ctxs, p, 0, 0);
}

/* signed: another CPU may have written @then after @now was read */
static bool older_than(u64 then, u64 now, u64 ns)
{
	return (s64)(now - then) > (s64)ns;
}

/* @v after @dt ns of decay: v * 2^(-dt / 2^UTIL_HALFLIFE_SHIFT) */
static u32 decayed(u32 v, u64 dt)
{
	u64 halvings = dt >> UTIL_HALFLIFE_SHIFT, x;

	if (halvings >= 11)
		return 0;
	/* the rest of a half-life, in 1/1024ths: 2^(-x/1024) ~ quadratic */
	x = (dt & ((1ULL << UTIL_HALFLIFE_SHIFT) - 1)) >> (UTIL_HALFLIFE_SHIFT - 10);
	return ((u64)(v >> halvings) *
		(1024 - x * 672 / 1024 + x * x * 160 / (1024 * 1024))) >> 10;
}

/*
 * The load of a thread that ran since util_at on @cpu: util moves towards
 * the speed it ran at (the CPU's capacity at its current frequency), as a
 * frequency-invariant PELT average does; when it did not run, it decays.
 */
static void update_util(struct task_ctx *tctx, s32 cpu, bool ran, u64 now)
{
	u64 dt = now - tctx->util_at, then = tctx->util_at;
	u32 speed;

	tctx->util_at = now;
	if (!ran || !then) {
		tctx->util = decayed(tctx->util, dt);
		return;
	}
	speed = (u64)scx_bpf_cpuperf_cur(cpu) * scx_bpf_cpuperf_cap(cpu) >> 10;
	if (tctx->util <= speed)
		tctx->util = speed - decayed(speed - tctx->util, dt);
	else
		tctx->util = speed + decayed(tctx->util - speed, dt);
}

/*
 * The first look at a vCPU since it halted: it wakes.  The peak of its
 * requests halves once per idle interval, as schedutil's iowait boost
 * halves at an update without a new I/O wakeup; after a halt of
 * LONG_SLEEP_NS or more, it runs a burst after idle until it halts again.
 */
static void take_wakeup(struct task_ctx *tctx, u64 now)
{
	tctx->burst = older_than(tctx->halted_at, now, LONG_SLEEP_NS);
	tctx->peak >>= 1;
	tctx->halted_at = 0;
	tctx->woke_at = now;
}

/* in a burst after idle, or busy: BUSY_RUN_NS without a halt */
static bool runs_flat_out(struct task_ctx *tctx, u64 now)
{
	return tctx->burst || older_than(tctx->woke_at, now, BUSY_RUN_NS);
}

/*
 * A vCPU's demand, as of *@clock (the callback's one read of the clock,
 * made here if it is 0): the higher of what the host would give the
 * thread on its own load (schedutil's 25% over the higher of util and
 * util_est) and what its guest asks -- its request, or the recent peak
 * of its requests (halved at each idle interval and every
 * DEMAND_HALFLIFE_NS) -- priced by energy: served up to the efficiency
 * knee (knee_cap), in full only in a burst after idle or a busy run
 * (runs_flat_out).  A request adds to the host's own view of the thread,
 * as uclamp_min does; it never takes away from it: a guest whose tasks
 * are spread over its vCPUs asks little for each, while they all must
 * finish together.
 */
static u32 vcpu_demand(struct vcpufreq_vcpu *vcpu, struct task_ctx *tctx,
		       u64 *clock)
{
	u32 req = vcpu_request(vcpu), peak, own, asked;
	u64 now, halvings;

	if (!tctx || !req)
		return req;
	if (!*clock)
		*clock = bpf_ktime_get_ns();
	now = *clock;
	if (tctx->halted_at)
		take_wakeup(tctx, now);
	own = decayed(tctx->util, now - tctx->util_at);
	if (own < tctx->util_est)
		own = tctx->util_est;
	own = own * CPUPERF_DEN / CPUPERF_NUM;
	if (own > SCX_CPUPERF_ONE)
		own = SCX_CPUPERF_ONE;
	halvings = (now - tctx->peak_at) / DEMAND_HALFLIFE_NS;
	peak = halvings < 11 ? tctx->peak >> halvings : 0;
	if (req >= peak) {
		tctx->peak = req;
		tctx->peak_at = now;
		peak = req;
	}
	asked = peak > knee_cap && !runs_flat_out(tctx, now) ? knee_cap : peak;
	return asked > own ? asked : own;
}

static u32 fit_level(struct task_ctx *tctx, u32 demand)
{
	u32 level = nr_levels - 1;

	for (u32 candidate = 0; candidate < VCPUFREQ_SCX_MAX_LEVELS &&
	     candidate < nr_levels; candidate++) {
		if (level_cap[candidate] >= demand) {
			level = candidate;
			break;
		}
	}
	if (tctx && level > tctx->max_level)
		level = tctx->max_level;
	return level;
}

/*
 * The level a demand runs on for the least energy, by the host's power
 * figures (the loader's set_efficient_levels): on a host whose big cores
 * at a low OPP do more work per joule than its little ones near their
 * top, a demand that fits a little core is cheaper on a big one.  All 0
 * without figures.  Only a preference: an idle CPU there is taken first,
 * any fitting CPU next; the queue stays the fitting level's.
 */
const volatile __u8 efficient_level[VCPUFREQ_SCX_DEMAND_BUCKETS];
const volatile bool energy_levels;	/* efficient_level is filled in */

static u32 preferred_level(struct task_ctx *tctx, u32 demand, u32 fit)
{
	u32 efficient;

	if (demand > VCPUFREQ_PERF_MAX)
		demand = VCPUFREQ_PERF_MAX;
	efficient = efficient_level[demand / VCPUFREQ_SCX_DEMAND_STEP];
	if (efficient >= nr_levels)
		efficient = nr_levels - 1;
	if (tctx && efficient > tctx->max_level)
		efficient = tctx->max_level;
	return efficient > fit ? efficient : fit;
}

static u32 max_level_in(const struct cpumask *mask)
{
	u32 max = 0, n = nr_cpus();
	s32 cpu;

	bpf_for(cpu, 0, n) {
		if (level_of(cpu) > max && bpf_cpumask_test_cpu(cpu, mask))
			max = level_of(cpu);
	}
	return max;
}

/* the CPUs of each level as cpumask words, built by init from cpu_level */
__u64 level_cpus[VCPUFREQ_SCX_MAX_LEVELS][VCPUFREQ_CPUMASK_WORDS];

/*
 * The words of a struct cpumask in this kernel (NR_CPUS), as many as we
 * use at most: a constant once CO-RE relocated, so the verifier sees every
 * read below stay inside the kernel's mask.
 */
#define MASK_WORDS							\
	(bpf_core_field_size(((struct cpumask *)0)->bits) / 8 <		\
	 VCPUFREQ_CPUMASK_WORDS ?					\
	 bpf_core_field_size(((struct cpumask *)0)->bits) / 8 :		\
	 VCPUFREQ_CPUMASK_WORDS)

/*
 * A cpumask's words, read without CO-RE: vmlinux.h's struct cpumask has
 * the build host's NR_CPUS, the target kernel may have fewer, and a
 * relocated bits[w] past the target's size would be refused at load even
 * where MASK_WORDS keeps it from running.
 */
struct mask_words {
	u64 bits[VCPUFREQ_CPUMASK_WORDS];
};
#define MASK_WORD(mask, w)	(((const struct mask_words *)(mask))->bits[w])

/* the index of the lowest set bit of @v (not 0): de Bruijn */
static const u8 debruijn_bit[64] = {
	0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4,
	62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
	63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11,
	46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9, 13, 8, 7, 6,
};

static u32 lowest_bit(u64 v)
{
	return debruijn_bit[((v & -v) * 0x03f79d71b4cb0a89ULL) >> 58];
}

/*
 * An idle CPU of @level for @p -- @prev_cpu when it is one -- from the
 * kernel's idle mask, @p's cpumask and the level's CPUs, a word (64 CPUs)
 * at a time; -1 when there is none.  Not claimed yet.
 */
static s32 idle_cpu_of_level(struct task_struct *p, const struct cpumask *idle,
			     u32 level, s32 prev_cpu)
{
#pragma unroll
	for (u32 w = 0; w < VCPUFREQ_CPUMASK_WORDS; w++) {
		u64 cand;

		if (w >= MASK_WORDS)
			break;
		cand = level_cpus[LEVEL_BOUNDED(level)][w] &
		       MASK_WORD(idle, w) &
		       MASK_WORD(p->cpus_ptr, w);
		if (!cand)
			continue;
		if (prev_cpu >= 0 && (u32)prev_cpu / 64 == w &&
		    (cand >> (prev_cpu & 63)) & 1)
			return prev_cpu;
		return w * 64 + lowest_bit(cand);
	}
	return -1;
}

/*
 * An idle CPU of @level or above for @p, the lowest such level first and
 * @prev_cpu among equals; -1 when every fitting CPU is busy.  Not claimed.
 * The cost grows with the number of levels and of 64-CPU words, not with
 * the number of CPUs.
 */
static s32 idle_fitting_cpu(struct task_struct *p, s32 prev_cpu, u32 level)
{
	const struct cpumask *idle = scx_bpf_get_idle_cpumask();
	s32 best = -1;
	u32 candidate;

	bpf_for(candidate, level, nr_levels) {
		best = idle_cpu_of_level(p, idle, candidate, prev_cpu);
		if (best >= 0)
			break;
	}
	scx_bpf_put_idle_cpumask(idle);
	return best;
}

/* the CPUs seen running their idle task since load, as cpumask words */
__u64 idle_seen[VCPUFREQ_CPUMASK_WORDS];

/*
 * Is claimed @cpu really idle?  The kernel marks every CPU idle when the
 * scheduler loads, and one that has run fair tasks since without a pause
 * stays marked: a vCPU put on its local queue would wait there behind them
 * for good (seen: a waking vCPU queued on a big CPU a fair hog held, never
 * to run).  Once a CPU is seen idle, its mark follows it from then on, so
 * it is looked at only until then.  True where the kernel does not let us
 * look (scx_bpf_cpu_rq, gone after 6.18).
 */
static bool cpu_runs_idle(s32 cpu)
{
	u32 w = CPU_BOUNDED(cpu) / 64;
	u64 bit = 1ULL << (cpu & 63);
	struct rq *rq;

	if ((idle_seen[w] & bit) || !bpf_ksym_exists(scx_bpf_cpu_rq))
		return true;
	rq = scx_bpf_cpu_rq(cpu);
	if (rq && rq->curr != rq->idle)	/* plain loads */
		return false;
	__sync_fetch_and_or(&idle_seen[w], bit);
	return true;
}

/* claim an idle CPU of @level or above for @p (idle_fitting_cpu); or -1 */
static s32 claim_fitting_idle_cpu(struct task_struct *p, s32 prev_cpu,
				  u32 level)
{
	s32 best;

	/* the common case, a vCPU waking where it ran: no scan */
	if (prev_cpu >= 0 && prev_cpu < nr_cpus() && level_of(prev_cpu) == level &&
	    bpf_cpumask_test_cpu(prev_cpu, p->cpus_ptr) &&
	    scx_bpf_test_and_clear_cpu_idle(prev_cpu))
		return cpu_runs_idle(prev_cpu) ? prev_cpu : -1;
	best = idle_fitting_cpu(p, prev_cpu, level);
	if (best >= 0 && scx_bpf_test_and_clear_cpu_idle(best))
		return cpu_runs_idle(best) ? best : -1;
	return -1;
}

/* an idle CPU of the cheapest level for @demand, else of any fitting one */
static s32 claim_idle_cpu_for(struct task_struct *p, struct task_ctx *tctx,
			      s32 prev_cpu, u32 demand, u32 fit)
{
	u32 pref = preferred_level(tctx, demand, fit);
	s32 cpu = claim_fitting_idle_cpu(p, prev_cpu, pref);

	if (cpu < 0 && pref > fit)
		cpu = claim_fitting_idle_cpu(p, prev_cpu, fit);
	return cpu;
}

/* the figures of the CPU @p runs on (running/stopping may run elsewhere) */
static struct vcpufreq_scx_cpu *task_cpu_stats(struct task_struct *p, s32 *cpu)
{
	u32 key = scx_bpf_task_cpu(p);

	*cpu = key;
	return bpf_map_lookup_elem(&scx_cpus, &key);
}

/*
 * Set @cpu's frequency target for @demand and record it -- as the kernel
 * holds it, where the kernel still lets us read it back.
 */
static void set_cpuperf(struct vcpufreq_scx_cpu *rec, s32 cpu, u32 demand)
{
	u32 target = demand * CPUPERF_NUM / CPUPERF_DEN;
	struct rq *rq;

	scx_bpf_cpuperf_set(cpu, target);
	rec->cpuperf_sets++;
	rec->demand = demand;
	rec->cpuperf_target = target;
	if (bpf_ksym_exists(scx_bpf_cpu_rq)) {
		rq = scx_bpf_cpu_rq(cpu);
		if (rq)	/* a plain load: no helper call */
			rec->cpuperf_target = rq->scx.cpuperf_target;
	}
}

/* does @demand call for a new target on a CPU set for @was? */
static bool demand_moved(u32 demand, u32 was)
{
	if (!demand || !was)
		return demand != was;
	return demand > was + DEMAND_STEP || demand + DEMAND_STEP < was;
}

/* no fitting CPU has taken from @level's waiting queue for STARVE_NS */
static bool level_starving(u32 level, u64 now)
{
	return scx_bpf_dsq_nr_queued(LEVEL_DSQ(level)) > 0 &&
	       older_than(level_fit_at[LEVEL_BOUNDED(level)], now, STARVE_NS);
}

/* a CPU of level @top takes the first vCPU of @level it can run */
static bool take_from_level(u32 level, u32 top, u64 now)
{
	if (!dsq_move_to_local(LEVEL_DSQ(level)))
		return false;
	if (level <= top)
		level_fit_at[LEVEL_BOUNDED(level)] = now;
	else
		level_helped_at[LEVEL_BOUNDED(level)] = now;
	return true;
}

/*
 * Does @p's fast-path slot still hold the request its storage @vcpu has?
 * Then a wakeup need not look the request up: a VMM on the fast path
 * changes it in the slot alone.  A change made with bpf() -- a new value,
 * a drop, a new slot -- and a move to another cgroup are taken in at the
 * switch-in that follows (the tracking programs) and by the iterator the
 * writer's call wakes the agent for: one placement later than a fast-path
 * change.  A thread without a slot is looked up at every wakeup.
 */
static bool slot_holds_request(struct task_struct *p,
			       struct vcpufreq_vcpu *vcpu, struct task_ctx *tctx)
{
	struct vcpufreq_slot *slot;

	if (!vcpu || !tctx || !vcpu->taken)
		return false;
	slot = tid_slot(tctx->slot, p->pid);
	return slot && perf_in_range(slot->perf) == vcpu->perf;
}

s32 BPF_STRUCT_OPS(vf_select_cpu, struct task_struct *p, s32 prev_cpu,
		   u64 wake_flags)
{
	struct task_ctx *tctx = task_ctx_of(p);
	struct vcpufreq_vcpu *vcpu = vcpu_of(p);
	bool is_idle = false;
	u64 now = 0;
	u32 demand;
	s32 cpu;

	/*
	 * take in what its guest asked for since it last ran (the tracking
	 * programs do at switch-in, too late for where it is placed)
	 */
	if (!slot_holds_request(p, vcpu, tctx) && tid_marked(p->pid))
		vcpu = refresh_thread(p, vcpu, false,
				      tctx ? &tctx->slot : NULL);
	demand = vcpu_demand(vcpu, tctx, &now);

	if (!demand) {
		cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
		if (is_idle)
			dsq_insert(p, SCX_DSQ_LOCAL, SCX_SLICE_DFL, 0);
		return cpu;
	}
	cpu = claim_idle_cpu_for(p, tctx, prev_cpu, demand,
				 fit_level(tctx, demand));
	if (cpu < 0)
		return prev_cpu;	/* enqueue queues it by level */
	dsq_insert(p, SCX_DSQ_LOCAL, SCX_SLICE_DFL, 0);
	return cpu;
}

/*
 * The CPUs of each level that run a vCPU fitting a lower level (there by
 * the energy preference, or because its own level was busy), as cpumask
 * words: running sets a CPU's bit, stopping clears it.  Kept only on
 * hosts with power figures, the only ones that read it (make_way_on_level).
 */
__u64 below_level_cpus[VCPUFREQ_SCX_MAX_LEVELS][VCPUFREQ_CPUMASK_WORDS];

/*
 * @cpu starts or stops running the vCPU recorded in @rec: its bit goes on or
 * off when that vCPU fits a lower level than @cpu's
 */
static void mark_below_level(struct vcpufreq_scx_cpu *rec, s32 cpu, bool on)
{
	u32 level = level_of(cpu);
	__u64 *w =
		&below_level_cpus[LEVEL_BOUNDED(level)][CPU_BOUNDED(cpu) / 64];
	__u64 bit = 1ULL << (cpu & 63);

	if (!energy_levels || !rec->running_level ||
	    rec->running_level - 1 >= level)
		return;
	if (on)
		__sync_fetch_and_or(w, bit);
	else
		__sync_fetch_and_and(w, ~bit);
}

/*
 * A CPU of @level running a vCPU of a lower level makes way for one that
 * needs @level: kicked to preempt, it serves the most demanding queue it
 * fits, and the guest goes back through enqueue to a CPU of its own level.
 * Done only on hosts with power figures, when no fitting CPU is idle; a
 * word (64 CPUs) at a time, as idle_cpu_of_level.
 */
static void make_way_on_level(u32 level)
{
#pragma unroll
	for (u32 w = 0; w < VCPUFREQ_CPUMASK_WORDS; w++) {
		u64 cand = below_level_cpus[LEVEL_BOUNDED(level)][w];

		if (cand) {
			scx_bpf_kick_cpu(w * 64 + lowest_bit(cand),
					 SCX_KICK_PREEMPT);
			return;
		}
	}
}

/*
 * @p's slice ended with nothing else to run on its CPU (SCX_ENQ_LAST):
 * it runs on there -- unless its demand outgrew that CPU's level and a
 * fitting CPU is idle: then it goes there.  The tick preempts a vCPU for
 * just this (vf_tick), and a vCPU running alone would otherwise wait for
 * something else to wake on its CPU (0.2-0.4 s of the next second in the
 * live test, where it could have moved at once).
 */
static void enqueue_last(struct task_struct *p, struct task_ctx *tctx,
			 u32 demand, u64 enq_flags)
{
	s32 cpu = scx_bpf_task_cpu(p), to = -1;
	u32 level = fit_level(tctx, demand);

	if (demand && level > level_of(cpu))
		to = claim_fitting_idle_cpu(p, -1, level);
	if (to < 0) {
		dsq_insert(p, SCX_DSQ_LOCAL, SCX_SLICE_DFL, enq_flags);
		return;
	}
	dsq_insert(p, SCX_DSQ_LOCAL_ON | to, SCX_SLICE_DFL, enq_flags);
	scx_bpf_kick_cpu(to, SCX_KICK_IDLE);
}

void BPF_STRUCT_OPS(vf_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx = task_ctx_of(p);
	u64 now = 0;
	u32 demand = vcpu_demand(vcpu_of(p), tctx, &now), level;
	s32 cpu;

	if (enq_flags & SCX_ENQ_LAST) {
		enqueue_last(p, tctx, demand, enq_flags);
		return;
	}
	if (!demand) {
		dsq_insert(p, SHARED_DSQ, SCX_SLICE_DFL, enq_flags);
		cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
		if (cpu >= 0)
			scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
		return;
	}
	level = fit_level(tctx, demand);
	/*
	 * a queue's wait starts when it stops being empty -- unless lower
	 * CPUs are helping it out: then its fitting CPUs are still taken
	 */
	if (!now)
		now = bpf_ktime_get_ns();
	if (!scx_bpf_dsq_nr_queued(LEVEL_DSQ(level)) &&
	    older_than(level_helped_at[LEVEL_BOUNDED(level)], now, STARVE_NS))
		level_fit_at[LEVEL_BOUNDED(level)] = now;
	dsq_insert(p, LEVEL_DSQ(level), SCX_SLICE_DFL, enq_flags);
	cpu = claim_idle_cpu_for(p, tctx, -1, demand, level);
	if (cpu >= 0) {
		/* a fitting CPU is on its way: lower CPUs stop helping */
		level_fit_at[LEVEL_BOUNDED(level)] = now;
		level_helped_at[LEVEL_BOUNDED(level)] = 0;
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
	} else if (energy_levels && level) {
		make_way_on_level(level);
	}
}

/* @cpu's target goes back to 0, held or not */
static void release_cpuperf(struct vcpufreq_scx_cpu *rec, s32 cpu)
{
	rec->held_since = 0;
	set_cpuperf(rec, cpu, 0);
}

/* drop @cpu's target if it was held longer than HOLD_NS */
static void release_if_held_long(s32 cpu, u64 now)
{
	u32 key = cpu;
	struct vcpufreq_scx_cpu *rec = bpf_map_lookup_elem(&scx_cpus, &key);

	if (rec && rec->held_since && older_than(rec->held_since, now, HOLD_NS))
		release_cpuperf(rec, cpu);
}

void BPF_STRUCT_OPS(vf_dispatch, s32 cpu, struct task_struct *prev)
{
	u32 top = level_of(cpu), n;
	u64 now = bpf_ktime_get_ns();
	s32 level;

	release_if_held_long(cpu, now);

	n = ++cpu_dispatches[CPU_BOUNDED(cpu)];
	if (n % 4 == 0) {
		if (dsq_move_to_local(SHARED_DSQ))
			return;
		bpf_for(level, 0, top + 1)
			if (take_from_level(level, top, now))
				return;
	} else {
		for (level = top; level >= 0 &&
		     level < VCPUFREQ_SCX_MAX_LEVELS; level--)
			if (take_from_level(level, top, now))
				return;
		if (dsq_move_to_local(SHARED_DSQ))
			return;
	}
	/* nothing of ours fits here: help a level whose CPUs are all taken */
	bpf_for(level, top + 1, nr_levels)
		if (level_starving(level, now) &&
		    take_from_level(level, top, now))
			return;
}

/*
 * Kick every idle CPU whose target was held longer than HOLD_NS, so that
 * its dispatch drops it; again while some are held.  Not set from here:
 * scx_bpf_cpuperf_set() calls schedutil's update hook, which takes the
 * policy's lock with interrupts on in a timer callback, and a tick on the
 * same CPU taking that lock again deadlocks (seen in the effect lab: an RCU
 * stall in sugov_update_shared).  The scheduler's own callbacks run with
 * the runqueue locked and interrupts off.
 */
static int release_held(void *map, int *key, struct bpf_timer *timer)
{
	u64 now = bpf_ktime_get_ns();
	u32 n = nr_cpus();
	bool held = false;
	s32 cpu;

	bpf_for(cpu, 0, n) {
		u32 k = cpu;
		struct vcpufreq_scx_cpu *rec =
			bpf_map_lookup_elem(&scx_cpus, &k);

		if (!rec || !rec->held_since)
			continue;
		held = true;
		if (older_than(rec->held_since, now, HOLD_NS))
			scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
	}
	release_timer_armed = held;
	if (held)
		bpf_timer_start(timer, HOLD_NS, 0);
	return 0;
}

/* the vCPU stopped: keep its target for HOLD_NS */
static void hold_cpuperf(struct vcpufreq_scx_cpu *rec, u64 now)
{
	u32 key = RELEASE_HELD_TIMER;
	struct sched_timer *st;

	rec->held_since = now;
	if (release_timer_armed)
		return;
	st = bpf_map_lookup_elem(&sched_timers, &key);
	if (!st)
		return;
	release_timer_armed = true;
	bpf_timer_start(&st->timer, HOLD_NS, 0);
}

void BPF_STRUCT_OPS(vf_running, struct task_struct *p)
{
	struct task_ctx *tctx = task_ctx_of(p);
	u64 now = bpf_ktime_get_ns();
	struct vcpufreq_scx_cpu *rec;
	u32 demand;
	s32 cpu;

	rec = task_cpu_stats(p, &cpu);
	if (!rec)
		return;
	if (tctx)
		update_util(tctx, cpu, false, now);
	demand = vcpu_demand(vcpu_of(p), tctx, &now);
	rec->running_at = now;
	rec->held_since = 0;
	rec->running_level = demand ? 1 + fit_level(tctx, demand) : 0;
	mark_below_level(rec, cpu, true);
	if (demand_moved(demand, rec->demand) || !rec->cpuperf_sets)
		set_cpuperf(rec, cpu, demand);
}

/*
 * Add the run since running_at to its level.  Tick counts too, so that
 * what status shows keeps up with a vCPU running a whole slice.
 */
static void account_run(struct vcpufreq_scx_cpu *rec, u64 now)
{
	u32 level = rec->running_level;

	if (rec->running_at && level <= VCPUFREQ_SCX_MAX_LEVELS)
		rec->run_ns[level] += now - rec->running_at;
}

/*
 * @p halts on @cpu: note when, for the wakeup that takes the halt in; a
 * burst after idle or a busy run ends, and what is held is its demand
 * priced again
 */
static void note_halt(struct task_struct *p, struct task_ctx *tctx,
		      struct vcpufreq_scx_cpu *rec, s32 cpu, u64 now)
{
	/*
	 * only a demand above the knee can have been a burst's or a busy
	 * run's: at or below it, pricing again gives the same
	 */
	bool reprice = rec->demand > knee_cap && runs_flat_out(tctx, now);
	u32 demand, est = tctx->util_est;

	/*
	 * util_est as the fair class keeps it for the same thread at each
	 * dequeue (util_est_update): up at once, down by a quarter of the
	 * difference
	 */
	tctx->util_est = tctx->util >= est ? tctx->util :
			 est - ((est - tctx->util) >> 2);
	tctx->burst = 0;
	tctx->woke_at = now;	/* not busy until it runs BUSY_RUN_NS again */
	if (reprice) {
		demand = vcpu_demand(vcpu_of(p), tctx, &now);
		if (demand_moved(demand, rec->demand))
			set_cpuperf(rec, cpu, demand);
	}
	tctx->halted_at = now;
}

void BPF_STRUCT_OPS(vf_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx *tctx = task_ctx_of(p);
	u64 now = bpf_ktime_get_ns();
	struct vcpufreq_scx_cpu *rec;
	s32 cpu;

	rec = task_cpu_stats(p, &cpu);
	if (!rec)
		return;
	if (tctx)
		update_util(tctx, cpu, true, now);
	account_run(rec, now);
	mark_below_level(rec, cpu, false);
	rec->running_at = 0;
	rec->running_level = 0;
	if (tctx && !runnable)
		note_halt(p, tctx, rec, cpu, now);
	if (rec->demand)
		hold_cpuperf(rec, now);
}

void BPF_STRUCT_OPS(vf_tick, struct task_struct *p)
{
	struct task_ctx *tctx = task_ctx_of(p);
	u64 now = bpf_ktime_get_ns();
	struct vcpufreq_scx_cpu *rec;
	u32 demand, level;
	s32 cpu;

	rec = task_cpu_stats(p, &cpu);
	if (!rec)
		return;
	if (tctx)
		update_util(tctx, cpu, true, now);
	if (rec->running_at) {
		account_run(rec, now);
		rec->running_at = now;
	}
	demand = vcpu_demand(vcpu_of(p), tctx, &now);
	if (!demand)
		return;
	if (demand_moved(demand, rec->demand))
		set_cpuperf(rec, cpu, demand);
	level = fit_level(tctx, demand);
	if (level > level_of(cpu) && idle_fitting_cpu(p, -1, level) >= 0)
		scx_bpf_kick_cpu(cpu, SCX_KICK_PREEMPT);
}

void BPF_STRUCT_OPS(vf_set_cpumask, struct task_struct *p,
		    const struct cpumask *mask)
{
	struct task_ctx *tctx = task_ctx_of(p);

	if (tctx)
		tctx->max_level = max_level_in(mask);
}

/* the last FOREIGN_EXT this CPU emitted */
struct foreign_seen {
	u32 tid;
	u64 ts;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct foreign_seen);
} foreign_seen SEC(".maps");

#define FOREIGN_COALESCE_NS	(10 * 1000 * 1000ULL)	/* per TID per CPU */

/*
 * @p joined SCHED_EXT: tell the agent, which knows whether it moved @p
 * here itself (its actions map) and moves anything else back to
 * SCHED_OTHER -- a user's own sched_setscheduler() on any task, its
 * registered vCPU in a CPU-limited cgroup included, or a child of a vCPU.
 * We serve the vCPUs the agent moved only: another task escapes its
 * cgroup's limits here, or could get us ejected.  Once per 10 ms per TID
 * per CPU, so that a task switched in and out in a loop costs the agent
 * little.
 */
static void report_joined(struct task_struct *p)
{
	struct foreign_seen *seen;
	u32 zero = 0, tid = p->pid;
	u64 now = bpf_ktime_get_ns();

	seen = bpf_map_lookup_elem(&foreign_seen, &zero);
	if (!seen || (seen->tid == tid && now - seen->ts < FOREIGN_COALESCE_NS))
		return;
	seen->tid = tid;
	seen->ts = now;
	emit(VCPUFREQ_EV_FOREIGN_EXT, tid, 0, 0, 0);
}

void BPF_STRUCT_OPS(vf_enable, struct task_struct *p)
{
	struct task_ctx *tctx;

	tctx = bpf_task_storage_get(&task_ctxs, p, 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (tctx)
		tctx->max_level = max_level_in(p->cpus_ptr);
	report_joined(p);
}

void BPF_STRUCT_OPS(vf_cpu_release, s32 cpu,
		    struct scx_cpu_release_args *args)
{
	u32 key = cpu;
	struct vcpufreq_scx_cpu *rec = bpf_map_lookup_elem(&scx_cpus, &key);

	/* a fair or real-time task runs here now: no boost for it */
	if (rec && rec->demand)
		release_cpuperf(rec, cpu);
	scx_bpf_reenqueue_local();
}

/*
 * Every STARVE_CHECK_NS: a level whose queue has not moved for STARVE_NS
 * gets the idle CPUs below it kicked, so their dispatch can take it.
 */
static int starve_check(void *map, int *key, struct bpf_timer *timer)
{
	u64 now = bpf_ktime_get_ns();
	u32 n = nr_cpus();
	s32 cpu;

	for (u32 level = 1; level < VCPUFREQ_SCX_MAX_LEVELS &&
	     level < nr_levels; level++) {
		if (!level_starving(level, now))
			continue;
		bpf_for(cpu, 0, n)
			if (level_of(cpu) < level)
				scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
	}
	bpf_timer_start(timer, STARVE_CHECK_NS, 0);
	return 0;
}

/* sched_timers[@key], initialised on CLOCK_MONOTONIC */
static struct bpf_timer *timer_init(u32 key)
{
	struct sched_timer *st = bpf_map_lookup_elem(&sched_timers, &key);

	if (!st)
		return NULL;
	bpf_timer_init(&st->timer, &sched_timers, CLOCK_MONOTONIC);
	return &st->timer;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(vf_init)
{
	struct bpf_timer *timer;
	u32 n = nr_cpus();
	s32 ret, cpu;

	/* the kernel enables us with every target at 1024 */
	bpf_for(cpu, 0, n) {
		u32 level = LEVEL_BOUNDED(level_of(cpu)), key = cpu;
		struct vcpufreq_scx_cpu *rec;

		level_cpus[level][CPU_BOUNDED(cpu) / 64] |= 1ULL << (cpu & 63);
		rec = bpf_map_lookup_elem(&scx_cpus, &key);
		if (rec)
			set_cpuperf(rec, cpu, 0);
	}
	ret = scx_bpf_create_dsq(SHARED_DSQ, -1);
	for (u32 level = 0; !ret && level < VCPUFREQ_SCX_MAX_LEVELS &&
	     level < nr_levels; level++)
		ret = scx_bpf_create_dsq(LEVEL_DSQ(level), -1);
	if (ret)
		return ret;
	timer = timer_init(RELEASE_HELD_TIMER);
	if (!timer)
		return -ENOENT;
	bpf_timer_set_callback(timer, release_held);
	if (nr_levels < 2)
		return 0;
	timer = timer_init(STARVE_CHECK_TIMER);
	if (!timer)
		return -ENOENT;
	bpf_timer_set_callback(timer, starve_check);
	return bpf_timer_start(timer, STARVE_CHECK_NS, 0);
}

void BPF_STRUCT_OPS(vf_exit, struct scx_exit_info *ei)
{
	struct vcpufreq_event *e;

	UEI_RECORD(uei, ei);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	e->type = VCPUFREQ_EV_SCX_EXIT;
	e->perf = uei.kind;
	e->ts_ns = bpf_ktime_get_ns();
	bpf_ringbuf_submit(e, 0);
}

SCX_OPS_DEFINE(vcpufreq_ops,
	       .select_cpu	= (void *)vf_select_cpu,
	       .enqueue		= (void *)vf_enqueue,
	       .dispatch	= (void *)vf_dispatch,
	       .running		= (void *)vf_running,
	       .stopping	= (void *)vf_stopping,
	       .tick		= (void *)vf_tick,
	       .set_cpumask	= (void *)vf_set_cpumask,
	       .cpu_release	= (void *)vf_cpu_release,
	       .enable		= (void *)vf_enable,
	       .init		= (void *)vf_init,
	       .exit		= (void *)vf_exit,
	       /* ENQ_LAST: a vCPU alone on its CPU is enqueued at its slice's
		* end, so that it can move (enqueue_last) */
	       .flags		= SCX_OPS_SWITCH_PARTIAL | SCX_OPS_ENQ_LAST,
	       .name		= VCPUFREQ_SCX_OPS_NAME);
