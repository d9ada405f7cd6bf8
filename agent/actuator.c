// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The actuator table and what all backends share. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "actuator.h"
#include "base.h"
#include "cpulist.h"

const struct actuator *const actuators[] = {
	&act_scx, &act_uclamp, &act_affinity, &act_cpufreq, &act_observe, NULL,
};

const struct actuator *actuator_for(__u32 backend)
{
	for (int i = 0; actuators[i]; i++)
		if (actuators[i]->backend == backend)
			return actuators[i];
	return NULL;
}

const struct actuator *actuator_auto(const struct act_env *env)
{
	char why[256];

	for (int i = 0; actuators[i]; i++)
		if (!actuators[i]->probe(env, why, sizeof(why)))
			return actuators[i];
	return &act_observe;
}

const struct actuator *actuator_after(const struct actuator *act,
				      const struct act_env *env)
{
	char why[256];
	int i = 0;

	while (actuators[i] && actuators[i] != act)
		i++;
	for (i = actuators[i] ? i + 1 : 0; actuators[i]; i++)
		if (!actuators[i]->probe(env, why, sizeof(why)))
			return actuators[i];
	return &act_observe;
}

/*
 * The efficiency knee of @c's OPP table, in capacity units: the capacity
 * at the OPP just below the steepest rise of energy per unit of work
 * (power / frequency) from one OPP to the next.  Up to there work costs
 * about the same per unit; past it each unit costs that much more (on
 * Pixel 6's X1: 984 MHz, where the next OPP costs 1.7x as much per unit).
 * Rounded down, so that schedutil's frequency for it is the knee's OPP.
 * @c's capacity without power figures or with one OPP.
 */
static __u32 opp_knee(const struct vf_cpu *c)
{
	unsigned int fmax, knee;
	double steepest = 0;

	if (!c->nr_power || c->nr_freqs < 2)
		return c->capacity;
	fmax = c->freqs_khz[c->nr_freqs - 1];
	knee = c->nr_freqs - 1;
	for (unsigned int i = 0; i + 1 < c->nr_freqs; i++) {
		double here = (double)c->power[i] / c->freqs_khz[i];
		double next = (double)c->power[i + 1] / c->freqs_khz[i + 1];

		if (here > 0 && next / here > steepest) {
			steepest = next / here;
			knee = i;
		}
	}
	return (__u32)((unsigned long long)c->capacity * c->freqs_khz[knee] /
		       fmax);
}

/*
 * The highest efficiency knee among @t's present CPUs (opp_knee): above
 * it no CPU of the host does a unit of work at its efficient price, so a
 * request is served up to it in the balanced power mode.
 * VCPUFREQ_PERF_MAX (no knee) unless every present CPU has power figures.
 */
__u32 topo_knee_capacity(const struct vf_topology *t)
{
	__u32 knee = 0;

	for (int c = 0; c < t->nr_cpus; c++) {
		if (!t->cpu[c].present)
			continue;
		if (!t->cpu[c].nr_power)
			return VCPUFREQ_PERF_MAX;
		if (opp_knee(&t->cpu[c]) > knee)
			knee = opp_knee(&t->cpu[c]);
	}
	return knee ? knee : VCPUFREQ_PERF_MAX;
}

void act_record(struct act_env *env, __u32 tid,
		const struct vcpufreq_action *a)
{
	struct vcpufreq_action rec = *a;

	rec.flags |= VCPUFREQ_ACTION_CHANGING;
	if (env->record_first && env->actions_fd >= 0)
		bpf_map_update_elem(env->actions_fd, &tid, &rec, BPF_ANY);
}

int act_env_init(struct act_env *env, const char *topology_override)
{
	const char *dir = getenv("VCPUFREQ_SYSFS_CPU_DIR");
	char why[256];

	memset(env, 0, sizeof(*env));
	env->sysfs_cpu_dir = dir && *dir ? dir : VF_SYSFS_CPU_DIR;
	env->state_dir = vf_state_dir();
	env->actions_fd = -1;
	if (vf_topology_load(&env->topo, env->sysfs_cpu_dir,
			     topology_override && *topology_override ?
			     topology_override : NULL, why, sizeof(why)))
		return err("cannot read the host topology: %s", why);
	act_env_set_power(env, VCPUFREQ_POWER_BALANCED);
	return 0;
}

void act_env_set_power(struct act_env *env, __u32 power)
{
	env->knee = power == VCPUFREQ_POWER_PERFORMANCE ? VCPUFREQ_PERF_MAX :
		    topo_knee_capacity(&env->topo);
}

/* "0-3,6" from a bit mask (the BPF maps' struct vcpufreq_action.cpus) */
void cpulist_format(const __u64 *mask, char *buf, size_t len)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	for (int cpu = 0; cpu < VCPUFREQ_MAX_CPUS; cpu++)
		if (mask[cpu / 64] & (1ULL << (cpu % 64)))
			CPU_SET(cpu, &set);
	vf_format_cpulist(&set, VCPUFREQ_MAX_CPUS, buf, len);
}
