/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * An actuator turns a vCPU thread's effective request (its request when
 * its cgroup is enrolled, else 0) into something the host scheduler
 * honours, and restores what it changed.  One file per backend.
 */
#ifndef VCPUFREQ_ACTUATOR_H
#define VCPUFREQ_ACTUATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "vcpufreq/abi.h"
#include "perfmap.h"

struct json;

struct act_env {
	struct vf_topology topo;
	const char *sysfs_cpu_dir;	/* VF_SYSFS_CPU_DIR unless overridden */
	const char *state_dir;		/* where global saved state is kept */
	int actions_fd;			/* pinned actions map, -1 when none */
	bool record_first;		/* the agent: act_record() writes */
	/*
	 * what a request alone is served up to (enum vcpufreq_power):
	 * topo_knee_capacity() when balanced, VCPUFREQ_PERF_MAX for
	 * performance
	 */
	__u32 knee;
};

/*
 * Record first, then apply: an actuator calls this with @a saying what it
 * is about to set (and what to restore) right before the system call
 * that changes the thread.  An agent that dies between the two leaves a
 * record whose restore finds the thread unchanged and leaves it so,
 * never a change nobody restores.
 */
void act_record(struct act_env *env, __u32 tid,
		const struct vcpufreq_action *a);

struct actuator {
	const char *name;
	__u32 backend;
	/* 0 when usable on this host, else -1 and a reason in @why */
	int (*probe)(const struct act_env *env, char *why, size_t len);
	/*
	 * Give @tid the boost for @perf, or restore it when @perf is 0.
	 * @a carries what was applied and saved; a thread that is gone is
	 * not an error.
	 */
	int (*apply)(struct act_env *env, __u32 tid, __u32 perf,
		     struct vcpufreq_action *a);
	/*
	 * optional: what the backend runs in the agent (the scx scheduler):
	 * started before the first apply, stopped after the last restore
	 */
	int (*start)(struct act_env *env);
	void (*stop)(struct act_env *env);
	/* optional: after threads changed, update state they share */
	int (*apply_shared)(struct act_env *env);
	/* optional: restore state shared by all threads (unload) */
	void (*shutdown)(struct act_env *env);
	/* one-line description of what @a applied */
	void (*describe)(const struct vcpufreq_action *a, char *buf,
			 size_t len);
	/*
	 * optional: what @a applied as JSON fields of its own (`vcpus -j`
	 * writes them into the thread's "action" object)
	 */
	void (*describe_json)(const struct vcpufreq_action *a,
			      struct json *j);
};

extern const struct actuator act_scx;
extern const struct actuator act_uclamp;
extern const struct actuator act_affinity;
extern const struct actuator act_cpufreq;
extern const struct actuator act_observe;

/* strongest first: the order `--backend auto` tries them in */
extern const struct actuator *const actuators[];

const struct actuator *actuator_for(__u32 backend);
/* auto: the first usable actuator, never NULL (observe always is) */
const struct actuator *actuator_auto(const struct act_env *env);
/* the first usable actuator after @act in that order (a fallback) */
const struct actuator *actuator_after(const struct actuator *act,
				      const struct act_env *env);
int act_env_init(struct act_env *env, const char *topology_override);
/* the efficiency knee of the host's OPP tables; VCPUFREQ_PERF_MAX without */
__u32 topo_knee_capacity(const struct vf_topology *t);
/* @env's knee for a power mode (enum vcpufreq_power) */
void act_env_set_power(struct act_env *env, __u32 power);

/*
 * What the uclamp, affinity and cpufreq backends give a request of @perf:
 * at most the knee (`load --power`).  They act on the request alone, at
 * the agent's pace; the scx backend prices it in BPF, where it sees the
 * vCPU halt and run.
 */
static inline __u32 act_priced(const struct act_env *env, __u32 perf)
{
	return perf < env->knee ? perf : env->knee;
}

void cpulist_format(const __u64 *mask, char *buf, size_t len);

/* act_scx.c: /sys/kernel/sched_ext/state and root/ops; -1 without scx */
int scx_sysfs_state(char *state, size_t slen, char *ops, size_t olen);
/* why the attached scheduler stopped (its exit callback's record) */
void scx_exit_reason(char *buf, size_t len);
/* the exit kind it recorded, 0 while it runs (or when none is loaded) */
int scx_exit_kind(void);
int scx_capacity_levels(const struct vf_topology *t, __u32 *caps);
bool scx_energy_levels(const struct vf_topology *t, const __u32 *caps,
		       __u32 n, __u8 *eff);

#endif
