/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reading a host topology: vf_topology_load() (topology.c) calls one of
 * the two readers with the state they share, and each says why it failed
 * in one line.
 */
#ifndef VCPUFREQ_TOPOLOGY_READ_H
#define VCPUFREQ_TOPOLOGY_READ_H

#include <stddef.h>
#include "topology.h"
#include "util.h"

struct topo_reader {
	struct vf_topology *t;	/* zeroed by the caller, filled in */
	const char *src;	/* sysfs dir or override path, for messages */
	char *err;
	size_t err_len;
};

#define topo_fail(rd, ret, ...)						\
	vf_err((rd)->err, (rd)->err_len, ret, __VA_ARGS__)

/* 0, or a negative errno with the reason in rd->err */
int topo_read_sysfs(struct topo_reader *rd);		/* topology_sysfs.c */
int topo_read_override(struct topo_reader *rd);		/* topology_override.c */
/* power figures from the kernel's energy model in debugfs (topology_em.c) */
void topo_read_energy_model(struct vf_topology *t, const char *em_dir);

#endif
