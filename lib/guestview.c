// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What a vCPU looks like to its guest: the per-vCPU configuration of the
 * virtual cpufreq device (vf_vcpu_view), and the devicetree a VMM gives
 * the guest so that its kernel finds the device and sees the same
 * capacities, clusters and frequency tables (vf_write_guest_dts).
 *
 * Facts the tree rests on (Linux 6.13):
 *  - drivers/cpufreq/virtual-cpufreq.c maps the one "reg" region of the
 *    "qemu,virtual-cpufreq" node and reads vCPU n's registers at
 *    n * 0x1000 for every possible CPU, so the region covers
 *    0x1000 * nr_vcpus; it takes its perf tables from the registers, not
 *    from the devicetree.
 *  - drivers/base/arch_topology.c: a CPU's capacity is
 *    capacity-dmips-mhz * cpuinfo.max_freq of its cpufreq policy,
 *    normalized so the largest is 1024; cpu-map clusters must be numbered
 *    cluster0.. and cores core0.. without gaps, and must cover every CPU.
 *  - crosvm describes the guest the same way: capacity-dmips-mhz per cpu
 *    node, a per-vCPU operating-points-v2 table, and a cpu-map.
 *  - an arm64 cpu node's reg is the CPU's MPIDR affinity, which KVM and
 *    QEMU's virt machine (GICv3) give vCPU n as Aff1 = n / 16, Aff0 =
 *    n % 16: with reg = n, vCPU 16 would be looked for at MPIDR 0x10 and
 *    the guest could not start any CPU from 16 on.  Secondaries start
 *    through PSCI (enable-method), which both VMMs provide.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "topology.h"
#include "guestview.h"
#include "cpulist.h"
#include "util.h"
#include "vcpufreq/regmodel.h"

/* the scale of capacity-dmips-mhz the largest vCPU gets */
#define DMIPS_SCALE	1024ULL

/* ---- the per-vCPU device configuration ------------------------------- */

/* The biggest present CPU in @set (lowest number on a tie), or -1. */
static int biggest_cpu(const struct vf_topology *t, const cpu_set_t *set)
{
	int cpu, best = -1;

	for (cpu = 0; cpu < t->nr_cpus && cpu < CPU_SETSIZE; cpu++) {
		if (!t->cpu[cpu].present || !CPU_ISSET(cpu, set))
			continue;
		if (best < 0 || t->cpu[cpu].capacity > t->cpu[best].capacity)
			best = cpu;
	}
	return best;
}

int vf_vcpu_view(const struct vf_topology *t, const cpu_set_t *affinity,
		 struct vcpufreq_vcpu_config *out)
{
	const struct vf_cpu *c;
	unsigned int n;
	int cpu;

	if (!t || !affinity || !out)
		return -EINVAL;
	cpu = biggest_cpu(t, affinity);
	if (cpu < 0)
		return -EINVAL;
	c = &t->cpu[cpu];

	memset(out, 0, sizeof(*out));
	out->tid = 0;
	out->perf_domain = (uint32_t)c->cluster;
	out->capacity = c->capacity;
	if (c->nr_freqs >= 2) {
		/* the loader keeps tables ascending, nonzero, <= 64 entries */
		n = c->nr_freqs;
		if (n > VCPUFREQ_PERFTBL_MAX)
			n = VCPUFREQ_PERFTBL_MAX;
		memcpy(out->perf, c->freqs_khz, n * sizeof(out->perf[0]));
		out->nr_perf = n;
	} else if (c->max_khz) {
		/* continuous: any frequency up to the maximum */
		out->nr_perf = 1;
		out->perf[0] = c->max_khz;
	} else {
		/* no frequency information: unitless perf 1..capacity */
		out->nr_perf = 1;
		out->perf[0] = c->capacity;
	}
	return 0;
}

static uint32_t top_perf(const struct vcpufreq_vcpu_config *v)
{
	return v->nr_perf ? v->perf[v->nr_perf - 1] : 0;
}

void vf_guest_dmips(const struct vcpufreq_vcpu_config *views, unsigned int n,
		    uint32_t *out)
{
	unsigned long long num, den, d;
	unsigned int i, m = 0;

	/* m: the view with the largest capacity per unit of top perf */
	for (i = 1; i < n; i++)
		if ((unsigned long long)views[i].capacity * top_perf(&views[m]) >
		    (unsigned long long)views[m].capacity * top_perf(&views[i]))
			m = i;

	for (i = 0; i < n; i++) {
		/* capacity <= 1024 and perf < 2^32: no product overflows */
		num = DMIPS_SCALE * views[i].capacity * top_perf(&views[m]);
		den = (unsigned long long)top_perf(&views[i]) * views[m].capacity;
		d = den ? (num + den / 2) / den : DMIPS_SCALE;
		if (d < 1)
			d = 1;
		if (d > DMIPS_SCALE)
			d = DMIPS_SCALE;
		out[i] = (uint32_t)d;
	}
}

/* ---- the devicetree ---------------------------------------------------- */

struct dts {
	FILE *f;
	const struct vf_topology *t;
	unsigned int n;
	const cpu_set_t *affinity;
	const struct vcpufreq_vcpu_config *views;
	const uint32_t *dmips;
};

static bool has_table(const struct vcpufreq_vcpu_config *v)
{
	return v->nr_perf >= 2;
}

/* What vCPU @i stands for, as a comment: where it runs and what it gets. */
static void write_cpu_comment(const struct dts *d, unsigned int i)
{
	const struct vcpufreq_vcpu_config *v = &d->views[i];
	int big = biggest_cpu(d->t, &d->affinity[i]);
	char cpus[1024];

	vf_format_cpulist(&d->affinity[i], d->t->nr_cpus, cpus, sizeof(cpus));
	fprintf(d->f, "\t\t\t/* affinity %s: capacity %" PRIu32 ", ", cpus,
		v->capacity);
	if (has_table(v))
		fprintf(d->f, "%" PRIu32 " frequencies %" PRIu32 "-%" PRIu32
			" kHz", v->nr_perf, v->perf[0], top_perf(v));
	else if (big >= 0 && d->t->cpu[big].max_khz)
		fprintf(d->f, "continuous up to %" PRIu32 " kHz", v->perf[0]);
	else
		fprintf(d->f, "continuous perf 1-%" PRIu32
			" (no host frequency information)", v->perf[0]);
	fprintf(d->f, ", perf domain %" PRIu32 " */\n", v->perf_domain);
}

/* vCPU @i's MPIDR affinity, as KVM and QEMU virt (GICv3) number vCPUs */
static uint32_t vcpu_mpidr(unsigned int i)
{
	return (i / 16) << 8 | i % 16;
}

static void write_cpu(const struct dts *d, unsigned int i)
{
	const struct vcpufreq_vcpu_config *v = &d->views[i];

	fprintf(d->f, "\t\tcpu%u: cpu@%x {\n", i, vcpu_mpidr(i));
	write_cpu_comment(d, i);
	fprintf(d->f, "\t\t\tdevice_type = \"cpu\";\n");
	fprintf(d->f, "\t\t\tcompatible = \"arm,armv8\";\n");
	fprintf(d->f, "\t\t\treg = <0x%x>;\n", vcpu_mpidr(i));
	if (d->n > 1)
		fprintf(d->f, "\t\t\tenable-method = \"psci\";\n");
	fprintf(d->f, "\t\t\tcapacity-dmips-mhz = <%" PRIu32 ">;\n",
		d->dmips[i]);
	if (has_table(v))
		fprintf(d->f, "\t\t\toperating-points-v2 = <&opp_table%u>;\n",
			i);
	fprintf(d->f, "\t\t};\n\n");
}

/* The smallest perf domain above @after (any, when !@have_after). */
static bool next_domain(const struct dts *d, bool have_after, uint32_t after,
			uint32_t *dom)
{
	bool found = false;
	unsigned int i;

	for (i = 0; i < d->n; i++) {
		uint32_t p = d->views[i].perf_domain;

		if (have_after && p <= after)
			continue;
		if (!found || p < *dom) {
			*dom = p;
			found = true;
		}
	}
	return found;
}

/* One cluster per perf domain, ascending; its vCPUs as cores. */
static void write_cpu_map(const struct dts *d)
{
	unsigned int i, cluster = 0, core;
	bool have = false;
	uint32_t dom = 0;

	fprintf(d->f, "\t\tcpu-map {\n");
	while (next_domain(d, have, dom, &dom)) {
		have = true;
		fprintf(d->f, "%s\t\t\tcluster%u {\n", cluster ? "\n" : "",
			cluster);
		fprintf(d->f, "\t\t\t\t/* perf domain %" PRIu32 " */\n", dom);
		for (i = 0, core = 0; i < d->n; i++) {
			if (d->views[i].perf_domain != dom)
				continue;
			fprintf(d->f, "\t\t\t\tcore%u {\n", core++);
			fprintf(d->f, "\t\t\t\t\tcpu = <&cpu%u>;\n", i);
			fprintf(d->f, "\t\t\t\t};\n");
		}
		fprintf(d->f, "\t\t\t};\n");
		cluster++;
	}
	fprintf(d->f, "\t\t};\n");
}

static void write_opp_table(const struct dts *d, unsigned int i)
{
	const struct vcpufreq_vcpu_config *v = &d->views[i];
	unsigned long long hz;
	unsigned int k;

	fprintf(d->f, "\n\topp_table%u: opp-table-%u {\n", i, i);
	fprintf(d->f, "\t\tcompatible = \"operating-points-v2\";\n");
	for (k = 0; k < v->nr_perf; k++) {
		hz = (unsigned long long)v->perf[k] * 1000ULL;
		fprintf(d->f, "\n\t\topp-%llu {\n", hz);
		fprintf(d->f, "\t\t\topp-hz = /bits/ 64 <%llu>;\n", hz);
		fprintf(d->f, "\t\t};\n");
	}
	fprintf(d->f, "\t};\n");
}

static void write_tree(const struct dts *d, uint64_t base, uint64_t size)
{
	unsigned int i;

	fprintf(d->f,
		"/dts-v1/;\n"
		"\n"
		"/*\n"
		" * Guest view of the virtual cpufreq device for %u vCPU%s, written by\n"
		" * vcpufreq-bpf from the host topology.  Merge /cpus, the opp-table-*\n"
		" * nodes and /cpufreq@%" PRIx64 " into the VMM's guest tree; the root's\n"
		" * model and compatible only make this file a tree of its own.\n"
		" * capacity-dmips-mhz is host capacity / top perf, scaled to 1024: the\n"
		" * guest multiplies it by its cpufreq maximum and so gets the host's\n"
		" * capacity ratios once the virtual-cpufreq driver is bound.\n"
		" */\n"
		"/ {\n"
		"\tmodel = \"vcpufreq-bpf virtual cpufreq guest\";\n"
		"\tcompatible = \"linux,dummy-virt\";\n"
		"\t#address-cells = <2>;\n"
		"\t#size-cells = <2>;\n"
		"\n"
		"\tcpus {\n"
		"\t\t#address-cells = <1>;\n"
		"\t\t#size-cells = <0>;\n"
		"\n",
		d->n, d->n == 1 ? "" : "s", base);
	for (i = 0; i < d->n; i++)
		write_cpu(d, i);
	write_cpu_map(d);
	fprintf(d->f, "\t};\n");

	for (i = 0; i < d->n; i++)
		if (has_table(&d->views[i]))
			write_opp_table(d, i);

	fprintf(d->f,
		"\n"
		"\tcpufreq@%" PRIx64 " {\n"
		"\t\tcompatible = \"qemu,virtual-cpufreq\";\n"
		"\t\t/* 0x1000 of registers per vCPU */\n"
		"\t\treg = <0x%" PRIx32 " 0x%" PRIx32 " 0x%" PRIx32 " 0x%" PRIx32 ">;\n"
		"\t};\n"
		"};\n",
		base, (uint32_t)(base >> 32), (uint32_t)base,
		(uint32_t)(size >> 32), (uint32_t)size);
}

int vf_write_guest_dts(FILE *f, const struct vf_topology *t,
		       unsigned int nr_vcpus, const cpu_set_t *affinity,
		       uint64_t reg_base, char *err, size_t err_len)
{
	struct vcpufreq_vcpu_config *views;
	uint64_t size = (uint64_t)VCPUFREQ_REG_STRIDE * nr_vcpus;
	struct dts d;
	uint32_t *dmips;
	unsigned int i;
	int ret = 0;

	if (!f || !t || !affinity)
		return vf_einval(err, err_len, "no output, topology or affinity");
	if (!nr_vcpus || nr_vcpus > VCPUFREQ_DEV_MAX_VCPUS)
		return vf_einval(err, err_len, "%u vCPUs: the device takes 1..%d",
				 nr_vcpus, VCPUFREQ_DEV_MAX_VCPUS);
	if (reg_base % VCPUFREQ_REG_STRIDE)
		return vf_einval(err, err_len,
				 "base 0x%" PRIx64 " is not 4 KiB aligned", reg_base);
	if (reg_base > UINT64_MAX - size)
		return vf_einval(err, err_len,
				 "base 0x%" PRIx64 " + 0x%" PRIx64
				 " runs past the end of the address space",
				 reg_base, size);

	views = calloc(nr_vcpus, sizeof(*views));
	dmips = calloc(nr_vcpus, sizeof(*dmips));
	if (!views || !dmips) {
		vf_einval(err, err_len, "out of memory for %u vCPUs", nr_vcpus);
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nr_vcpus; i++) {
		if (vf_vcpu_view(t, &affinity[i], &views[i])) {
			ret = vf_einval(err, err_len,
					"vCPU %u: its affinity holds no CPU present on this host",
					i);
			goto out;
		}
	}
	vf_guest_dmips(views, nr_vcpus, dmips);

	d = (struct dts){ .f = f, .t = t, .n = nr_vcpus, .affinity = affinity,
			  .views = views, .dmips = dmips };
	write_tree(&d, reg_base, size);
	if (fflush(f) || ferror(f)) {
		vf_einval(err, err_len, "write error: %s", strerror(errno));
		ret = -EIO;
	}
out:
	free(views);
	free(dmips);
	return ret;
}
