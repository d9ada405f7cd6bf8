/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Virtual cpufreq guest driver: what the driver core (vcpufreq-core.c) and
 * its transports (vcpufreq-mmio.c, vcpufreq-ivshmem.c) share.
 *
 * A transport knows how to reach one vCPU's registers; the core reads and
 * checks everything the host says once, at probe, keeps its own copy and
 * from then on only reads CUR_PERF (capped at the maximum) and writes
 * SET_PERF.
 */
#ifndef _VCPUFREQ_GUEST_H
#define _VCPUFREQ_GUEST_H

#include <linux/cpufreq.h>
#include <linux/cpumask.h>
#include <linux/types.h>

#include <vcpufreq/device.h>

struct pci_driver;
struct platform_driver;
struct vcpufreq_guest;

/*
 * How the core reaches the device.  The discovery callbacks are only used
 * while probing; @perftbl_entry is only called with idx < the length the
 * core has already checked.  @set_perf writes @khz into @cpu's SET_PERF
 * from the CPU it runs on, which is the one the host boosts.
 */
struct vcpufreq_transport {
	u32 (*perftbl_len)(struct vcpufreq_guest *vf, unsigned int cpu);
	u32 (*perftbl_entry)(struct vcpufreq_guest *vf, unsigned int cpu, u32 idx);
	u32 (*perf_domain)(struct vcpufreq_guest *vf, unsigned int cpu);
	u32 (*cur_perf)(struct vcpufreq_guest *vf, unsigned int cpu);
	void (*set_perf)(struct vcpufreq_guest *vf, unsigned int cpu, u32 khz);
};

/* One PERF_DOMAIN: the CPUs of one cpufreq policy, and their table */
struct vcpufreq_domain {
	u32 id;
	struct cpumask cpus;		/* possible CPUs with this id */
	u32 nr_perf;			/* PERFTBL_LEN, 1 = continuous */
	u32 perf[VCPUFREQ_PERFTBL_MAX];	/* kHz, sorted strictly ascending */
	u32 min_khz;
	u32 max_khz;
	struct cpufreq_frequency_table *table;	/* NULL when continuous */
};

/* One device; the transport embeds it and finds itself by container_of() */
struct vcpufreq_guest {
	struct device *dev;
	const struct vcpufreq_transport *ops;
	unsigned int nr_domains;
	struct vcpufreq_domain *domains;
	struct vcpufreq_domain **cpu_domain;	/* indexed by CPU number */
};

/*
 * Read and check the device, then drive cpufreq with it.  Everything is
 * device-managed: it is undone when the device unbinds or probe fails.
 */
int vcpufreq_probe(struct vcpufreq_guest *vf);

extern struct platform_driver vcpufreq_mmio_driver;
extern struct pci_driver vcpufreq_ivshmem_driver;

#endif /* _VCPUFREQ_GUEST_H */
