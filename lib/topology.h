/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Host CPU topology as vcpufreq sees it: per-CPU capacity (cpu_capacity
 * scale, 1..VCPUFREQ_PERF_MAX), frequency range and table, cluster and
 * cpufreq policy.  Read from sysfs, or from an override file for hosts
 * whose sysfs is wrong or symmetric (tests describe big.LITTLE with it).
 * What a perf request maps to on it: perfmap.h; what a vCPU on it shows
 * its guest: guestview.h.
 */
#ifndef VCPUFREQ_TOPOLOGY_H
#define VCPUFREQ_TOPOLOGY_H

#include <sched.h>
#include <stdbool.h>
#include "vcpufreq/abi.h"

#define VF_SYSFS_CPU_DIR "/sys/devices/system/cpu"
#define VF_ENERGY_MODEL_DIR "/sys/kernel/debug/energy_model"

struct vf_cpu {
	bool present;		/* online and described */
	unsigned int capacity;	/* 1..VCPUFREQ_PERF_MAX */
	int cluster;		/* cluster_id, else package id, else 0 */
	int policy;		/* cpufreq policy number, -1 without cpufreq */
	unsigned int min_khz;	/* 0 when unknown */
	unsigned int max_khz;	/* 0 when unknown */
	unsigned int nr_freqs;	/* entries in freqs[], ascending, 0 = none */
	unsigned int freqs_khz[VCPUFREQ_PERFTBL_MAX];
	unsigned int nr_power;	/* 0, or nr_freqs: power at each frequency */
	unsigned int power[VCPUFREQ_PERFTBL_MAX]; /* any unit, the same for
						   * every CPU (uW, uA) */
};

struct vf_topology {
	int nr_cpus;		/* highest present CPU + 1 */
	bool from_override;	/* described by an override file */
	bool has_cpufreq;	/* at least one CPU has a cpufreq policy */
	struct vf_cpu cpu[VCPUFREQ_MAX_CPUS];
};

/*
 * Fill @t from @sysfs_cpu_dir (NULL: VF_SYSFS_CPU_DIR) or, when
 * @override_path is not NULL, from that file alone.  Returns 0 or a
 * negative errno; on error @err (if not NULL) gets a one-line reason.
 */
int vf_topology_load(struct vf_topology *t, const char *sysfs_cpu_dir,
		     const char *override_path, char *err, size_t err_len);

/* true when every present CPU has the same capacity */
bool vf_topology_symmetric(const struct vf_topology *t);

unsigned int vf_topology_max_capacity(const struct vf_topology *t);

#endif
