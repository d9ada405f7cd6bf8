// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * lib/topology*.c: sysfs and override loading against fake trees built
 * in a temporary directory; lib/perfmap.c: CPU fitting, perf -> kHz;
 * common/util.c: perf parsing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "perfmap.h"
#include "util.h"	/* vf_parse_perf */
#include "unit.h"

/* A vf_topology is ~70 KiB: one shared instance, reloaded by each case. */
static struct vf_topology topo;
static char err[256];

/* ---- fake sysfs ------------------------------------------------------- */

static char *make_root(void)
{
	static char root[32];

	strcpy(root, "/tmp/vf-topo-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		exit(2);
	}
	return root;
}

static void mkdirs(const char *path)
{
	char tmp[PATH_MAX], *p;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(tmp, 0755);
		*p = '/';
	}
	mkdir(tmp, 0755);
}

/* Write @text to <root>/<rel>, creating parent directories. */
static void put(const char *root, const char *rel, const char *text)
{
	char path[PATH_MAX], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	slash = strrchr(path, '/');
	*slash = '\0';
	mkdirs(path);
	*slash = '/';
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		perror(path);
		exit(2);
	}
}

__attribute__((format(printf, 3, 4)))
static void putf(const char *root, const char *rel, const char *fmt, ...)
{
	char text[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	put(root, rel, text);
}

/* <root>/<rel> -> <target>, as the kernel links cpuN/cpufreq */
static void link_to(const char *root, const char *rel, const char *target)
{
	char path[PATH_MAX], *slash;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	slash = strrchr(path, '/');
	*slash = '\0';
	mkdirs(path);
	*slash = '/';
	if (symlink(target, path)) {
		perror(path);
		exit(2);
	}
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

static void rm_root(const char *root)
{
	CHECK(nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0);
}

static int load_sysfs(const char *root)
{
	err[0] = '\0';
	return vf_topology_load(&topo, root, NULL, err, sizeof(err));
}

/* Load @text as an override file; @path receives its name for messages. */
static int load_override_text(const char *text, char *path, size_t size)
{
	char *root = make_root();
	int ret;

	put(root, "topology", text);
	snprintf(path, size, "%s/topology", root);
	err[0] = '\0';
	ret = vf_topology_load(&topo, "/nonexistent", path, err, sizeof(err));
	rm_root(root);
	return ret;
}

/*
 * The override must fail with @want_ret and err must read exactly
 * @want_fmt, its %s being the file's path.
 */
static void expect_override_error(const char *text, int want_ret,
				  const char *want_fmt)
{
	char path[PATH_MAX], want[PATH_MAX + 128];

	CHECK_EQ(load_override_text(text, path, sizeof(path)), want_ret);
	snprintf(want, sizeof(want), want_fmt, path);
	if (strcmp(err, want)) {
		fprintf(stderr, "    err '%s'\n    want '%s'\n", err, want);
		unit_failures++;
	}
	/* a failed load leaves nothing half-filled behind */
	CHECK_EQ(topo.nr_cpus, 0);
	CHECK(!topo.cpu[0].present);
}

/* ---- sysfs ------------------------------------------------------------ */

TEST(sysfs_symmetric_host_without_cpufreq_is_all_1024)
{
	char *root = make_root();
	int cpu;

	/* what x86 shows: topology, no cpu_capacity, no cpufreq */
	put(root, "online", "0-3\n");
	for (cpu = 0; cpu < 4; cpu++) {
		char rel[64];

		snprintf(rel, sizeof(rel), "cpu%d/topology/physical_package_id",
			 cpu);
		put(root, rel, "0\n");
		snprintf(rel, sizeof(rel), "cpu%d/topology/core_id", cpu);
		putf(root, rel, "%d\n", cpu);
	}

	CHECK_EQ(load_sysfs(root), 0);
	CHECK_EQ(topo.nr_cpus, 4);
	CHECK(!topo.from_override);
	CHECK(!topo.has_cpufreq);
	for (cpu = 0; cpu < 4; cpu++) {
		CHECK(topo.cpu[cpu].present);
		CHECK_EQ(topo.cpu[cpu].capacity, 1024);
		CHECK_EQ(topo.cpu[cpu].cluster, 0);
		CHECK_EQ(topo.cpu[cpu].policy, -1);
		CHECK_EQ(topo.cpu[cpu].min_khz, 0);
		CHECK_EQ(topo.cpu[cpu].max_khz, 0);
		CHECK_EQ(topo.cpu[cpu].nr_freqs, 0);
	}
	CHECK(!topo.cpu[4].present);
	CHECK(vf_topology_symmetric(&topo));
	CHECK_EQ(vf_topology_max_capacity(&topo), 1024);
	rm_root(root);
}

/* cpu0,1 little (policy0), cpu2,3 big (policy2), linked like the kernel */
static void make_big_little_sysfs(const char *root)
{
	int cpu;

	put(root, "online", "0-3\n");
	put(root, "cpufreq/policy0/cpuinfo_min_freq", "300000\n");
	put(root, "cpufreq/policy0/cpuinfo_max_freq", "1800000\n");
	put(root, "cpufreq/policy0/scaling_available_frequencies",
	    "1800000 300000 900000 0 300000 1200000 \n");
	put(root, "cpufreq/policy2/cpuinfo_min_freq", "500000\n");
	put(root, "cpufreq/policy2/cpuinfo_max_freq", "2400000\n");
	for (cpu = 0; cpu < 4; cpu++) {
		char rel[64], target[64];

		snprintf(rel, sizeof(rel), "cpu%d/cpu_capacity", cpu);
		put(root, rel, cpu < 2 ? "512\n" : "1024\n");
		snprintf(rel, sizeof(rel), "cpu%d/topology/cluster_id", cpu);
		put(root, rel, cpu < 2 ? "0\n" : "1\n");
		snprintf(rel, sizeof(rel), "cpu%d/topology/physical_package_id",
			 cpu);
		put(root, rel, "7\n");
		snprintf(rel, sizeof(rel), "cpu%d/cpufreq", cpu);
		snprintf(target, sizeof(target), "../cpufreq/policy%d",
			 cpu < 2 ? 0 : 2);
		link_to(root, rel, target);
	}
}

TEST(sysfs_big_little_reads_capacity_cluster_and_policy_links)
{
	char *root = make_root();

	make_big_little_sysfs(root);
	CHECK_EQ(load_sysfs(root), 0);
	CHECK_EQ(topo.nr_cpus, 4);
	CHECK(topo.has_cpufreq);
	CHECK(!vf_topology_symmetric(&topo));
	CHECK_EQ(vf_topology_max_capacity(&topo), 1024);

	CHECK_EQ(topo.cpu[0].capacity, 512);
	CHECK_EQ(topo.cpu[1].capacity, 512);
	CHECK_EQ(topo.cpu[2].capacity, 1024);
	CHECK_EQ(topo.cpu[3].capacity, 1024);
	/* cluster_id wins over the package id */
	CHECK_EQ(topo.cpu[1].cluster, 0);
	CHECK_EQ(topo.cpu[3].cluster, 1);
	CHECK_EQ(topo.cpu[0].policy, 0);
	CHECK_EQ(topo.cpu[1].policy, 0);
	CHECK_EQ(topo.cpu[2].policy, 2);
	CHECK_EQ(topo.cpu[3].policy, 2);
	CHECK_EQ(topo.cpu[1].min_khz, 300000);
	CHECK_EQ(topo.cpu[1].max_khz, 1800000);
	CHECK_EQ(topo.cpu[3].min_khz, 500000);
	CHECK_EQ(topo.cpu[3].max_khz, 2400000);
	rm_root(root);
}

/* the energy model's states, as debugfs lays them out */
static void put_em_state(const char *root, const char *pd, unsigned int khz,
			 unsigned int uw)
{
	char rel[128];

	snprintf(rel, sizeof(rel), "energy_model/%s/ps:%u/frequency", pd, khz);
	putf(root, rel, "%u\n", khz);
	snprintf(rel, sizeof(rel), "energy_model/%s/ps:%u/power", pd, khz);
	putf(root, rel, "%u\n", uw);
}

TEST(sysfs_energy_model_gives_power_per_frequency_or_none)
{
	static const unsigned int khz[] = { 300000, 900000, 1200000, 1800000 };
	char *root = make_root();

	make_big_little_sysfs(root);
	put(root, "energy_model/cpu0/cpus", "0-1\n");
	for (int i = 0; i < 4; i++)
		put_em_state(root, "cpu0", khz[i], 100 * (i + 1));
	/* the big domain has no table in sysfs: nothing to match */
	put(root, "energy_model/cpu2/cpus", "2-3\n");
	put_em_state(root, "cpu2", 500000, 300);
	CHECK_EQ(load_sysfs(root), 0);
	CHECK_EQ(topo.cpu[0].nr_power, 4);
	CHECK_EQ(topo.cpu[0].power[0], 100);
	CHECK_EQ(topo.cpu[1].power[3], 400);
	CHECK_EQ(topo.cpu[2].nr_power, 0);
	rm_root(root);

	/* a frequency without a state: no figures at all for that domain */
	root = make_root();
	make_big_little_sysfs(root);
	put(root, "energy_model/cpu0/cpus", "0-1\n");
	for (int i = 0; i < 3; i++)
		put_em_state(root, "cpu0", khz[i], 100);
	CHECK_EQ(load_sysfs(root), 0);
	CHECK_EQ(topo.cpu[0].nr_power, 0);
	rm_root(root);

	/* no energy model (no debugfs): not an error */
	root = make_root();
	make_big_little_sysfs(root);
	CHECK_EQ(load_sysfs(root), 0);
	CHECK_EQ(topo.cpu[0].nr_power, 0);
	rm_root(root);
}

TEST(sysfs_unsorted_frequency_table_is_sorted_deduplicated_without_zeros)
{
	char *root = make_root();

	make_big_little_sysfs(root);
	CHECK_EQ(load_sysfs(root), 0);
	CHECK_EQ(topo.cpu[0].nr_freqs, 4);
	CHECK_EQ(topo.cpu[0].freqs_khz[0], 300000);
	CHECK_EQ(topo.cpu[0].freqs_khz[1], 900000);
	CHECK_EQ(topo.cpu[0].freqs_khz[2], 1200000);
	CHECK_EQ(topo.cpu[0].freqs_khz[3], 1800000);
	CHECK_EQ(topo.cpu[1].nr_freqs, 4);
	/* policy2 has no table (intel_pstate-like): none is made up */
	CHECK_EQ(topo.cpu[2].nr_freqs, 0);
	rm_root(root);
}

TEST(sysfs_table_longer_than_perftbl_max_keeps_lowest_and_highest)
{
	char *root = make_root();
	char text[4096] = "", *p = text;
	unsigned int i;

	put(root, "online", "0\n");
	put(root, "cpu0/cpufreq/cpuinfo_min_freq", "100000\n");
	put(root, "cpu0/cpufreq/cpuinfo_max_freq", "1090000\n");
	/* 100 entries, written high to low */
	for (i = 0; i < 100; i++)
		p += sprintf(p, "%u ", 1090000 - i * 10000);
	put(root, "cpu0/cpufreq/scaling_available_frequencies", text);

	CHECK_EQ(load_sysfs(root), 0);
	CHECK_EQ(topo.cpu[0].nr_freqs, VCPUFREQ_PERFTBL_MAX);
	CHECK_EQ(topo.cpu[0].freqs_khz[0], 100000);
	CHECK_EQ(topo.cpu[0].freqs_khz[VCPUFREQ_PERFTBL_MAX - 1], 1090000);
	for (i = 1; i < VCPUFREQ_PERFTBL_MAX; i++)
		CHECK(topo.cpu[0].freqs_khz[i] > topo.cpu[0].freqs_khz[i - 1]);
	rm_root(root);
}

TEST(sysfs_cpufreq_directory_without_link_is_named_after_the_cpu)
{
	char *root = make_root();

	put(root, "online", "0-1\n");
	put(root, "cpu1/cpufreq/cpuinfo_max_freq", "2000000\n");
	/* link to a name that says nothing about the policy */
	put(root, "elsewhere/cpuinfo_max_freq", "1000000\n");
	link_to(root, "cpu0/cpufreq", "../elsewhere");

	CHECK_EQ(load_sysfs(root), 0);
	CHECK(topo.has_cpufreq);
	CHECK_EQ(topo.cpu[0].policy, 0);
	CHECK_EQ(topo.cpu[0].max_khz, 1000000);
	CHECK_EQ(topo.cpu[0].min_khz, 0);
	CHECK_EQ(topo.cpu[1].policy, 1);
	CHECK_EQ(topo.cpu[1].max_khz, 2000000);
	rm_root(root);
}

TEST(sysfs_cpufreq_range_comes_from_table_when_cpuinfo_is_missing)
{
	char *root = make_root();

	put(root, "online", "0\n");
	put(root, "cpu0/cpufreq/scaling_available_frequencies",
	    "800000 400000\n");
	CHECK_EQ(load_sysfs(root), 0);
	CHECK_EQ(topo.cpu[0].min_khz, 400000);
	CHECK_EQ(topo.cpu[0].max_khz, 800000);
	rm_root(root);
}

TEST(sysfs_unknown_cluster_id_falls_back_to_package_then_zero)
{
	char *root = make_root();

	put(root, "online", "0-1,3\n");
	put(root, "cpu0/topology/cluster_id", "-1\n");
	put(root, "cpu0/topology/physical_package_id", "3\n");
	put(root, "cpu1/topology/cluster_id", "-1\n");
	put(root, "cpu1/topology/physical_package_id", "-1\n");
	put(root, "cpu3/topology/cluster_id", "5\n");

	CHECK_EQ(load_sysfs(root), 0);
	CHECK_EQ(topo.cpu[0].cluster, 3);
	CHECK_EQ(topo.cpu[1].cluster, 0);
	CHECK_EQ(topo.cpu[3].cluster, 5);
	rm_root(root);
}

TEST(sysfs_offline_gap_is_not_present_and_nr_cpus_follows_highest)
{
	char *root = make_root();

	put(root, "online", "0-1,3\n");
	CHECK_EQ(load_sysfs(root), 0);
	CHECK_EQ(topo.nr_cpus, 4);
	CHECK(topo.cpu[0].present);
	CHECK(topo.cpu[1].present);
	CHECK(!topo.cpu[2].present);
	CHECK(topo.cpu[3].present);
	rm_root(root);
}

TEST(sysfs_capacity_zero_or_above_1024_is_an_error_naming_the_cpu)
{
	char *root = make_root();

	put(root, "online", "0-3\n");
	put(root, "cpu3/cpu_capacity", "0\n");
	CHECK_EQ(load_sysfs(root), -ERANGE);
	CHECK(!strcmp(err, "cpu3: cpu_capacity 0 out of range 1..1024"));
	CHECK_EQ(topo.nr_cpus, 0);

	put(root, "cpu3/cpu_capacity", "1025\n");
	CHECK_EQ(load_sysfs(root), -ERANGE);
	CHECK(!strcmp(err, "cpu3: cpu_capacity 1025 out of range 1..1024"));

	put(root, "cpu3/cpu_capacity", "big\n");
	CHECK_EQ(load_sysfs(root), -EINVAL);
	CHECK(strstr(err, "cpu3: cpu_capacity 'big'"));
	rm_root(root);
}

TEST(sysfs_cpu_beyond_max_cpus_is_an_error)
{
	char *root = make_root();

	put(root, "online", "0,255-256\n");
	CHECK_EQ(load_sysfs(root), -ERANGE);
	CHECK(strstr(err, "cpu256"));
	rm_root(root);
}

TEST(sysfs_missing_or_bad_online_list_is_an_error)
{
	char *root = make_root();

	CHECK_EQ(load_sysfs(root), -ENOENT);
	CHECK(strstr(err, "/online"));
	put(root, "online", "3-1\n");
	CHECK_EQ(load_sysfs(root), -EINVAL);
	CHECK(strstr(err, "'3-1'"));
	put(root, "online", "\n");
	CHECK_EQ(load_sysfs(root), -EINVAL);
	rm_root(root);
}

/* ---- override --------------------------------------------------------- */

/* tests/unit/data/<name>, found next to this source file */
static const char *fixture(const char *name)
{
	static char path[PATH_MAX];
	const char *slash = strrchr(__FILE__, '/');

	if (slash)
		snprintf(path, sizeof(path), "%.*s/data/%s",
			 (int)(slash - __FILE__), __FILE__, name);
	else
		snprintf(path, sizeof(path), "data/%s", name);
	return path;
}

TEST(override_file_describes_big_little_and_ignores_sysfs)
{
	const char *path = fixture("biglittle.topology");
	int ret;

	ret = vf_topology_load(&topo, "/nonexistent", path, err, sizeof(err));
	CHECK_EQ(ret, 0);
	if (ret)
		fprintf(stderr, "    %s\n", err);
	CHECK(topo.from_override);
	CHECK(topo.has_cpufreq);
	CHECK_EQ(topo.nr_cpus, 4);
	CHECK(!vf_topology_symmetric(&topo));

	CHECK_EQ(topo.cpu[0].capacity, 512);
	CHECK_EQ(topo.cpu[0].min_khz, 300000);
	CHECK_EQ(topo.cpu[0].max_khz, 1800000);
	CHECK_EQ(topo.cpu[0].nr_freqs, 0);
	CHECK_EQ(topo.cpu[0].policy, 0);

	/* freqs alone sets the range from its ends */
	CHECK_EQ(topo.cpu[1].nr_freqs, 3);
	CHECK_EQ(topo.cpu[1].freqs_khz[1], 900000);
	CHECK_EQ(topo.cpu[1].min_khz, 300000);
	CHECK_EQ(topo.cpu[1].max_khz, 1800000);
	CHECK_EQ(topo.cpu[1].policy, 0);

	/* explicit policy, no frequency information */
	CHECK_EQ(topo.cpu[2].capacity, 1024);
	CHECK_EQ(topo.cpu[2].cluster, 1);
	CHECK_EQ(topo.cpu[2].policy, 2);
	CHECK_EQ(topo.cpu[2].max_khz, 0);

	/* keys in any order; default policy is the cluster's first CPU */
	CHECK_EQ(topo.cpu[3].capacity, 1024);
	CHECK_EQ(topo.cpu[3].policy, 2);
	CHECK_EQ(topo.cpu[3].max_khz, 2400000);
}

TEST(override_default_policy_is_lowest_cpu_of_cluster_wherever_listed)
{
	char path[PATH_MAX];

	CHECK_EQ(load_override_text(
		"cpu 5 capacity 800 cluster 2 freq 100-200\n"
		"cpu 4 capacity 800 cluster 2\n"
		"cpu 6 capacity 300\n",
		path, sizeof(path)), 0);
	CHECK_EQ(topo.nr_cpus, 7);
	CHECK(!topo.cpu[3].present);
	CHECK_EQ(topo.cpu[5].policy, 4);
	/* no frequency information: no policy */
	CHECK_EQ(topo.cpu[4].policy, -1);
	CHECK_EQ(topo.cpu[6].policy, -1);
	CHECK_EQ(topo.cpu[6].cluster, 0);
	CHECK(topo.has_cpufreq);
}

TEST(override_without_frequencies_has_no_cpufreq)
{
	char path[PATH_MAX];

	CHECK_EQ(load_override_text("cpu 0 capacity 1024\ncpu 1 capacity 1024\n",
				    path, sizeof(path)), 0);
	CHECK(!topo.has_cpufreq);
	CHECK(vf_topology_symmetric(&topo));
}

TEST(override_unknown_key_is_an_error_naming_the_line)
{
	expect_override_error("# two comments\n\n"
			      "cpu 0 capacity 512 foo 1\n",
			      -EINVAL,
			      "override %s:3: unknown key 'foo'");
}

TEST(override_duplicate_cpu_is_an_error_naming_both_lines)
{
	expect_override_error("cpu 0 capacity 512\n"
			      "cpu 1 capacity 512\n"
			      "cpu 0 capacity 1024\n",
			      -EINVAL,
			      "override %s:3: cpu 0 already described on line 1");
}

TEST(override_capacity_zero_is_out_of_range)
{
	expect_override_error("cpu 0 capacity 512\ncpu 1 capacity 0\n",
			      -ERANGE,
			      "override %s:2: capacity 0 out of range 1..1024");
}

TEST(override_capacity_1025_is_out_of_range)
{
	expect_override_error("cpu 0 capacity 1025\n", -ERANGE,
			      "override %s:1: capacity 1025 out of range 1..1024");
}

TEST(override_unsorted_freqs_is_an_error)
{
	expect_override_error("cpu 0 capacity 512 freqs 300000,900000,600000\n",
			      -EINVAL,
			      "override %s:1: freqs: 600000 after 900000, not strictly ascending");
	expect_override_error("cpu 0 capacity 512 freqs 300000,300000\n",
			      -EINVAL,
			      "override %s:1: freqs: 300000 after 300000, not strictly ascending");
}

TEST(override_power_gives_one_figure_per_frequency)
{
	char path[PATH_MAX];

	CHECK_EQ(load_override_text("cpu 0 capacity 512 freqs 300000,900000 power 10,40\n"
				    "cpu 1 capacity 1024 freqs 500000,1000000\n",
				    path, sizeof(path)), 0);
	CHECK_EQ(topo.cpu[0].nr_power, 2);
	CHECK_EQ(topo.cpu[0].power[0], 10);
	CHECK_EQ(topo.cpu[0].power[1], 40);
	CHECK_EQ(topo.cpu[1].nr_power, 0);	/* none: no energy preference */
}

TEST(override_power_not_matching_freqs_is_an_error)
{
	expect_override_error("cpu 0 capacity 512 freqs 300000,900000 power 10\n",
			      -EINVAL,
			      "override %s:1: power: 1 entries for 2 freqs (one per frequency)");
	expect_override_error("cpu 0 capacity 512 power 10\n", -EINVAL,
			      "override %s:1: power: 1 entries for 0 freqs (one per frequency)");
	expect_override_error("cpu 0 capacity 512 freqs 300000 power 0\n", -ERANGE,
			      "override %s:1: power 0 out of range 1..4294967295");
}

TEST(override_missing_capacity_is_an_error)
{
	expect_override_error("cpu 0 capacity 512\n"
			      "cpu 1 cluster 1 freq 1-2\n",
			      -EINVAL,
			      "override %s:2: missing capacity");
}

TEST(override_empty_file_describes_no_cpu)
{
	expect_override_error("", -EINVAL, "override %s: no cpu described");
	expect_override_error("# only a comment\n\n",
			      -EINVAL,
			      "override %s: no cpu described");
}

TEST(override_malformed_values_are_errors_naming_the_line)
{
	expect_override_error("cpu 0 capacity 512 freq 2000-1000\n",
			      -EINVAL,
			      "override %s:1: freq 2000-1000: MIN above MAX");
	expect_override_error("cpu 0 capacity 512 freq 1000\n",
			      -EINVAL,
			      "override %s:1: freq '1000' is not MIN-MAX");
	expect_override_error("cpu 0 capacity 512 freqs 1,,2\n",
			      -EINVAL,
			      "override %s:1: freqs: '' is not a decimal number");
	expect_override_error("cpu 0 capacity 512 cluster\n",
			      -EINVAL,
			      "override %s:1: 'cluster' without a value");
	expect_override_error("cpu 0 capacity 512 capacity 512\n",
			      -EINVAL,
			      "override %s:1: 'capacity' given twice");
	expect_override_error("cpu x capacity 512\n",
			      -EINVAL,
			      "override %s:1: cpu: 'x' is not a decimal number");
	expect_override_error("core 0 capacity 512\n",
			      -EINVAL,
			      "override %s:1: expected 'cpu N', got 'core'");
	expect_override_error("cpu 0 capacity +512\n",
			      -EINVAL,
			      "override %s:1: capacity: '+512' is not a decimal number");
	expect_override_error("cpu 0 capacity 512 freq 0-100\n",
			      -ERANGE,
			      "override %s:1: freq 0 out of range 1..4294967295");
	expect_override_error("cpu 0 capacity 512 freq 100-200 freqs 100,300\n",
			      -EINVAL,
			      "override %s:1: freqs 100..300 outside freq 100-200");
	expect_override_error("cpu 256 capacity 512\n", -ERANGE,
			      "override %s:1: cpu 256 out of range 0..255");
}

TEST(override_missing_file_is_an_error)
{
	CHECK_EQ(vf_topology_load(&topo, NULL, "/nonexistent/topology", err,
				  sizeof(err)), -ENOENT);
	CHECK(strstr(err, "/nonexistent/topology"));
}

/* ---- fitting ---------------------------------------------------------- */

static void make_topology(const unsigned int *caps, int n)
{
	int cpu;

	memset(&topo, 0, sizeof(topo));
	for (cpu = 0; cpu < n; cpu++) {
		topo.cpu[cpu].present = true;
		topo.cpu[cpu].capacity = caps[cpu];
		topo.cpu[cpu].policy = -1;
	}
	topo.nr_cpus = n;
}

static const unsigned int two_little_two_big[] = { 512, 512, 1024, 1024 };

/* vf_fit_cpus() as a bit mask of CPUs 0..31, for compact checks */
static unsigned int fit_mask(unsigned int perf, int *count)
{
	unsigned int mask = 0;
	cpu_set_t set;
	int cpu;

	*count = vf_fit_cpus(&topo, perf, &set);
	for (cpu = 0; cpu < 32; cpu++)
		if (CPU_ISSET(cpu, &set))
			mask |= 1u << cpu;
	CHECK_EQ(CPU_COUNT(&set), *count);
	return mask;
}

TEST(fit_cpus_any_cpu_fits_a_low_request)
{
	unsigned int perfs[] = { 0, 100, 512 };
	int n;

	make_topology(two_little_two_big, 4);
	for (unsigned int i = 0; i < 3; i++) {
		CHECK_EQ(fit_mask(perfs[i], &n), 0xf);
		CHECK_EQ(n, 4);
	}
}

TEST(fit_cpus_picks_big_cores_for_a_high_request)
{
	unsigned int perfs[] = { 513, 900, 1024 };
	int n;

	make_topology(two_little_two_big, 4);
	for (unsigned int i = 0; i < 3; i++) {
		CHECK_EQ(fit_mask(perfs[i], &n), 0xc);
		CHECK_EQ(n, 2);
	}
}

TEST(fit_cpus_falls_back_to_the_biggest_when_nothing_fits)
{
	static const unsigned int all_little[] = { 512, 512, 512, 512 };
	static const unsigned int mid[] = { 256, 768, 512, 768, 0 };
	int n;

	make_topology(all_little, 4);
	CHECK_EQ(fit_mask(900, &n), 0xf);
	CHECK_EQ(n, 4);

	make_topology(mid, 5);
	topo.cpu[4].present = false;	/* a hole must stay out of the set */
	CHECK_EQ(fit_mask(1000, &n), 0xa);
	CHECK_EQ(n, 2);
}

TEST(fit_cpus_skips_cpus_that_are_not_present)
{
	int n;

	make_topology(two_little_two_big, 4);
	topo.cpu[3].present = false;
	CHECK_EQ(fit_mask(600, &n), 0x4);
	CHECK_EQ(n, 1);
	CHECK_EQ(vf_topology_max_capacity(&topo), 1024);
}

/* ---- perf -> kHz ------------------------------------------------------ */

TEST(perf_to_khz_without_table_scales_max_and_rounds_up)
{
	struct vf_cpu big = { .present = true, .capacity = 1024,
			      .min_khz = 300000, .max_khz = 2000000 };
	struct vf_cpu little = { .present = true, .capacity = 512,
				 .min_khz = 300000, .max_khz = 1800000 };

	CHECK_EQ(vf_perf_to_khz(&big, 512), 1000000);
	CHECK_EQ(vf_perf_to_khz(&big, 1024), 2000000);
	/* 2000000 * 1 / 1024 is below the minimum */
	CHECK_EQ(vf_perf_to_khz(&big, 1), 300000);
	CHECK_EQ(vf_perf_to_khz(&big, 0), 300000);
	CHECK_EQ(vf_perf_to_khz(&little, 256), 900000);
	/* 1800000 * 100 / 512 = 351562.5: round up, never under-deliver */
	CHECK_EQ(vf_perf_to_khz(&little, 100), 351563);
	/* more than the CPU can do: its maximum */
	CHECK_EQ(vf_perf_to_khz(&little, 513), 1800000);
	CHECK_EQ(vf_perf_to_khz(&little, 1024), 1800000);
}

TEST(perf_to_khz_with_table_rounds_up_to_an_entry)
{
	struct vf_cpu c = { .present = true, .capacity = 512,
			    .min_khz = 300000, .max_khz = 1800000,
			    .nr_freqs = 3,
			    .freqs_khz = { 300000, 900000, 1800000 } };

	CHECK_EQ(vf_perf_to_khz(&c, 0), 300000);
	CHECK_EQ(vf_perf_to_khz(&c, 85), 300000);	/* 298829 */
	CHECK_EQ(vf_perf_to_khz(&c, 100), 900000);	/* 351563 */
	CHECK_EQ(vf_perf_to_khz(&c, 256), 900000);	/* exactly */
	CHECK_EQ(vf_perf_to_khz(&c, 257), 1800000);
	CHECK_EQ(vf_perf_to_khz(&c, 1024), 1800000);
}

TEST(perf_to_khz_clamps_table_entries_to_the_range)
{
	/* a boost entry above cpuinfo_max_freq is never asked for */
	struct vf_cpu c = { .present = true, .capacity = 1024,
			    .min_khz = 400000, .max_khz = 2000000,
			    .nr_freqs = 3,
			    .freqs_khz = { 200000, 1000000, 2200000 } };

	CHECK_EQ(vf_perf_to_khz(&c, 0), 400000);
	CHECK_EQ(vf_perf_to_khz(&c, 1024), 2000000);
	CHECK_EQ(vf_perf_to_khz(&c, 600), 2000000);
}

TEST(perf_to_khz_uses_64bit_math)
{
	struct vf_cpu c = { .present = true, .capacity = 1024,
			    .max_khz = 4000000000u };

	/* 4e9 * 1023 overflows 32 bits */
	CHECK_EQ(vf_perf_to_khz(&c, 1023), 3996093750u);
}

TEST(perf_to_khz_without_frequency_information_is_zero)
{
	struct vf_cpu c = { .present = true, .capacity = 1024, .policy = -1 };

	CHECK_EQ(vf_perf_to_khz(&c, 0), 0);
	CHECK_EQ(vf_perf_to_khz(&c, 512), 0);
	CHECK_EQ(vf_perf_to_khz(&c, 1024), 0);
}

/* ---- vf_parse_perf ---------------------------------------------------- */

TEST(parse_perf_accepts_0_to_1024)
{
	unsigned int perf = 77;

	CHECK_EQ(vf_parse_perf("0", &perf), 0);
	CHECK_EQ(perf, 0);
	CHECK_EQ(vf_parse_perf("1024", &perf), 0);
	CHECK_EQ(perf, 1024);
	CHECK_EQ(vf_parse_perf("0512", &perf), 0);
	CHECK_EQ(perf, 512);
}

TEST(parse_perf_rejects_values_above_1024_with_erange)
{
	unsigned int perf = 77;

	CHECK_EQ(vf_parse_perf("1025", &perf), -ERANGE);
	CHECK_EQ(vf_parse_perf("99999999999999999999", &perf), -ERANGE);
	CHECK_EQ(vf_parse_perf("18446744073709551616", &perf), -ERANGE);
	CHECK_EQ(perf, 77);
}

TEST(parse_perf_rejects_non_numbers_with_einval)
{
	static const char *const bad[] = {
		"", "abc", "12x", "-1", " 5", "5 ", "+5", "0x10", "5\n",
		"99999999999999999999x",
	};
	unsigned int perf = 77;

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (vf_parse_perf(bad[i], &perf) != -EINVAL) {
			fprintf(stderr, "    '%s' not rejected with -EINVAL\n",
				bad[i]);
			unit_failures++;
		}
	}
	CHECK_EQ(vf_parse_perf(NULL, &perf), -EINVAL);
	CHECK_EQ(perf, 77);
}

RUN_TESTS(
	CASE(sysfs_symmetric_host_without_cpufreq_is_all_1024),
	CASE(sysfs_big_little_reads_capacity_cluster_and_policy_links),
	CASE(sysfs_energy_model_gives_power_per_frequency_or_none),
	CASE(sysfs_unsorted_frequency_table_is_sorted_deduplicated_without_zeros),
	CASE(sysfs_table_longer_than_perftbl_max_keeps_lowest_and_highest),
	CASE(sysfs_cpufreq_directory_without_link_is_named_after_the_cpu),
	CASE(sysfs_cpufreq_range_comes_from_table_when_cpuinfo_is_missing),
	CASE(sysfs_unknown_cluster_id_falls_back_to_package_then_zero),
	CASE(sysfs_offline_gap_is_not_present_and_nr_cpus_follows_highest),
	CASE(sysfs_capacity_zero_or_above_1024_is_an_error_naming_the_cpu),
	CASE(sysfs_cpu_beyond_max_cpus_is_an_error),
	CASE(sysfs_missing_or_bad_online_list_is_an_error),
	CASE(override_file_describes_big_little_and_ignores_sysfs),
	CASE(override_default_policy_is_lowest_cpu_of_cluster_wherever_listed),
	CASE(override_without_frequencies_has_no_cpufreq),
	CASE(override_unknown_key_is_an_error_naming_the_line),
	CASE(override_duplicate_cpu_is_an_error_naming_both_lines),
	CASE(override_capacity_zero_is_out_of_range),
	CASE(override_capacity_1025_is_out_of_range),
	CASE(override_unsorted_freqs_is_an_error),
	CASE(override_power_gives_one_figure_per_frequency),
	CASE(override_power_not_matching_freqs_is_an_error),
	CASE(override_missing_capacity_is_an_error),
	CASE(override_empty_file_describes_no_cpu),
	CASE(override_malformed_values_are_errors_naming_the_line),
	CASE(override_missing_file_is_an_error),
	CASE(fit_cpus_any_cpu_fits_a_low_request),
	CASE(fit_cpus_picks_big_cores_for_a_high_request),
	CASE(fit_cpus_falls_back_to_the_biggest_when_nothing_fits),
	CASE(fit_cpus_skips_cpus_that_are_not_present),
	CASE(perf_to_khz_without_table_scales_max_and_rounds_up),
	CASE(perf_to_khz_with_table_rounds_up_to_an_entry),
	CASE(perf_to_khz_clamps_table_entries_to_the_range),
	CASE(perf_to_khz_uses_64bit_math),
	CASE(perf_to_khz_without_frequency_information_is_zero),
	CASE(parse_perf_accepts_0_to_1024),
	CASE(parse_perf_rejects_values_above_1024_with_erange),
	CASE(parse_perf_rejects_non_numbers_with_einval),
)
