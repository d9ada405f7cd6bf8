/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Grants: which users or groups may steer which vCPU threads through the
 * broker.  `grant` writes them (root-only file in the state dir,
 * grants.c), the agent's broker reads them.  A grant without a cgroup
 * covers the threads of the connecting VMM's own process; with one, the
 * threads in that cgroup v2 and below (a bridge serving a QEMU it is not).
 */
#ifndef VCPUFREQ_GRANTS_H
#define VCPUFREQ_GRANTS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#define VCPUFREQ_MAX_GRANTS		64
#define VCPUFREQ_GRANT_DEFAULT_VCPUS	256

struct grant {
	bool group;		/* id is a gid, else a uid */
	__u32 id;
	__u32 max_vcpus;	/* quota: threads registered at once */
	char cgroup[256];	/* below the cgroup2 mount, "" = own process */
};

/* STATE_DIR/NAME.grants for the pin dir in use */
void grants_path(char *buf, size_t len);
/* the grants in force: how many (0 when none), -1 when unreadable */
int grants_load(struct grant *g, int max);
/* replace them (written aside, then renamed in); 0, or -1 with Error: */
int grants_save(const struct grant *g, int n);
/* unload: every grant ends */
void grants_remove(void);

#endif
