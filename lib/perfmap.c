// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * From a perf request (capacity units, 0..VCPUFREQ_PERF_MAX) to what the
 * host can do about it: the CPUs that fit it, the frequency that
 * delivers it.  The affinity and cpufreq backends act on these.
 */
#define _GNU_SOURCE
#include "perfmap.h"

static int add_cpus_with(const struct vf_topology *t, unsigned int min_cap,
			 cpu_set_t *set)
{
	int cpu, n = 0;

	for (cpu = 0; cpu < t->nr_cpus; cpu++) {
		if (!t->cpu[cpu].present || t->cpu[cpu].capacity < min_cap)
			continue;
		CPU_SET(cpu, set);
		n++;
	}
	return n;
}

int vf_fit_cpus(const struct vf_topology *t, unsigned int perf,
		cpu_set_t *set)
{
	int n;

	CPU_ZERO(set);
	n = add_cpus_with(t, perf, set);
	/* nothing is big enough: the biggest CPUs come closest */
	if (!n)
		n = add_cpus_with(t, vf_topology_max_capacity(t), set);
	return n;
}

/* Smallest table entry at or above @khz, else the top of the table. */
static unsigned long long table_round_up(const struct vf_cpu *c,
					 unsigned long long khz)
{
	unsigned int i, n = c->nr_freqs;

	if (n > VCPUFREQ_PERFTBL_MAX)
		n = VCPUFREQ_PERFTBL_MAX;
	for (i = 0; i < n; i++)
		if (c->freqs_khz[i] >= khz)
			return c->freqs_khz[i];
	return c->freqs_khz[n - 1];
}

unsigned int vf_perf_to_khz(const struct vf_cpu *cpu, unsigned int perf)
{
	unsigned long long khz;

	if (!cpu->max_khz)
		return 0;
	/* capacity is what the CPU delivers at max_khz: scale linearly */
	if (!cpu->capacity || perf >= cpu->capacity)
		khz = cpu->max_khz;
	else
		khz = ((unsigned long long)cpu->max_khz * perf +
		       cpu->capacity - 1) / cpu->capacity;
	if (cpu->nr_freqs)
		khz = table_round_up(cpu, khz);
	if (khz < cpu->min_khz)
		khz = cpu->min_khz;
	if (khz > cpu->max_khz)
		khz = cpu->max_khz;
	return (unsigned int)khz;
}
