/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The guest's side of the virtual cpufreq device as a devicetree: the
 * cpus (with capacity, cluster map and OPP tables) and the
 * "qemu,virtual-cpufreq" node a VMM puts into its guest's tree, written
 * as dtc source.  Each vCPU looks like vf_vcpu_view() of its affinity.
 */
#ifndef VCPUFREQ_GUESTVIEW_H
#define VCPUFREQ_GUESTVIEW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "topology.h"
#include "cpulist.h"	/* vf_parse_cpulist, vf_format_cpulist */
#include "vcpufreq/regmodel.h"

/*
 * What a vCPU allowed on @affinity should look like to its guest: the
 * capacity of the biggest CPU in @affinity, that CPU's frequency table
 * (nr_perf >= 2), or its max as continuous mode (nr_perf = 1) when it has
 * no table, or the capacity itself as a unitless max when it has no
 * frequency information; perf_domain = that CPU's cluster.  tid = 0.
 * -EINVAL when @affinity holds no present CPU.
 */
int vf_vcpu_view(const struct vf_topology *t, const cpu_set_t *affinity,
		 struct vcpufreq_vcpu_config *out);

/* crosvm's placement of the device on arm64 */
#define VF_GUEST_DT_BASE	0x1040000ULL

/*
 * capacity-dmips-mhz for @n vCPU views: the guest kernel (arch_topology)
 * multiplies each CPU's capacity-dmips-mhz by its cpufreq cpuinfo.max_freq
 * (the top perf value the device reports) and normalizes the products to
 * 1024.  So the value written is capacity / top perf, scaled so that the
 * largest ratio is 1024: the guest then ends up with capacities in the
 * same proportion as the host capacities in the views.  Every @out[i] is
 * 1..1024.
 */
void vf_guest_dmips(const struct vcpufreq_vcpu_config *views, unsigned int n,
		    uint32_t *out);

/*
 * Write a complete, dtc-compilable "/dts-v1/;" tree for @nr_vcpus vCPUs
 * (1..VCPUFREQ_DEV_MAX_VCPUS); vCPU i is vf_vcpu_view(@t, &@affinity[i]).
 *
 *   /cpus/cpu@M       device_type, compatible "arm,armv8", reg <M>, the
 *                     MPIDR of vCPU i (M = (i / 16) << 8 | i % 16, as KVM
 *                     and QEMU virt with GICv3 number them), enable-method
 *                     "psci" when there is more than one vCPU,
 *                     capacity-dmips-mhz (vf_guest_dmips), and
 *                     operating-points-v2 = <&opp_tablei> with a table
 *   /cpus/cpu-map     one clusterK per distinct perf_domain, ascending;
 *                     vCPUs in it as coreJ, ascending
 *   /opp-table-i      per-vCPU OPP v2 table (table mode only), one
 *                     opp-<hz> node per perf table entry (kHz * 1000)
 *   /cpufreq@<base>   compatible "qemu,virtual-cpufreq",
 *                     reg = <base size>, size = 0x1000 * nr_vcpus
 *
 * The root has #address-cells = <2> and #size-cells = <2>.  @reg_base must
 * be 4 KiB aligned.  Returns 0, -EINVAL (bad argument, or a vCPU whose
 * affinity holds no present CPU), -ENOMEM or -EIO (write error); on error
 * @err (if not NULL) gets a one-line reason.  On error part of the tree
 * may already have been written.
 */
int vf_write_guest_dts(FILE *f, const struct vf_topology *t,
		       unsigned int nr_vcpus, const cpu_set_t *affinity,
		       uint64_t reg_base, char *err, size_t err_len);

#endif
