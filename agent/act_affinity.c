// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * affinity: a boosted thread may only run on CPUs whose capacity fits its
 * request (vf_fit_cpus), within the affinity it had before.  On a host
 * whose CPUs all have one capacity placement cannot help, so the backend
 * is unavailable there and affinity is never touched.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include "actuator.h"
#include "json.h"

static void mask_from_set(const cpu_set_t *set, __u64 *mask)
{
	memset(mask, 0, sizeof(__u64) * VCPUFREQ_CPUMASK_WORDS);
	for (int cpu = 0; cpu < VCPUFREQ_MAX_CPUS && cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, set))
			mask[cpu / 64] |= 1ULL << (cpu % 64);
}

static void set_from_mask(const __u64 *mask, cpu_set_t *set)
{
	CPU_ZERO(set);
	for (int cpu = 0; cpu < VCPUFREQ_MAX_CPUS && cpu < CPU_SETSIZE; cpu++)
		if (mask[cpu / 64] & (1ULL << (cpu % 64)))
			CPU_SET(cpu, set);
}

static int affinity_probe(const struct act_env *env, char *why, size_t len)
{
	if (!vf_topology_symmetric(&env->topo))
		return 0;
	snprintf(why, len, "symmetric host: all CPUs have capacity %u, so "
		 "placement cannot help (describe the host with --topology if "
		 "sysfs is wrong)", vf_topology_max_capacity(&env->topo));
	return -1;
}

/* Where a thread that had @saved should run for @perf; false: anywhere */
static bool pick_fitting_cpus(const struct vf_topology *t, __u32 perf,
			      const cpu_set_t *saved, cpu_set_t *out)
{
	cpu_set_t fit;

	vf_fit_cpus(t, perf, &fit);
	CPU_AND(out, &fit, saved);
	/* nothing fits inside what the VMM allowed, or no restriction needed */
	return CPU_COUNT(out) && !CPU_EQUAL(out, saved);
}

/* still what we set?  If the VMM re-pinned the thread, it is its call */
static bool still_ours(__u32 tid, const struct vcpufreq_action *a)
{
	cpu_set_t now, ours;

	if (sched_getaffinity(tid, sizeof(now), &now))
		return false;
	set_from_mask(a->cpus, &ours);
	return CPU_EQUAL(&now, &ours);
}

static int restore(__u32 tid, struct vcpufreq_action *a)
{
	cpu_set_t saved;

	if (!a->saved_valid)
		return 0;
	set_from_mask(a->saved_cpus, &saved);
	/* CHANGING: the agent died in the middle of setting cpus */
	if ((still_ours(tid, a) || (a->flags & VCPUFREQ_ACTION_CHANGING)) &&
	    sched_setaffinity(tid, sizeof(saved), &saved) && errno != ESRCH)
		return -errno;
	a->saved_valid = 0;
	a->perf = 0;
	memset(a->cpus, 0, sizeof(a->cpus));
	return 0;
}

static int affinity_apply(struct act_env *env, __u32 tid, __u32 perf,
			  struct vcpufreq_action *a)
{
	struct vcpufreq_action before;
	cpu_set_t saved, want;

	if (!perf)
		return restore(tid, a);
	if (a->saved_valid && !still_ours(tid, a))
		a->saved_valid = 0;	/* the VMM changed it: that is the base now */
	if (a->saved_valid) {
		set_from_mask(a->saved_cpus, &saved);
	} else if (sched_getaffinity(tid, sizeof(saved), &saved)) {
		return errno == ESRCH ? 0 : -errno;
	}
	if (!pick_fitting_cpus(&env->topo, act_priced(env, perf), &saved,
			       &want)) {
		int ret = restore(tid, a);

		a->perf = perf;
		return ret;
	}
	before = *a;
	if (!a->saved_valid)
		mask_from_set(&saved, a->saved_cpus);
	a->saved_valid = 1;
	a->perf = perf;
	mask_from_set(&want, a->cpus);
	act_record(env, tid, a);
	if (sched_setaffinity(tid, sizeof(want), &want)) {
		*a = before;
		return errno == ESRCH ? 0 : -errno;
	}
	return 0;
}

static void affinity_describe(const struct vcpufreq_action *a, char *buf,
			      size_t len)
{
	char cpus[128];

	if (!a->saved_valid) {
		snprintf(buf, len, a->perf ? "affinity unchanged (all fit)" : "-");
		return;
	}
	cpulist_format(a->cpus, cpus, sizeof(cpus));
	snprintf(buf, len, "affinity %s", cpus);
}

static void affinity_describe_json(const struct vcpufreq_action *a,
				   struct json *j)
{
	char cpus[128];

	if (!a->saved_valid)
		return;
	cpulist_format(a->cpus, cpus, sizeof(cpus));
	json_kstr(j, "affinity", cpus);
}

const struct actuator act_affinity = {
	.name = "affinity",
	.backend = VCPUFREQ_BACKEND_AFFINITY,
	.probe = affinity_probe,
	.apply = affinity_apply,
	.describe = affinity_describe,
	.describe_json = affinity_describe_json,
};
