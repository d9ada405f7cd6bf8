/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libvcpufreq: what a VMM's virtual cpufreq device shows each vCPU, from
 * the host's topology.  Takes cpu_set_t, so include it after defining
 * _GNU_SOURCE (or after <sched.h> with it).
 */
#ifndef VCPUFREQ_HOST_H
#define VCPUFREQ_HOST_H

#include <sched.h>
#include <stddef.h>
#include "vcpufreq/api.h"
#include "vcpufreq/regmodel.h"

#ifndef CPU_SETSIZE
#error "vcpufreq/host.h needs cpu_set_t: define _GNU_SOURCE before any #include"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The device's view of @n vCPUs, vCPU i running on the host CPUs in
 * @affinity[i]: perf table, capacity and perf domain, into @out[i].  The
 * topology comes from sysfs ($VCPUFREQ_SYSFS_CPU_DIR, default
 * /sys/devices/system/cpu) or from the override file @topology (format:
 * docs/usage.md).  Every CPU of an affinity must be on the host.  0, or
 * -1 with the reason in @err.
 */
VCPUFREQ_API int vcpufreq_vcpu_views(const char *topology, unsigned int n,
				     const cpu_set_t *affinity,
				     struct vcpufreq_vcpu_config *out,
				     char *err, size_t err_len);

/*
 * The capacity-dmips-mhz of each of @n vCPU views (vcpufreq_vcpu_views())
 * into @out[i], for the guest devicetree's cpu nodes: host capacity per
 * unit of top perf, the largest scaled to 1024.  Linux multiplies it by
 * the maximum its cpufreq driver reads from the device, so the guest's
 * capacities come out as the host's.
 */
VCPUFREQ_API void vcpufreq_guest_dmips(const struct vcpufreq_vcpu_config *views,
				       unsigned int n, uint32_t *out);

/* a cpulist ("0-3,6") of @len bytes into @set; 0, or -1 with why in @err */
VCPUFREQ_API int vcpufreq_parse_cpulist(const char *s, size_t len,
					cpu_set_t *set, char *err,
					size_t err_len);

/* @set as a cpulist ("0-3,6") into @buf */
VCPUFREQ_API void vcpufreq_format_cpulist(const cpu_set_t *set, char *buf,
					  size_t len);

#ifdef __cplusplus
}
#endif

#endif
