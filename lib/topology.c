// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The host topology (topology.h): read by topology_sysfs.c (what the
 * kernel says) or topology_override.c (a file that says it instead), and
 * the questions every user of it asks.  Placing and clocking a request on
 * it: perfmap.c.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "topology_read.h"

int vf_topology_load(struct vf_topology *t, const char *sysfs_cpu_dir,
		     const char *override_path, char *err, size_t err_len)
{
	struct topo_reader rd = { .t = t, .err = err, .err_len = err_len };
	char em_dir[PATH_MAX];
	int ret;

	memset(t, 0, sizeof(*t));
	if (override_path) {
		rd.src = override_path;
		ret = topo_read_override(&rd);
	} else {
		rd.src = sysfs_cpu_dir ? sysfs_cpu_dir : VF_SYSFS_CPU_DIR;
		ret = topo_read_sysfs(&rd);
		/*
		 * a test's fake sysfs keeps its energy model beside the CPUs
		 * (no real sysfs CPU directory has an "energy_model")
		 */
		if (sysfs_cpu_dir)
			snprintf(em_dir, sizeof(em_dir), "%s/energy_model",
				 sysfs_cpu_dir);
		if (!ret)
			topo_read_energy_model(t, sysfs_cpu_dir ? em_dir :
					       VF_ENERGY_MODEL_DIR);
	}
	/* never hand back half a topology */
	if (ret)
		memset(t, 0, sizeof(*t));
	return ret;
}

bool vf_topology_symmetric(const struct vf_topology *t)
{
	unsigned int cap = 0;
	int cpu;

	for (cpu = 0; cpu < t->nr_cpus; cpu++) {
		if (!t->cpu[cpu].present)
			continue;
		if (cap && t->cpu[cpu].capacity != cap)
			return false;
		cap = t->cpu[cpu].capacity;
	}
	return true;
}

unsigned int vf_topology_max_capacity(const struct vf_topology *t)
{
	unsigned int max = 0;
	int cpu;

	for (cpu = 0; cpu < t->nr_cpus; cpu++)
		if (t->cpu[cpu].present && t->cpu[cpu].capacity > max)
			max = t->cpu[cpu].capacity;
	return max;
}
