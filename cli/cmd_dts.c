// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * topology --dts: the devicetree a VMM gives its guest for the virtual
 * cpufreq device, from the host topology (sysfs or --topology FILE).
 *
 *   vcpufreq-bpf topology --dts --vcpus N [--affinity LIST] [--base ADDR]
 *
 * --affinity is one cpulist every vCPU may run on ("2-3"), or one cpulist
 * per vCPU separated by ';' ("0;1;2-3;2-3", exactly N of them); without
 * it every vCPU may run on every host CPU.  Each vCPU then looks like the
 * biggest host CPU it may run on (vf_vcpu_view).  --base is where the
 * device's registers go, 4 KiB aligned, default 0x1040000 (crosvm, arm64).
 * The source goes to stdout; `dtc -I dts -O dtb` compiles it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "actuator.h"
#include "cli.h"
#include "guestview.h"
#include "cpulist.h"

int cmd_topology_dts(int argc, char **argv);

#define DTS_USAGE "vcpufreq-bpf topology --dts --vcpus N " \
		  "[--affinity LIST|'LIST;LIST;...'] [--base ADDR]"

struct dts_args {
	const char *vcpus;
	const char *affinity;
	const char *base;
};

enum { OPT_DTS = 256, OPT_VCPUS, OPT_AFFINITY, OPT_BASE };

static const struct option dts_options[] = {
	{ "dts",	no_argument,		NULL, OPT_DTS },
	{ "vcpus",	required_argument,	NULL, OPT_VCPUS },
	{ "affinity",	required_argument,	NULL, OPT_AFFINITY },
	{ "base",	required_argument,	NULL, OPT_BASE },
	{ 0 }
};

/* where each option's value goes; NULL for --dts */
static const char **option_value(int opt, struct dts_args *a)
{
	switch (opt) {
	case OPT_VCPUS:
		return &a->vcpus;
	case OPT_AFFINITY:
		return &a->affinity;
	case OPT_BASE:
		return &a->base;
	}
	return NULL;
}

static int unexpected(const char *arg)
{
	return err("topology --dts: unexpected argument '%s'; usage: %s", arg,
		   DTS_USAGE);
}

static int parse_args(int argc, char **argv, struct dts_args *a)
{
	const char **val;
	int opt, idx;

	optind = 0;
	while ((opt = getopt_long(argc, argv, ":", dts_options, &idx)) != -1) {
		if (opt == ':')
			return err("topology --dts: %s needs a value; usage: %s",
				   refused_option(argv), DTS_USAGE);
		if (opt == '?')
			return unexpected(refused_option(argv));
		val = option_value(opt, a);
		if (val && *val)
			return err("topology --dts: --%s given twice",
				   dts_options[idx].name);
		if (val)
			*val = optarg;
	}
	if (optind < argc)
		return unexpected(argv[optind]);
	return 0;
}

static int parse_vcpus(const char *s, unsigned int *n)
{
	__u32 v;
	int ret;

	if (!s)
		return err("topology --dts: --vcpus N is required (the guest's vCPU count, 1..%d)",
			   VCPUFREQ_DEV_MAX_VCPUS);
	ret = vf_parse_u32(s, &v);
	if (ret == -EINVAL)
		return err("topology --dts: --vcpus '%s' is not a number; give the guest's vCPU count, 1..%d",
			   s, VCPUFREQ_DEV_MAX_VCPUS);
	if (ret || v < 1 || v > VCPUFREQ_DEV_MAX_VCPUS)
		return err("topology --dts: --vcpus %s is out of range; the device takes 1..%d vCPUs",
			   s, VCPUFREQ_DEV_MAX_VCPUS);
	*n = v;
	return 0;
}

/* "0x1040000" or "17039360" */
static int parse_base(const char *s, uint64_t *base)
{
	const char *digits = s;
	unsigned long long v;
	int hex = 0;
	char *end;

	if (!s) {
		*base = VF_GUEST_DT_BASE;
		return 0;
	}
	if (!strncmp(s, "0x", 2) || !strncmp(s, "0X", 2)) {
		digits = s + 2;
		hex = 1;
	}
	if (!*digits || !(hex ? strchr("0123456789abcdefABCDEF", *digits) :
			  strchr("0123456789", *digits)))
		goto bad;
	errno = 0;
	v = strtoull(digits, &end, hex ? 16 : 10);
	if (*end || errno == ERANGE)
		goto bad;
	if (v % VCPUFREQ_REG_STRIDE)
		return err("topology --dts: --base %s is not 4 KiB aligned; the registers take 0x%x per vCPU",
			   s, VCPUFREQ_REG_STRIDE);
	*base = v;
	return 0;
bad:
	return err("topology --dts: --base '%s' is not an address; give 0xHEX or decimal, e.g. 0x%llx",
		   s, (unsigned long long)VF_GUEST_DT_BASE);
}

static void host_cpulist(const struct vf_topology *t, char *buf, size_t len)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	for (int cpu = 0; cpu < t->nr_cpus; cpu++)
		if (t->cpu[cpu].present)
			CPU_SET(cpu, &set);
	vf_format_cpulist(&set, t->nr_cpus, buf, len);
}

/* vf_cpulist_check: every CPU in @set must be one the topology describes */
static int check_present(const cpu_set_t *set, void *topo, char *why,
			 size_t why_len)
{
	const struct vf_topology *t = topo;
	char host[1024];

	for (int cpu = 0; cpu < VCPUFREQ_MAX_CPUS; cpu++) {
		if (!CPU_ISSET(cpu, set))
			continue;
		if (cpu < t->nr_cpus && t->cpu[cpu].present)
			continue;
		host_cpulist(t, host, sizeof(host));
		snprintf(why, why_len, "CPU %d is not on this host (host CPUs: %s); see 'vcpufreq-bpf topology'",
			 cpu, host);
		return -1;
	}
	return 0;
}

/* Fill @aff[0..n) from --affinity (NULL: every host CPU). */
static int parse_affinity(const struct vf_topology *t, const char *s,
			  unsigned int n, cpu_set_t *aff)
{
	char why[1536];

	if (!s) {
		CPU_ZERO(&aff[0]);
		for (int cpu = 0; cpu < t->nr_cpus; cpu++)
			if (t->cpu[cpu].present)
				CPU_SET(cpu, &aff[0]);
		for (unsigned int i = 1; i < n; i++)
			aff[i] = aff[0];
		return 0;
	}
	if (vf_parse_affinity(s, n, aff, check_present, (void *)t, why,
			      sizeof(why)))
		return err("topology --dts: %s", why);
	return 0;
}

int cmd_topology_dts(int argc, char **argv)
{
	struct dts_args a = { 0 };
	struct act_env env;
	cpu_set_t *aff = NULL;
	unsigned int n = 0;
	uint64_t base = 0;
	char why[256];
	int ret = -1;

	if (opts.json) {
		/* --dts never speaks JSON, so neither does its refusal */
		opts.json = opts.pretty = false;
		return err("topology --dts writes devicetree source, not JSON; drop -j/-p");
	}
	if (parse_args(argc, argv, &a) || parse_vcpus(a.vcpus, &n) ||
	    parse_base(a.base, &base))
		return -1;
	if (act_env_init(&env, opts.topology))
		return -1;
	aff = calloc(n, sizeof(*aff));
	if (!aff)
		return err("topology --dts: out of memory for %u vCPUs", n);
	if (parse_affinity(&env.topo, a.affinity, n, aff))
		goto out;
	if (vf_write_guest_dts(stdout, &env.topo, n, aff, base, why,
			       sizeof(why))) {
		err("topology --dts: %s", why);
		goto out;
	}
	ret = 0;
out:
	free(aff);
	return ret;
}
