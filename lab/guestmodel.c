// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The guest kernel's frequency selection, modelled on Linux 6.12 running
 * in an arm64 VM with the virtual cpufreq driver (one policy per vCPU).
 *
 * PELT (kernel/sched/pelt.c, continuous instead of 1 ms steps)
 *   A task's util decays with a 32 ms half-life.  While it runs, it moves
 *   towards GM_SCALE x (reference work done / elapsed time): the work is
 *   counted as the time a GM_SCALE CPU at fmax would have needed, which is
 *   what the driver's CUR_PERF-based frequency invariance and the
 *   capacity scaling give on arm64.  A task that runs flat out at half
 *   speed thus settles at 512, on whichever vCPU.
 *
 * A vCPU's util (cpu_util_cfs_boost, what schedutil reads)
 *   The sum of the util of every task attached to its runqueue, sleeping
 *   ones included (their util decays in place, as blocked util does), or,
 *   if larger, the sum of their runnable_avg (runnable boost: a task
 *   waiting in the queue accrues it at the same invariant rate as the
 *   running one accrues util, so tasks that queue behind each other ask
 *   for more), or the sum of the util_est of its queued tasks; capped at
 *   the vCPU's capacity.  A task that wakes or is pulled onto another vCPU
 *   takes its util along: the new vCPU's request jumps at once.
 *   util_est (fair.c util_est_update): at each sleep, a rise is taken at
 *   once, a fall by a quarter of the difference, changes under 1% ignored.
 *
 * When the guest asks (fair.c: cpufreq_update_util() callers)
 *   A tick, an enqueue or a dequeue updates the frequency only when the
 *   runqueue's util changed: a new 1024 us PELT period began, or a task
 *   was attached (a migration).  A wakeup after I/O always does, with the
 *   iowait flag, before the other one (enqueue_task_fair() calls
 *   cpufreq_update_util(SCHED_CPUFREQ_IOWAIT) before it updates the load:
 *   with the other order, an update that only finds a new PELT period
 *   consumes the evaluation and halves the boost first).
 *
 * schedutil (kernel/sched/cpufreq_schedutil.c, single policy path)
 *   iowait boost: a wakeup after I/O starts the boost at 128, each further
 *   one doubles it up to 1024 (at most once per frequency update); an
 *   update without one halves it, and below 128 it is dropped; more than
 *   a tick (4 ms) without any update resets it.  The boost is scaled by
 *   the vCPU's capacity.  The frequency is
 *       perf = min(1.25 x max(util, boost), capacity)
 *       freq = fmax x perf / capacity, then the lowest table entry >= freq
 *   (CPUFREQ_RELATION_L; a continuous vCPU takes the value itself).  It is
 *   evaluated at most once per 1 ms after the last change (the driver's
 *   transition_delay_us), written only when it changes, and a lower value
 *   is held while the vCPU has not been idle since the last evaluation
 *   (sugov_hold_freq, NO_HZ).  Not modelled: uclamp,
 *   RT/DL/IRQ util, shared policies.
 */
#include <math.h>

#include "guestmodel.h"

static double decay(uint64_t dt_ns)
{
	return exp2(-(double)dt_ns / GM_PELT_HALFLIFE_NS);
}

static uint64_t elapsed(uint64_t from, uint64_t to)
{
	return to > from ? to - from : 0;
}

void gm_vcpu_init(struct gm_vcpu *v, unsigned int capacity,
		  unsigned int nr_perf, const unsigned int *perf)
{
	*v = (struct gm_vcpu){ .capacity = capacity, .nr_perf = nr_perf };
	if (v->nr_perf < 1)
		v->nr_perf = 1;
	if (v->nr_perf > GM_PERF_MAX)
		v->nr_perf = GM_PERF_MAX;
	for (unsigned int i = 0; i < v->nr_perf; i++)
		v->perf[i] = perf[i];
}

void gm_task_init(struct gm_task *t, uint64_t now)
{
	*t = (struct gm_task){ .last_ns = now, .rlast_ns = now, .vcpu = -1 };
}

unsigned int gm_vcpu_fmax(const struct gm_vcpu *v)
{
	return v->perf[v->nr_perf - 1];
}

/*
 * A PELT signal @avg (as of *@last) after @ref_ns of reference work done
 * by its CPU since then: it moves towards GM_SCALE x that work's share of
 * the time
 */
static void accrue(double *avg, uint64_t *last, uint64_t now, uint64_t ref_ns)
{
	uint64_t dt = elapsed(*last, now);
	double speed, d;

	if (!dt)
		return;
	speed = (double)ref_ns / dt;
	if (speed > 1)
		speed = 1;
	d = decay(dt);
	*avg = *avg * d + GM_SCALE * speed * (1 - d);
	*last = now;
}

/* @t ran: its util (and its runnable_avg: gm_task_runnable) */
void gm_task_ran(struct gm_task *t, uint64_t now, uint64_t ref_ns)
{
	accrue(&t->util, &t->last_ns, now, ref_ns);
}

/* @t was runnable (running or waiting) while its vCPU did @ref_ns */
void gm_task_runnable(struct gm_task *t, uint64_t now, uint64_t ref_ns)
{
	accrue(&t->runnable, &t->rlast_ns, now, ref_ns);
}

static double runnable_at(const struct gm_task *t, uint64_t now)
{
	return t->runnable * decay(elapsed(t->rlast_ns, now));
}

void gm_task_idle(struct gm_task *t, uint64_t now)
{
	t->util = gm_task_util_at(t, now);
	if (now > t->last_ns)
		t->last_ns = now;
}

double gm_task_util_at(const struct gm_task *t, uint64_t now)
{
	return t->util * decay(elapsed(t->last_ns, now));
}

void gm_task_enqueue(struct gm_task *t, int vcpu, uint64_t now)
{
	gm_task_idle(t, now);
	t->runnable = runnable_at(t, now);	/* it decayed while asleep */
	if (now > t->rlast_ns)
		t->rlast_ns = now;
	t->vcpu = vcpu;
	t->queued = true;
}

/* util_est_update(): rises are taken at once, falls smoothed */
void gm_task_dequeue(struct gm_task *t, uint64_t now)
{
	double dequeued = gm_task_util_at(t, now), diff;

	t->queued = false;
	if (t->util_est <= dequeued) {
		t->util_est = dequeued;
		return;
	}
	diff = t->util_est - dequeued;
	if (diff < GM_UTIL_EST_MARGIN)
		return;
	t->util_est -= diff / (1 << GM_UTIL_EST_SHIFT);
}

double gm_vcpu_util(const struct gm *g, int vcpu, uint64_t now)
{
	double util = 0, runnable = 0, est = 0, cap = g->vcpus[vcpu].capacity;

	for (int i = 0; i < g->nr_tasks; i++) {
		const struct gm_task *t = &g->tasks[i];

		if (t->vcpu != vcpu)
			continue;
		util += gm_task_util_at(t, now);
		runnable += runnable_at(t, now);
		if (t->queued)
			est += t->util_est;
	}
	if (runnable > util)
		util = runnable;
	if (est > util)
		util = est;
	return util < cap ? util : cap;
}

bool gm_vcpu_pelt_decayed(struct gm_vcpu *v, uint64_t now)
{
	uint64_t period = now / GM_PELT_PERIOD_NS;
	bool decayed = period != v->pelt_period;

	v->pelt_period = period;
	return decayed;
}

void gm_vcpu_idle(struct gm_vcpu *v)
{
	v->idle_calls++;
}

/* sugov_iowait_reset(): more than a tick since the last update */
static bool iowait_reset(struct gm_vcpu *v, uint64_t now, bool set)
{
	if (elapsed(v->last_update, now) <= GM_TICK_NS)
		return false;
	v->iowait_boost = set ? GM_IOWAIT_BOOST_MIN : 0;
	v->iowait_boost_pending = set;
	return true;
}

/* sugov_iowait_boost(): every update, before the rate limit */
static void iowait_boost(struct gm_vcpu *v, uint64_t now, bool set)
{
	if (v->iowait_boost && iowait_reset(v, now, set))
		return;
	if (!set || v->iowait_boost_pending)
		return;
	v->iowait_boost_pending = true;
	if (v->iowait_boost) {
		v->iowait_boost <<= 1;
		if (v->iowait_boost > GM_SCALE)
			v->iowait_boost = GM_SCALE;
		return;
	}
	v->iowait_boost = GM_IOWAIT_BOOST_MIN;
}

/* sugov_iowait_apply(): once per evaluation; the boost in capacity units */
static double iowait_apply(struct gm_vcpu *v, uint64_t now)
{
	if (!v->iowait_boost)
		return 0;
	if (iowait_reset(v, now, false))
		return 0;
	if (!v->iowait_boost_pending) {
		v->iowait_boost >>= 1;
		if (v->iowait_boost < GM_IOWAIT_BOOST_MIN) {
			v->iowait_boost = 0;
			return 0;
		}
	}
	v->iowait_boost_pending = false;
	return (double)v->iowait_boost * v->capacity / GM_SCALE;
}

/* cpufreq_driver_resolve_freq() with CPUFREQ_RELATION_L */
static unsigned int resolve_freq(const struct gm_vcpu *v, double freq)
{
	unsigned int i;

	if (v->nr_perf == 1) {
		unsigned int f = (unsigned int)ceil(freq);

		return f < 1 ? 1 : f > v->perf[0] ? v->perf[0] : f;
	}
	for (i = 0; i < v->nr_perf - 1; i++) {
		if (v->perf[i] >= freq)
			break;
	}
	return v->perf[i];
}

/* get_next_freq() after sugov_effective_cpu_perf() */
static unsigned int next_freq(const struct gm_vcpu *v, double util)
{
	double perf = util * 5 / 4;

	if (perf > v->capacity)
		perf = v->capacity;
	return resolve_freq(v, gm_vcpu_fmax(v) * perf / v->capacity);
}

/* sugov_hold_freq(): no idle since the last evaluation: do not go down */
static bool hold_freq(struct gm_vcpu *v)
{
	bool hold = v->idle_calls == v->saved_idle_calls;

	v->saved_idle_calls = v->idle_calls;
	return hold;
}

unsigned int gm_vcpu_update(struct gm *g, int vcpu, uint64_t now,
			    unsigned int flags)
{
	struct gm_vcpu *v = &g->vcpus[vcpu];
	double util, boost;
	unsigned int f;

	iowait_boost(v, now, flags & GM_IOWAIT);
	v->last_update = now;
	if (v->has_freq && elapsed(v->last_freq_update, now) < GM_RATE_LIMIT_NS)
		return 0;
	boost = iowait_apply(v, now);
	util = gm_vcpu_util(g, vcpu, now);
	f = next_freq(v, util > boost ? util : boost);
	if (hold_freq(v) && v->has_freq && f < v->next_freq)
		f = v->next_freq;
	if (v->has_freq && f == v->next_freq)
		return 0;
	v->next_freq = f;
	v->has_freq = true;
	v->last_freq_update = now;
	return f;
}

unsigned int gm_perf_to_capacity(const struct gm_vcpu *v, unsigned int perf)
{
	return (unsigned int)((uint64_t)v->capacity * perf / gm_vcpu_fmax(v));
}
