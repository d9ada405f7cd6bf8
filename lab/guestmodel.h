/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The guest kernel's side of frequency selection, as pure computation:
 * PELT util of guest tasks, a vCPU's util, and schedutil with iowait boost
 * on a vCPU driven by the virtual cpufreq driver.  Times are nanoseconds
 * on any monotonic clock; utils are capacity units (0..GM_SCALE).  The
 * rules and where they come from are at the top of guestmodel.c.
 */
#ifndef LAB_GUESTMODEL_H
#define LAB_GUESTMODEL_H

#include <stdbool.h>
#include <stdint.h>

#define GM_SCALE		1024		/* SCHED_CAPACITY_SCALE */
#define GM_PERF_MAX		64		/* perf table entries */
#define GM_PELT_HALFLIFE_NS	32000000ULL	/* PELT: 32 ms half-life */
#define GM_PELT_PERIOD_NS	1048576ULL	/* PELT accrues in 1024 us periods */
#define GM_TICK_NS		4000000ULL	/* CONFIG_HZ=250 */
#define GM_RATE_LIMIT_NS	1000000ULL	/* guest driver transition_delay_us */
#define GM_IOWAIT_BOOST_MIN	(GM_SCALE / 8)	/* IOWAIT_BOOST_MIN */
#define GM_UTIL_EST_SHIFT	2		/* UTIL_EST_WEIGHT_SHIFT */
#define GM_UTIL_EST_MARGIN	(GM_SCALE / 100)	/* UTIL_EST_MARGIN */

/* gm_vcpu_update() flags */
#define GM_IOWAIT		1	/* SCHED_CPUFREQ_IOWAIT: wakeup after I/O */

struct gm_task {
	double util;		/* util_avg as of last_ns */
	double util_est;	/* util_est: smoothed util at each sleep */
	double runnable;	/* runnable_avg as of rlast_ns */
	uint64_t last_ns;
	uint64_t rlast_ns;
	int vcpu;		/* vCPU whose runqueue holds its util, -1: none */
	bool queued;		/* runnable: running or waiting on that vCPU */
};

struct gm_vcpu {
	/* what the guest driver read from the device at probe */
	unsigned int capacity;		/* capacity-dmips-mhz scaled, 1..1024 */
	unsigned int nr_perf;		/* 1: continuous up to perf[0] */
	unsigned int perf[GM_PERF_MAX];	/* ascending */
	/* schedutil's per-CPU and (one CPU per policy) policy state */
	unsigned int iowait_boost;	/* 0 or GM_IOWAIT_BOOST_MIN..GM_SCALE */
	bool iowait_boost_pending;
	bool has_freq;			/* next_freq was ever set */
	uint64_t last_update;
	uint64_t last_freq_update;
	unsigned int next_freq;		/* last requested perf value */
	unsigned long idle_calls, saved_idle_calls;	/* sugov_hold_freq() */
	uint64_t pelt_period;		/* last PELT period its util moved in */
};

struct gm {
	int nr_vcpus, nr_tasks;
	struct gm_vcpu *vcpus;
	struct gm_task *tasks;
};

/* a vCPU whose driver found @nr_perf ascending values in @perf */
void gm_vcpu_init(struct gm_vcpu *v, unsigned int capacity,
		  unsigned int nr_perf, const unsigned int *perf);
void gm_task_init(struct gm_task *t, uint64_t now);
unsigned int gm_vcpu_fmax(const struct gm_vcpu *v);

/*
 * PELT.  gm_task_ran: the task ran from its last update to @now and did
 * work that takes @ref_ns on a GM_SCALE CPU at fmax.  gm_task_idle: it did
 * not run (slept or waited) from its last update to @now.
 */
void gm_task_ran(struct gm_task *t, uint64_t now, uint64_t ref_ns);
void gm_task_runnable(struct gm_task *t, uint64_t now, uint64_t ref_ns);
void gm_task_idle(struct gm_task *t, uint64_t now);
double gm_task_util_at(const struct gm_task *t, uint64_t now);

/* enqueue on @vcpu (a wakeup or a migration: the util moves along) */
void gm_task_enqueue(struct gm_task *t, int vcpu, uint64_t now);
/* the task sleeps: util_est learns its util; its util stays, decaying */
void gm_task_dequeue(struct gm_task *t, uint64_t now);

/* cpu_util(): max(sum of util, sum of queued util_est), capped */
double gm_vcpu_util(const struct gm *g, int vcpu, uint64_t now);

/*
 * update_load_avg() on the vCPU's runqueue at @now: true when a new PELT
 * period began since the last call, i.e. its util changed, and only then
 * does an enqueue, dequeue or tick call cpufreq_update_util().
 */
bool gm_vcpu_pelt_decayed(struct gm_vcpu *v, uint64_t now);

/* the vCPU entered idle (halted): lets schedutil lower the frequency */
void gm_vcpu_idle(struct gm_vcpu *v);

/*
 * One cpufreq_update_util() on @vcpu at @now (a wakeup, a sleep or a
 * tick).  Returns the perf value the driver writes to SET_PERF, or 0 when
 * nothing is written (unchanged or rate limited).
 */
unsigned int gm_vcpu_update(struct gm *g, int vcpu, uint64_t now,
			    unsigned int flags);

/* a perf value of @v in capacity units: capacity x perf / fmax */
unsigned int gm_perf_to_capacity(const struct gm_vcpu *v, unsigned int perf);

#endif
