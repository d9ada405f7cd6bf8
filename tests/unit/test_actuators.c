// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The cpufreq floor and affinity actuators against a sysfs tree built in a
 * temp dir (this host has no cpufreq driver) and a real BPF actions map
 * (root).  uclamp is covered by the live tests where the kernel has it.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "actuator.h"
#include "base.h"
#include "unit.h"

static char root[64];

static void put(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static unsigned int get_khz(const char *rel)
{
	char path[256];
	unsigned int v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "r");
	if (f && fscanf(f, "%u", &v) != 1)
		v = 0;
	if (f)
		fclose(f);
	return v;
}

/* two policies: CPU 0 (policy0, 500..2000 MHz), CPU 1 (policy1, same) */
static void make_sysfs(struct act_env *env)
{
	char cmd[256];

	snprintf(root, sizeof(root), "/tmp/vf-act-XXXXXX");
	if (!mkdtemp(root))
		abort();
	snprintf(cmd, sizeof(cmd), "cd %s && mkdir -p cpufreq/policy0 cpufreq/policy1 "
		 "cpu0 cpu1 state && ln -s ../cpufreq/policy0 cpu0/cpufreq && "
		 "ln -s ../cpufreq/policy1 cpu1/cpufreq", root);
	if (system(cmd))
		abort();
	put("online", "0-1\n");
	for (int p = 0; p < 2; p++) {
		char rel[64];

		snprintf(rel, sizeof(rel), "cpufreq/policy%d/cpuinfo_min_freq", p);
		put(rel, "500000\n");
		snprintf(rel, sizeof(rel), "cpufreq/policy%d/cpuinfo_max_freq", p);
		put(rel, "2000000\n");
		snprintf(rel, sizeof(rel), "cpufreq/policy%d/scaling_min_freq", p);
		put(rel, "500000\n");
	}
	setenv("VCPUFREQ_SYSFS_CPU_DIR", root, 1);
	snprintf(cmd, sizeof(cmd), "%s/state", root);
	setenv("VCPUFREQ_STATE_DIR", cmd, 1);
	if (act_env_init(env, NULL))
		abort();
	env->actions_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "t_actions",
					 sizeof(__u32),
					 sizeof(struct vcpufreq_action), 64, NULL);
}

static void drop_sysfs(struct act_env *env)
{
	char cmd[128];

	close(env->actions_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd))
		abort();
}

/* what the agent does for one thread: apply, record, sync */
static void set_perf(struct act_env *env, __u32 tid, __u32 perf)
{
	struct vcpufreq_action a = { .backend = VCPUFREQ_BACKEND_CPUFREQ };

	bpf_map_lookup_elem(env->actions_fd, &tid, &a);
	act_cpufreq.apply(env, tid, perf, &a);
	bpf_map_update_elem(env->actions_fd, &tid, &a, BPF_ANY);
	act_cpufreq.apply_shared(env);
}

TEST(cpufreq_floor_rises_for_the_biggest_request_and_is_restored)
{
	struct act_env env;
	char why[256];
	__u32 me = gettid();
	cpu_set_t only1;

	make_sysfs(&env);
	CHECK_EQ(act_cpufreq.probe(&env, why, sizeof(why)), 0);
	CPU_ZERO(&only1);
	CPU_SET(1, &only1);
	sched_setaffinity(0, sizeof(only1), &only1);
	set_perf(&env, me, 512);	/* half of 2 GHz on policy1 only */
	CHECK_EQ(get_khz("cpufreq/policy1/scaling_min_freq"), 1000000);
	CHECK_EQ(get_khz("cpufreq/policy0/scaling_min_freq"), 500000);
	set_perf(&env, me, 1024);
	CHECK_EQ(get_khz("cpufreq/policy1/scaling_min_freq"), 2000000);
	set_perf(&env, me, 0);
	CHECK_EQ(get_khz("cpufreq/policy1/scaling_min_freq"), 500000);
	drop_sysfs(&env);
}

/* load --power balanced: the floor is the knee's at most, not the request's */
TEST(cpufreq_floor_stops_at_the_efficiency_knee)
{
	struct act_env env;
	__u32 me = gettid();
	cpu_set_t only1;

	make_sysfs(&env);
	env.knee = 512;	/* as topo_knee_capacity gives with power figures */
	CPU_ZERO(&only1);
	CPU_SET(1, &only1);
	sched_setaffinity(0, sizeof(only1), &only1);
	set_perf(&env, me, 1024);	/* 2 GHz in full, 1 GHz at the knee */
	CHECK_EQ(get_khz("cpufreq/policy1/scaling_min_freq"), 1000000);
	set_perf(&env, me, 0);
	CHECK_EQ(get_khz("cpufreq/policy1/scaling_min_freq"), 500000);
	drop_sysfs(&env);
}

TEST(cpufreq_shutdown_restores_every_policy)
{
	struct act_env env;
	cpu_set_t all;

	make_sysfs(&env);
	CPU_ZERO(&all);
	CPU_SET(0, &all);
	CPU_SET(1, &all);
	sched_setaffinity(0, sizeof(all), &all);
	set_perf(&env, gettid(), 800);
	CHECK(get_khz("cpufreq/policy0/scaling_min_freq") > 500000);
	CHECK(get_khz("cpufreq/policy1/scaling_min_freq") > 500000);
	act_cpufreq.shutdown(&env);
	CHECK_EQ(get_khz("cpufreq/policy0/scaling_min_freq"), 500000);
	CHECK_EQ(get_khz("cpufreq/policy1/scaling_min_freq"), 500000);
	drop_sysfs(&env);
}

TEST(cpufreq_is_unavailable_without_policies)
{
	struct act_env env;
	char why[256] = "";

	setenv("VCPUFREQ_SYSFS_CPU_DIR", "/sys/devices/system/cpu", 1);
	if (act_env_init(&env, NULL))
		abort();
	if (!env.topo.has_cpufreq) {
		CHECK(act_cpufreq.probe(&env, why, sizeof(why)) != 0);
		CHECK(strstr(why, "no cpufreq driver") != NULL);
	}
}

TEST(tid_argument_must_be_a_positive_decimal)
{
	__u32 tid;

	CHECK_EQ(parse_tid("1234", &tid), 0);
	CHECK_EQ(tid, 1234);
	CHECK(parse_tid("0", &tid) != 0);
	CHECK(parse_tid("-3", &tid) != 0);
	CHECK(parse_tid("12a", &tid) != 0);
	CHECK(parse_tid("", &tid) != 0);
	CHECK(parse_tid("4294967296", &tid) != 0);
	CHECK(parse_tid("2147483648", &tid) != 0);	/* above INT_MAX */
}

TEST(cpu_lists_are_printed_as_ranges)
{
	__u64 mask[VCPUFREQ_CPUMASK_WORDS] = { 0 };
	char buf[64];

	cpulist_format(mask, buf, sizeof(buf));
	CHECK(!strcmp(buf, ""));
	mask[0] = 0xf | (1ULL << 6);
	mask[1] = 1;			/* CPU 64 */
	cpulist_format(mask, buf, sizeof(buf));
	CHECK(!strcmp(buf, "0-3,6,64"));
}

TEST(json_strings_are_escaped)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	struct json *j = json_new(f, false);

	json_obj_open(j);
	json_kstr(j, "path", "a\"b\\c\n");
	json_kuint(j, "n", 7);
	json_obj_close(j);
	json_free(j);
	fclose(f);
	CHECK(!strcmp(out, "{\"path\":\"a\\\"b\\\\c\\u000a\",\"n\":7}\n"));
	free(out);
}

/* the efficiency knee a request is served up to (topo_knee_capacity) */
static struct vf_topology knee_topo;

static void knee_cpu(int c, unsigned int cap, const unsigned int *khz,
		     const unsigned int *ua, unsigned int n)
{
	struct vf_cpu *cpu = &knee_topo.cpu[c];

	cpu->present = true;
	cpu->capacity = cap;
	cpu->nr_freqs = n;
	cpu->nr_power = ua ? n : 0;
	for (unsigned int i = 0; i < n; i++) {
		cpu->freqs_khz[i] = khz[i];
		cpu->power[i] = ua ? ua[i] : 0;
	}
	knee_topo.nr_cpus = c + 1;
}

TEST(knee_is_the_opp_below_the_steepest_rise_in_energy_per_work)
{
	/* Pixel 6's A55 and X1 (power profile, uA) */
	static const unsigned int a55_khz[] = { 300000, 574000, 738000, 930000,
		1098000, 1197000, 1328000, 1401000, 1598000, 1704000, 1803000 };
	static const unsigned int a55_ua[] = { 1890, 6150, 9340, 14220, 18940,
		21980, 26830, 30170, 41550, 48360, 58450 };
	static const unsigned int x1_khz[] = { 500000, 851000, 984000, 1106000,
		1277000, 1426000, 1582000, 1745000, 1826000, 2048000, 2188000,
		2252000, 2401000, 2507000, 2630000, 2704000, 2802000 };
	static const unsigned int x1_ua[] = { 8360, 16330, 19440, 36710, 41420,
		48240, 54770, 65320, 69580, 128490, 142150, 149740, 164780,
		188680, 193150, 227980, 254250 };

	memset(&knee_topo, 0, sizeof(knee_topo));
	knee_cpu(0, 161, a55_khz, a55_ua, 11);
	knee_cpu(1, 1024, x1_khz, x1_ua, 17);
	/* X1 at 984 MHz, rounded down so schedutil lands on that OPP */
	CHECK_EQ(topo_knee_capacity(&knee_topo), 1024 * 984 / 2802);
	/* load --power: balanced is that knee, performance none */
	{
		struct act_env env = { .topo = knee_topo };

		act_env_set_power(&env, VCPUFREQ_POWER_BALANCED);
		CHECK_EQ(env.knee, 1024 * 984 / 2802);
		act_env_set_power(&env, VCPUFREQ_POWER_PERFORMANCE);
		CHECK_EQ(env.knee, VCPUFREQ_PERF_MAX);
	}
	knee_cpu(1, 1024, x1_khz, NULL, 17);	/* a CPU without figures */
	CHECK_EQ(topo_knee_capacity(&knee_topo), VCPUFREQ_PERF_MAX);
	knee_cpu(1, 1024, x1_khz + 16, x1_ua + 16, 1);	/* one OPP: no knee */
	CHECK_EQ(topo_knee_capacity(&knee_topo), 1024);
}

RUN_TESTS(CASE(tid_argument_must_be_a_positive_decimal),
	  CASE(knee_is_the_opp_below_the_steepest_rise_in_energy_per_work),
	  CASE(cpu_lists_are_printed_as_ranges),
	  CASE(json_strings_are_escaped),
	  CASE(cpufreq_floor_rises_for_the_biggest_request_and_is_restored),
	  CASE(cpufreq_floor_stops_at_the_efficiency_knee),
	  CASE(cpufreq_shutdown_restores_every_policy),
	  CASE(cpufreq_is_unavailable_without_policies))
