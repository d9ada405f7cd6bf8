/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a perf request (capacity units) maps to on the host topology: the
 * CPUs that fit it and the frequency that delivers it.
 */
#ifndef VCPUFREQ_PERFMAP_H
#define VCPUFREQ_PERFMAP_H

#include "topology.h"

/*
 * CPUs whose capacity fits @perf (capacity >= perf); when none does, the
 * CPUs of the highest capacity.  Returns how many CPUs were set in @set.
 */
int vf_fit_cpus(const struct vf_topology *t, unsigned int perf,
		cpu_set_t *set);

/*
 * Lowest frequency of @cpu that delivers @perf: perf / capacity of the
 * CPU's maximum frequency, rounded up to a table entry when there is a
 * table, clamped to [min_khz, max_khz].  0 when the CPU has no frequency
 * information.
 */
unsigned int vf_perf_to_khz(const struct vf_cpu *cpu, unsigned int perf);

#endif
