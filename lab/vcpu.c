// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The guest scheduler, run by the vCPU threads themselves.
 *
 * Each vCPU has a runqueue of guest tasks.  Its thread runs the current
 * task one work unit at a time (the lock is dropped for the unit), and
 * between units does what the guest kernel would do on that CPU: expire
 * its timers, account tasks that were woken onto it, tick every 4 ms
 * (round robin when others wait), and let the task take its next step.
 * A vCPU with nothing to run pulls a waiting task from another vCPU
 * (newidle balance), else halts: its thread sleeps on a condition
 * variable until a wakeup is queued on it or its next timer is due, the
 * way a halted vCPU's thread sleeps in KVM (not in iowait).
 *
 * Wakeups go to the task's previous vCPU when it is idle, else to the
 * next idle vCPU, else to the previous one anyway.
 *
 * Every time the guest's schedutil picks a new frequency, the vCPU's own
 * thread writes it as the VM would (the --mode): SET_PERF into the
 * register model, whose ops submit through libvcpufreq (hints); crosvm's
 * uclamp_min on its own thread (crosvm); nothing (none, boost).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vcpufreq/vcpufreq.h"
#include "lab.h"

/* ---- the VM's frequency requests ---------------------------------------- */

/* struct sched_attr (include/uapi/linux/sched/types.h, SCHED_ATTR_SIZE_VER1) */
struct lab_sched_attr {
	uint32_t size, sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime, sched_deadline, sched_period;
	uint32_t sched_util_min, sched_util_max;
};
#define SCHED_FLAG_RESET_ON_FORK	0x01
#define SCHED_FLAG_KEEP_ALL		0x18	/* KEEP_POLICY | KEEP_PARAMS */
#define SCHED_FLAG_UTIL_CLAMP_MIN	0x20
#define SCHED_FLAG_UTIL_CLAMP_MAX	0x40

/*
 * crosvm's virtcpufreq_v2.rs SET_PERF: util = capacity x value / fmax,
 * then x 80 / 100 for a schedutil host, each step rounded down; uclamp_max
 * is 1024 because our guest's table is the host CPU's own (vcpu_fmax ==
 * pcpu_fmax).  Returns the util set.  MODE_CROSVM68: the same without the
 * x 0.8, as crosvm would act on a >= 6.8 host, where uclamp_min is a floor
 * that schedutil no longer adds its 25 % headroom to.
 */
static unsigned int crosvm_set_perf(struct lab *lab, struct vcpu *v,
				    unsigned int capacity, unsigned int perf)
{
	uint32_t util_raw = (uint64_t)capacity * perf / v->fmax;
	uint32_t util = lab->mode == MODE_CROSVM68 ? util_raw : util_raw * 80 / 100;
	struct lab_sched_attr attr = {
		.size = sizeof(attr),
		.sched_flags = SCHED_FLAG_KEEP_ALL | SCHED_FLAG_UTIL_CLAMP_MIN |
			       SCHED_FLAG_UTIL_CLAMP_MAX | SCHED_FLAG_RESET_ON_FORK,
		.sched_util_min = util,
		.sched_util_max = GM_SCALE,
	};

	if (lab->uclamp < 0)
		return util;	/* said once; the kernel will not change */
	if (syscall(SYS_sched_setattr, v->tid, &attr, 0))
		lab->uclamp = -errno;
	else
		lab->uclamp = 1;
	return util;
}

static void record_stream(struct lab *lab, int vcpu, unsigned int perf,
			  unsigned int cap, uint64_t now)
{
	struct sample *s;

	if (lab->nr_stream == lab->cap_stream) {
		size_t n = lab->cap_stream ? 2 * lab->cap_stream : 1024;

		s = realloc(lab->stream, n * sizeof(*s));
		if (!s)
			return;
		lab->stream = s;
		lab->cap_stream = n;
	}
	lab->stream[lab->nr_stream++] = (struct sample){ now, vcpu, perf, cap };
}

/* the guest driver's fast_switch: the new perf value leaves the VM */
static void write_request(struct lab *lab, struct vcpu *v, unsigned int perf,
			  uint64_t now)
{
	const struct gm_vcpu *gv = &lab->gm.vcpus[v->index];
	unsigned int cap = gm_perf_to_capacity(gv, perf), host;

	/* the stream is the guest's decisions, whether or not sent */
	if (lab->trace)
		record_stream(lab, v->index, perf, cap, now);
	switch (lab->mode) {
	case MODE_HINTS:
		vcpufreq_dev_write(lab->dev, v->index, VCPUFREQ_REG_SET_PERF, perf);
		host = vcpufreq_dev_to_host(lab->dev, v->index, perf);
		break;
	case MODE_CROSVM:
	case MODE_CROSVM68:
		host = crosvm_set_perf(lab, v, gv->capacity, perf);
		break;
	default:
		return;		/* no device, or a fixed request */
	}
	lab->requests++;
	lab->request_sum += cap;
	lab->host_request_sum += host;
}

static void update_freq(struct lab *lab, struct vcpu *v, uint64_t now,
			unsigned int flags)
{
	unsigned int perf = gm_vcpu_update(&lab->gm, v->index, now, flags);

	if (perf)
		write_request(lab, v, perf, now);
}

/* ---- runqueues and wakeups ---------------------------------------------- */

static void rq_append(struct vcpu *v, struct task *t)
{
	struct task **p = &v->rq_head;

	while (*p)
		p = &(*p)->next;
	t->next = NULL;
	*p = t;
	t->rq = v->index;
	v->nr_queued++;
}

static struct task *rq_pop(struct vcpu *v)
{
	struct task *t = v->rq_head;

	if (t) {
		v->rq_head = t->next;
		v->nr_queued--;
	}
	return t;
}

static bool vcpu_idle(const struct vcpu *v)
{
	return !v->cur && !v->nr_queued;
}

/*
 * The guest sees the host's big.LITTLE (asymmetric capacities), so its
 * scheduler is capacity aware: a task fits a vCPU when its util stays
 * below 80% of the capacity (fits_capacity()), util being the larger of
 * util_avg and util_est (task_fits_cpu()).
 */
static bool task_fits(struct lab *lab, const struct task *t, int vcpu,
		      uint64_t now)
{
	const struct gm_task *m = &lab->gm.tasks[t->id];
	double util = gm_task_util_at(m, now);

	if (m->util_est > util)
		util = m->util_est;
	return util * 1280 < lab->gm.vcpus[vcpu].capacity * 1024.0;
}

/*
 * select_idle_capacity(): the first idle vCPU from the previous one on
 * that fits the task, else the idle one of the largest capacity, else the
 * previous vCPU
 */
static int select_vcpu(struct lab *lab, struct task *t)
{
	int prev = lab->gm.tasks[t->id].vcpu, n = lab->nr_vcpus, best = -1;
	uint64_t now = lab_now(lab);

	if (prev < 0)
		prev = t->home;
	for (int k = 0; k < n; k++) {
		int c = (prev + k) % n;

		if (!vcpu_idle(&lab->vcpus[c]))
			continue;
		if (task_fits(lab, t, c, now))
			return c;
		if (best < 0 || lab->gm.vcpus[c].capacity > lab->gm.vcpus[best].capacity)
			best = c;
	}
	return best >= 0 ? best : prev;
}

/*
 * Misfit migration: a running task that outgrew its vCPU moves to an idle
 * vCPU of larger capacity (the guest's load balancer does it at its tick)
 */
static void migrate_misfit(struct lab *lab, struct vcpu *v, uint64_t now)
{
	struct task *t = v->cur;
	int best = -1;

	if (!t || task_fits(lab, t, v->index, now))
		return;
	for (int c = 0; c < lab->nr_vcpus; c++) {
		unsigned int cap = lab->gm.vcpus[c].capacity;

		if (vcpu_idle(&lab->vcpus[c]) && cap > lab->gm.vcpus[v->index].capacity &&
		    (best < 0 || cap > lab->gm.vcpus[best].capacity))
			best = c;
	}
	if (best < 0)
		return;
	v->cur = NULL;
	t->state = T_QUEUED;
	t->arrived = true;
	rq_append(&lab->vcpus[best], t);
	pthread_cond_signal(&lab->vcpus[best].kick);
}

/* called under the lock by @waker's thread (-1: the VMM at start) */
void lab_wake(struct lab *lab, struct task *t, int waker, bool iowait)
{
	int target;

	if (t->state != T_SLEEPING)
		return;
	target = select_vcpu(lab, t);
	t->state = T_QUEUED;
	t->timer_armed = false;
	t->arrived = true;
	t->iowait = iowait;
	rq_append(&lab->vcpus[target], t);
	if (target != waker)
		pthread_cond_signal(&lab->vcpus[target].kick);
}

static void run_timers(struct lab *lab, struct vcpu *v, uint64_t now)
{
	for (int i = 0; i < lab->nr_tasks; i++) {
		struct task *t = &lab->tasks[i];

		if (t->state == T_SLEEPING && t->timer_armed &&
		    t->timer_vcpu == v->index && t->wake_at <= now)
			lab_wake(lab, t, v->index, t->iowait);
	}
}

static uint64_t next_timer(const struct lab *lab, const struct vcpu *v)
{
	uint64_t next = UINT64_MAX;

	for (int i = 0; i < lab->nr_tasks; i++) {
		const struct task *t = &lab->tasks[i];

		if (t->state == T_SLEEPING && t->timer_armed &&
		    t->timer_vcpu == v->index && t->wake_at < next)
			next = t->wake_at;
	}
	return next;
}

/*
 * enqueue_task_fair() for tasks woken or pulled onto @v: after I/O, a
 * frequency update with the iowait flag, then one when the runqueue's
 * util moved (a new PELT period, or the task came from elsewhere).
 */
static void account_arrivals(struct lab *lab, struct vcpu *v, uint64_t now)
{
	struct gm_vcpu *gv = &lab->gm.vcpus[v->index];

	for (struct task *t = v->rq_head; t; t = t->next) {
		struct gm_task *m = &lab->gm.tasks[t->id];
		bool attached = m->vcpu != v->index;

		if (!t->arrived)
			continue;
		t->arrived = false;
		if (t->iowait)
			update_freq(lab, v, now, GM_IOWAIT);
		t->iowait = false;
		gm_task_enqueue(m, v->index, now);
		if (gm_vcpu_pelt_decayed(gv, now) || attached)
			update_freq(lab, v, now, 0);
	}
}

/*
 * newidle balance: take the first waiting task from the busy vCPU with
 * the longest queue (not from one that is only waking up to run it)
 */
static bool pull_task(struct lab *lab, struct vcpu *v)
{
	struct vcpu *busiest = NULL;
	struct task *t;

	for (int i = 0; i < lab->nr_vcpus; i++) {
		struct vcpu *o = &lab->vcpus[i];

		if (o != v && o->cur && o->nr_queued &&
		    (!busiest || o->nr_queued > busiest->nr_queued))
			busiest = o;
	}
	if (!busiest)
		return false;
	t = rq_pop(busiest);
	t->arrived = true;
	rq_append(v, t);
	return true;
}

/* ---- the vCPU loop ------------------------------------------------------ */

static void halt(struct lab *lab, struct vcpu *v)
{
	uint64_t deadline = next_timer(lab, v);
	struct timespec ts;

	gm_vcpu_idle(&lab->gm.vcpus[v->index]);
	if (deadline == UINT64_MAX) {
		pthread_cond_wait(&v->kick, &lab->lock);
	} else {
		uint64_t abs = lab_ts_ns(&lab->epoch) + deadline;

		ts.tv_sec = abs / 1000000000ULL;
		ts.tv_nsec = abs % 1000000000ULL;
		pthread_cond_timedwait(&v->kick, &lab->lock, &ts);
	}
	v->next_tick = lab_now(lab) + GM_TICK_NS;
}

/* the current task's next step; false when it left the CPU */
static bool next_step(struct lab *lab, struct vcpu *v, uint64_t now)
{
	struct task *t = v->cur;
	struct gm_task *m = &lab->gm.tasks[t->id];
	struct action a;

	do {
		a = t->step(lab, t, v->index, now);
	} while (a.kind == ACT_RUN && !a.units);
	if (a.kind == ACT_RUN) {
		t->units_left = a.units;
		return true;
	}
	gm_task_dequeue(m, now);
	v->cur = NULL;
	if (a.kind == ACT_EXIT) {
		t->state = T_DONE;
		m->vcpu = -1;	/* its util leaves with it */
	} else {
		t->state = T_SLEEPING;
		t->timer_armed = a.kind == ACT_SLEEP;
		t->wake_at = a.until;
		t->iowait = a.iowait;
		t->timer_vcpu = v->index;
	}
	if (gm_vcpu_pelt_decayed(&lab->gm.vcpus[v->index], now))
		update_freq(lab, v, now, 0);
	return false;
}

static void run_unit(struct lab *lab, struct vcpu *v, uint64_t *x)
{
	uint64_t a, b;
	int cpu;

	pthread_mutex_unlock(&lab->lock);
	cpu = sched_getcpu();
	a = lab_now(lab);
	*x = lab_spin(lab->unit_iters, *x);
	lab_work_done(lab->unit_iters, a + lab_ts_ns(&lab->epoch));
	b = lab_now(lab);
	pthread_mutex_lock(&lab->lock);
	if (cpu >= 0 && cpu < lab->nr_host_cpus)
		v->busy_ns[cpu] += b - a;
	v->units++;
}

/* the scheduler tick: util update, frequency update, round robin */
static void tick(struct lab *lab, struct vcpu *v, uint64_t now)
{
	v->next_tick += GM_TICK_NS;	/* periodic, as the guest's tick is */
	if (v->next_tick <= now)
		v->next_tick = now + GM_TICK_NS;
	gm_vcpu_pelt_decayed(&lab->gm.vcpus[v->index], now);	/* 4 ms: always */
	update_freq(lab, v, now, 0);
	migrate_misfit(lab, v, now);
	if (v->cur && v->nr_queued) {
		v->cur->state = T_QUEUED;
		rq_append(v, v->cur);
		v->cur = NULL;
	}
}

static void vcpu_loop(struct lab *lab, struct vcpu *v)
{
	uint64_t x = v->index + 1, now;

	while (!lab->stop) {
		now = lab_now(lab);
		run_timers(lab, v, now);
		if (!v->cur && !v->nr_queued)
			pull_task(lab, v);
		account_arrivals(lab, v, now);
		if (!v->cur && v->nr_queued) {
			v->cur = rq_pop(v);
			v->cur->state = T_RUNNING;
			gm_task_idle(&lab->gm.tasks[v->cur->id], now);
		}
		if (!v->cur) {
			halt(lab, v);
			continue;
		}
		if (!v->cur->units_left && !next_step(lab, v, now))
			continue;
		run_unit(lab, v, &x);
		now = lab_now(lab);
		gm_task_ran(&lab->gm.tasks[v->cur->id], now, lab->unit_ns);
		gm_task_runnable(&lab->gm.tasks[v->cur->id], now, lab->unit_ns);
		for (struct task *q = v->rq_head; q; q = q->next)
			gm_task_runnable(&lab->gm.tasks[q->id], now, lab->unit_ns);
		v->cur->units_left--;
		if (now >= v->next_tick)
			tick(lab, v, now);
	}
}

/* ---- vCPU threads ------------------------------------------------------- */

static void note_pipeline_error(struct lab *lab, int vcpu, const char *what,
				int ret)
{
	if (!ret)
		return;
	fprintf(stderr, "Warning: vcpu %d: %s: %s\n", vcpu, what,
		vcpufreq_strerror(ret));
	if (!lab->pipeline_err)
		lab->pipeline_err = ret;
}

/*
 * The guest driver's probe: the perf table as the registers give it (the
 * capacity comes from the devicetree, as set up from the same view).
 */
static void probe_perf_table(struct lab *lab, struct vcpu *v)
{
	struct gm_vcpu *gv = &lab->gm.vcpus[v->index];
	unsigned int perf[GM_PERF_MAX];
	uint32_t n = vcpufreq_dev_read(lab->dev, v->index,
				       VCPUFREQ_REG_PERFTBL_LEN);

	if (n < 1 || n > GM_PERF_MAX)
		return;
	for (uint32_t i = 0; i < n; i++) {
		vcpufreq_dev_write(lab->dev, v->index, VCPUFREQ_REG_PERFTBL_SEL, i);
		perf[i] = vcpufreq_dev_read(lab->dev, v->index,
					    VCPUFREQ_REG_PERFTBL_RD);
	}
	gm_vcpu_init(gv, gv->capacity, n, perf);
	v->fmax = gm_vcpu_fmax(gv);
}

/* what a VMM does when it creates the vCPU thread */
static void plug_vcpu(struct lab *lab, struct vcpu *v)
{
	if (lab->mode != MODE_HINTS && lab->mode != MODE_BOOST)
		return;
	note_pipeline_error(lab, v->index, "register",
			    vcpufreq_register(lab->vf, v->tid, VM_ID, v->index));
	if (lab->mode == MODE_HINTS) {
		vcpufreq_dev_set_tid(lab->dev, v->index, v->tid);
		probe_perf_table(lab, v);
		return;
	}
	note_pipeline_error(lab, v->index, "request",
			    vcpufreq_request(lab->vf, v->tid, VCPUFREQ_PERF_MAX,
					     v->fmax));
	lab->requests++;
	lab->request_sum += VCPUFREQ_PERF_MAX;
	lab->host_request_sum += VCPUFREQ_PERF_MAX;
}

static void unplug_vcpu(struct lab *lab, struct vcpu *v)
{
	if (lab->mode == MODE_HINTS || lab->mode == MODE_BOOST)
		vcpufreq_unregister(lab->vf, v->tid);
}

static void start_tasks(struct lab *lab)
{
	clock_gettime(CLOCK_MONOTONIC, &lab->epoch);
	lab->started = true;
	for (int i = 0; i < lab->nr_vcpus; i++)
		lab->vcpus[i].next_tick = GM_TICK_NS;
	for (int i = 0; i < lab->nr_tasks; i++) {
		gm_task_init(&lab->gm.tasks[i], 0);
		if (!lab->tasks[i].blocked)
			lab_wake(lab, &lab->tasks[i], -1, false);
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct lab *lab = v->lab;

	if (lab->affinity &&
	    sched_setaffinity(0, sizeof(cpu_set_t), &lab->affinity[v->index]))
		fprintf(stderr, "Warning: vcpu %d: cannot set its affinity: %s\n",
			v->index, strerror(errno));
	v->tid = gettid();
	pthread_mutex_lock(&lab->lock);
	plug_vcpu(lab, v);
	pthread_mutex_unlock(&lab->lock);
	pthread_barrier_wait(&lab->ready);
	pthread_mutex_lock(&lab->lock);
	if (!lab->started)
		start_tasks(lab);
	vcpu_loop(lab, v);
	unplug_vcpu(lab, v);
	pthread_mutex_unlock(&lab->lock);
	return NULL;
}

int lab_start_vcpus(struct lab *lab)
{
	pthread_condattr_t ca;
	int ret;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&lab->lock, NULL);
	pthread_barrier_init(&lab->ready, NULL, lab->nr_vcpus + 1);
	lab->wake = lab_wake;
	for (int i = 0; i < lab->nr_vcpus; i++) {
		struct vcpu *v = &lab->vcpus[i];

		pthread_cond_init(&v->kick, &ca);
		v->lab = lab;
		v->busy_ns = calloc(lab->nr_host_cpus, sizeof(uint64_t));
		if (!v->busy_ns)
			return -ENOMEM;
	}
	for (int i = 0; i < lab->nr_vcpus; i++) {
		ret = pthread_create(&lab->vcpus[i].thread, NULL, vcpu_thread,
				     &lab->vcpus[i]);
		if (ret) {
			/* the ones made wait at the barrier: exit ends them */
			fprintf(stderr, "Error: cannot create vCPU thread %d: %s\n",
				i, strerror(ret));
			exit(1);
		}
	}
	pthread_barrier_wait(&lab->ready);
	return 0;
}

void lab_stop_vcpus(struct lab *lab)
{
	pthread_mutex_lock(&lab->lock);
	lab->stop = true;
	lab->end = lab->started ? lab_now(lab) : 0;
	for (int i = 0; i < lab->nr_vcpus; i++)
		pthread_cond_signal(&lab->vcpus[i].kick);
	pthread_mutex_unlock(&lab->lock);
	for (int i = 0; i < lab->nr_vcpus; i++)
		pthread_join(lab->vcpus[i].thread, NULL);
}
