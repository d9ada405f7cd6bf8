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
	return 0;
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
