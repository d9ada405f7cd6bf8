// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * CUR_PERF from the host: the CPU this thread last ran on and that CPU's
 * current frequency, read from a sysfs tree built in a temp dir (this host
 * has no cpufreq driver), and what the register model tells the guest.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <unistd.h>
#include "vcpufreq/abi.h"
#include "vcpufreq/vcpufreq.h"
#include "unit.h"

static char root[64];

static void make_sysfs(bool with_cpufreq)
{
	char cmd[512];

	snprintf(root, sizeof(root), "/tmp/vf-hostperf-XXXXXX");
	if (!mkdtemp(root))
		abort();
	for (long cpu = 0; cpu < sysconf(_SC_NPROCESSORS_CONF); cpu++) {
		snprintf(cmd, sizeof(cmd), "mkdir -p %s/cpu%ld/cpufreq && "
			 "echo 800 > %s/cpu%ld/cpu_capacity", root, cpu, root, cpu);
		if (system(cmd))
			abort();
		if (!with_cpufreq)
			continue;
		snprintf(cmd, sizeof(cmd), "echo 1200000 > %s/cpu%ld/cpufreq/"
			 "scaling_cur_freq && echo 2400000 > %s/cpu%ld/cpufreq/"
			 "cpuinfo_max_freq", root, cpu, root, cpu);
		if (system(cmd))
			abort();
	}
	setenv("VCPUFREQ_SYSFS_CPU_DIR", root, 1);
}

static void drop_sysfs(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd))
		abort();
}

TEST(host_cur_perf_is_capacity_times_cur_over_max_freq)
{
	make_sysfs(true);
	CHECK_EQ(vcpufreq_host_cur_perf(gettid()), 400);
	CHECK_EQ(vcpufreq_host_cur_perf(999999999), 0);	/* not our thread */
	drop_sysfs();
}

TEST(host_cur_perf_is_unknown_without_cpufreq)
{
	make_sysfs(false);
	CHECK_EQ(vcpufreq_host_cur_perf(gettid()), 0);
	drop_sysfs();
}

TEST(cur_perf_register_reports_the_host_in_guest_units)
{
	struct vcpufreq_vcpu_config v = { .capacity = 800, .nr_perf = 1,
					  .perf = { 2400000 } };
	struct vcpufreq_dev_config cfg = { .nr_vcpus = 1, .vcpus = &v };
	struct vcpufreq_dev_ops ops;
	struct vcpufreq_dev *dev;
	char why[128];

	make_sysfs(true);
	vcpufreq_dev_ops_init(&ops, NULL);
	CHECK_EQ(vcpufreq_dev_new(&cfg, &ops, &dev, why, sizeof(why)), 0);
	vcpufreq_dev_set_tid(dev, 0, gettid());
	/* host at half speed on an 800-capacity CPU = 400 = half the guest max */
	CHECK_EQ(vcpufreq_dev_read(dev, 0, VCPUFREQ_REG_CUR_PERF), 1200000);
	vcpufreq_dev_free(dev);
	drop_sysfs();
}

RUN_TESTS(CASE(host_cur_perf_is_capacity_times_cur_over_max_freq),
	  CASE(host_cur_perf_is_unknown_without_cpufreq),
	  CASE(cur_perf_register_reports_the_host_in_guest_units))
