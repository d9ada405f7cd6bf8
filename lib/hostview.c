// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The public face of the host topology for VMMs (vcpufreq/host.h): the
 * topology struct stays private, so a VMM builds against the installed
 * headers only.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vcpufreq/host.h"
#include "topology.h"
#include "guestview.h"

static const char *sysfs_cpu_dir(void)
{
	const char *dir = getenv("VCPUFREQ_SYSFS_CPU_DIR");

	return dir && *dir ? dir : VF_SYSFS_CPU_DIR;
}

/* a CPU the topology does not describe would get no table */
static int check_on_host(const struct vf_topology *t, unsigned int vcpu,
			 const cpu_set_t *set, char *err, size_t err_len)
{
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, set))
			continue;
		if (cpu >= t->nr_cpus || !t->cpu[cpu].present) {
			snprintf(err, err_len,
				 "vCPU %u may run on CPU %d, which is not on this host (see `vcpufreq-bpf topology`)",
				 vcpu, cpu);
			return -1;
		}
	}
	return 0;
}

int vcpufreq_vcpu_views(const char *topology, unsigned int n,
			const cpu_set_t *affinity,
			struct vcpufreq_vcpu_config *out, char *err,
			size_t err_len)
{
	struct vf_topology *t = malloc(sizeof(*t));	/* too big for a stack */
	int ret = -1;

	if (!t) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	if (vf_topology_load(t, sysfs_cpu_dir(), topology, err, err_len))
		goto out;
	for (unsigned int i = 0; i < n; i++) {
		if (check_on_host(t, i, &affinity[i], err, err_len))
			goto out;
		if (vf_vcpu_view(t, &affinity[i], &out[i])) {
			snprintf(err, err_len,
				 "the host topology describes none of vCPU %u's CPUs",
				 i);
			goto out;
		}
	}
	ret = 0;
out:
	free(t);
	return ret;
}

void vcpufreq_guest_dmips(const struct vcpufreq_vcpu_config *views,
			  unsigned int n, uint32_t *out)
{
	vf_guest_dmips(views, n, out);
}

int vcpufreq_parse_cpulist(const char *s, size_t len, cpu_set_t *set,
			   char *err, size_t err_len)
{
	return vf_parse_cpulist(s, len, set, err, err_len) < 0 ? -1 : 0;
}

void vcpufreq_format_cpulist(const cpu_set_t *set, char *buf, size_t len)
{
	vf_format_cpulist(set, CPU_SETSIZE, buf, len);
}
