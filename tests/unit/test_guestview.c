// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * lib/guestview.c: the per-vCPU view of the host topology (vf_vcpu_view),
 * capacity-dmips-mhz, cpulists, and the guest devicetree source -- checked
 * as text and, when dtc is installed, compiled and read back with fdtget.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "topology.h"
#include "guestview.h"
#include "vcpufreq/regmodel.h"
#include "unit.h"

/* A vf_topology is ~70 KiB: one shared instance, reloaded by each case. */
static struct vf_topology topo;
static char err[256];
static char tmpdir[32];

/* cpu0,1 little (cluster 0), cpu2,3 big (cluster 1), both with tables */
static const char *const BIG_LITTLE =
	"# little\n"
	"cpu 0 capacity 512 cluster 0 freqs 300000,900000,1800000\n"
	"cpu 1 capacity 512 cluster 0 freqs 300000,900000,1800000\n"
	"# big\n"
	"cpu 2 capacity 1024 cluster 1 freqs 500000,1500000,2400000\n"
	"cpu 3 capacity 1024 cluster 1 freqs 500000,1500000,2400000\n";

static const char *tmp_path(const char *name)
{
	static char path[PATH_MAX];

	if (!tmpdir[0]) {
		strcpy(tmpdir, "/tmp/vf-guest-XXXXXX");
		if (!mkdtemp(tmpdir)) {
			perror("mkdtemp");
			exit(2);
		}
	}
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f)) {
		perror(path);
		exit(2);
	}
}

/* Load @text as the override file; fails the case when it does not load. */
static int load(const char *text)
{
	const char *path = tmp_path("topology");
	int ret;

	write_file(path, text);
	err[0] = '\0';
	ret = vf_topology_load(&topo, "/nonexistent", path, err, sizeof(err));
	if (ret)
		fprintf(stderr, "    override: %s\n", err);
	unlink(path);
	return ret;
}

static cpu_set_t cpus(const char *list)
{
	cpu_set_t set;

	CHECK(vf_parse_cpulist(list, strlen(list), &set, err, sizeof(err)) > 0);
	return set;
}

static void check_table(const struct vcpufreq_vcpu_config *v,
			const uint32_t *want, unsigned int n)
{
	CHECK_EQ(v->nr_perf, n);
	for (unsigned int i = 0; i < n && i < v->nr_perf; i++)
		CHECK_EQ(v->perf[i], want[i]);
	for (unsigned int i = n; i < 64; i++)
		CHECK_EQ(v->perf[i], 0);
}

/* ---- vf_vcpu_view ------------------------------------------------------ */

TEST(view_of_a_little_cpu_is_its_capacity_table_and_cluster)
{
	static const uint32_t little[] = { 300000, 900000, 1800000 };
	struct vcpufreq_vcpu_config v;
	cpu_set_t set;

	CHECK_EQ(load(BIG_LITTLE), 0);
	set = cpus("0-1");
	memset(&v, 0xa5, sizeof(v));
	CHECK_EQ(vf_vcpu_view(&topo, &set, &v), 0);
	CHECK_EQ(v.tid, 0);
	CHECK_EQ(v.capacity, 512);
	CHECK_EQ(v.perf_domain, 0);
	check_table(&v, little, 3);
}

TEST(view_of_a_mixed_affinity_is_the_biggest_cpu)
{
	static const uint32_t big[] = { 500000, 1500000, 2400000 };
	struct vcpufreq_vcpu_config v;
	cpu_set_t set;

	CHECK_EQ(load(BIG_LITTLE), 0);
	set = cpus("0,3");
	CHECK_EQ(vf_vcpu_view(&topo, &set, &v), 0);
	CHECK_EQ(v.capacity, 1024);
	CHECK_EQ(v.perf_domain, 1);
	check_table(&v, big, 3);
}

TEST(view_tie_between_equal_capacities_takes_the_lowest_cpu)
{
	struct vcpufreq_vcpu_config v;
	cpu_set_t set;

	CHECK_EQ(load("cpu 4 capacity 800 cluster 7 freqs 100000,200000\n"
		      "cpu 5 capacity 800 cluster 3 freqs 150000,250000\n"), 0);
	set = cpus("4-5");
	CHECK_EQ(vf_vcpu_view(&topo, &set, &v), 0);
	CHECK_EQ(v.capacity, 800);
	CHECK_EQ(v.perf_domain, 7);
	CHECK_EQ(v.nr_perf, 2);
	CHECK_EQ(v.perf[1], 200000);
}

TEST(view_without_a_table_is_continuous_up_to_max_khz)
{
	struct vcpufreq_vcpu_config v;
	cpu_set_t set;

	CHECK_EQ(load("cpu 0 capacity 600 cluster 2 freq 400000-2000000\n"
		      "cpu 1 capacity 700 cluster 3 freqs 1500000\n"), 0);
	set = cpus("0");
	CHECK_EQ(vf_vcpu_view(&topo, &set, &v), 0);
	CHECK_EQ(v.capacity, 600);
	CHECK_EQ(v.perf_domain, 2);
	check_table(&v, (const uint32_t[]){ 2000000 }, 1);

	/* a one-entry table is no table: continuous up to that entry */
	set = cpus("1");
	CHECK_EQ(vf_vcpu_view(&topo, &set, &v), 0);
	CHECK_EQ(v.capacity, 700);
	check_table(&v, (const uint32_t[]){ 1500000 }, 1);
}

TEST(view_without_frequency_information_is_the_capacity)
{
	struct vcpufreq_vcpu_config v;
	cpu_set_t set;

	CHECK_EQ(load("cpu 0 capacity 300 cluster 1\n"
		      "cpu 1 capacity 1024 cluster 0\n"), 0);
	set = cpus("0");
	CHECK_EQ(vf_vcpu_view(&topo, &set, &v), 0);
	CHECK_EQ(v.capacity, 300);
	CHECK_EQ(v.perf_domain, 1);
	check_table(&v, (const uint32_t[]){ 300 }, 1);
	set = cpus("0-1");
	CHECK_EQ(vf_vcpu_view(&topo, &set, &v), 0);
	check_table(&v, (const uint32_t[]){ 1024 }, 1);
}

TEST(view_of_an_affinity_without_present_cpus_is_einval)
{
	struct vcpufreq_vcpu_config v;
	cpu_set_t set;

	CHECK_EQ(load(BIG_LITTLE), 0);
	CPU_ZERO(&set);
	CHECK_EQ(vf_vcpu_view(&topo, &set, &v), -EINVAL);
	/* CPUs the host does not have do not count */
	set = cpus("4-9,200");
	CHECK_EQ(vf_vcpu_view(&topo, &set, &v), -EINVAL);
	/* ... and are ignored next to one it has */
	set = cpus("1,5");
	CHECK_EQ(vf_vcpu_view(&topo, &set, &v), 0);
	CHECK_EQ(v.capacity, 512);
	CHECK_EQ(vf_vcpu_view(NULL, &set, &v), -EINVAL);
	CHECK_EQ(vf_vcpu_view(&topo, NULL, &v), -EINVAL);
	CHECK_EQ(vf_vcpu_view(&topo, &set, NULL), -EINVAL);
}

TEST(view_of_a_64_entry_table_keeps_all_entries)
{
	char text[2048];
	size_t off;
	struct vcpufreq_vcpu_config v;
	cpu_set_t set;

	off = (size_t)snprintf(text, sizeof(text), "cpu 0 capacity 1024 freqs ");
	for (int i = 1; i <= 64; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, "%s%d",
					i > 1 ? "," : "", i * 50000);
	snprintf(text + off, sizeof(text) - off, "\n");
	CHECK_EQ(load(text), 0);
	set = cpus("0");
	CHECK_EQ(vf_vcpu_view(&topo, &set, &v), 0);
	CHECK_EQ(v.nr_perf, 64);
	CHECK_EQ(v.perf[0], 50000);
	CHECK_EQ(v.perf[63], 3200000);
}

/* ---- capacity-dmips-mhz ------------------------------------------------ */

/* What arch_topology makes of dmips * cpufreq max, normalized to 1024. */
static void guest_capacities(const struct vcpufreq_vcpu_config *v,
			     const uint32_t *dmips, unsigned int n,
			     unsigned int *cap)
{
	unsigned long long c, max = 1;

	for (unsigned int i = 0; i < n; i++) {
		c = (unsigned long long)dmips[i] * v[i].perf[v[i].nr_perf - 1];
		if (c > max)
			max = c;
	}
	for (unsigned int i = 0; i < n; i++)
		cap[i] = (unsigned int)(((unsigned long long)dmips[i] *
					 v[i].perf[v[i].nr_perf - 1] << 10) / max);
}

TEST(dmips_gives_the_guest_the_host_capacities)
{
	struct vcpufreq_vcpu_config v[3];
	uint32_t dmips[3];
	unsigned int cap[3];
	cpu_set_t set;

	CHECK_EQ(load(BIG_LITTLE), 0);
	set = cpus("0");
	CHECK_EQ(vf_vcpu_view(&topo, &set, &v[0]), 0);
	set = cpus("2");
	CHECK_EQ(vf_vcpu_view(&topo, &set, &v[1]), 0);
	set = cpus("1");
	CHECK_EQ(vf_vcpu_view(&topo, &set, &v[2]), 0);
	vf_guest_dmips(v, 3, dmips);
	/* 512/1.8 GHz against 1024/2.4 GHz: 1024 * 0.5 * 2.4 / 1.8 */
	CHECK_EQ(dmips[0], 683);
	CHECK_EQ(dmips[1], 1024);
	CHECK_EQ(dmips[2], 683);
	guest_capacities(v, dmips, 3, cap);
	CHECK_EQ(cap[0], 512);
	CHECK_EQ(cap[1], 1024);
}

TEST(dmips_for_continuous_and_unitless_views)
{
	struct vcpufreq_vcpu_config v[2];
	uint32_t dmips[2];
	unsigned int cap[2];
	cpu_set_t set;

	/* unitless: perf is the capacity, so the ratio is 1 everywhere */
	CHECK_EQ(load("cpu 0 capacity 300\ncpu 1 capacity 1024\n"), 0);
	set = cpus("0");
	CHECK_EQ(vf_vcpu_view(&topo, &set, &v[0]), 0);
	set = cpus("1");
	CHECK_EQ(vf_vcpu_view(&topo, &set, &v[1]), 0);
	vf_guest_dmips(v, 2, dmips);
	CHECK_EQ(dmips[0], 1024);
	CHECK_EQ(dmips[1], 1024);
	guest_capacities(v, dmips, 2, cap);
	CHECK_EQ(cap[0], 300);
	CHECK_EQ(cap[1], 1024);

	/* continuous: a slow little CPU may have the larger ratio */
	CHECK_EQ(load("cpu 0 capacity 400 freq 100000-500000\n"
		      "cpu 1 capacity 1024 freq 200000-3000000\n"), 0);
	set = cpus("0");
	CHECK_EQ(vf_vcpu_view(&topo, &set, &v[0]), 0);
	set = cpus("1");
	CHECK_EQ(vf_vcpu_view(&topo, &set, &v[1]), 0);
	vf_guest_dmips(v, 2, dmips);
	CHECK_EQ(dmips[0], 1024);
	CHECK_EQ(dmips[1], 437);	/* 1024 * (1024/3.0) / (400/0.5) */
	guest_capacities(v, dmips, 2, cap);
	CHECK(cap[0] >= 399 && cap[0] <= 401);
	CHECK_EQ(cap[1], 1024);
}

/* ---- cpulists ---------------------------------------------------------- */

TEST(cpulist_parses_ranges_and_singles)
{
	cpu_set_t set;

	CHECK_EQ(vf_parse_cpulist("0-3,6", 5, &set, err, sizeof(err)), 5);
	CHECK(CPU_ISSET(0, &set) && CPU_ISSET(3, &set) && CPU_ISSET(6, &set));
	CHECK(!CPU_ISSET(4, &set) && !CPU_ISSET(5, &set));
	CHECK_EQ(vf_parse_cpulist("255", 3, &set, err, sizeof(err)), 1);
	CHECK(CPU_ISSET(255, &set));
	CHECK_EQ(vf_parse_cpulist("2-2,2", 5, &set, err, sizeof(err)), 1);
	/* only @len bytes count: the ';' list of the CLI */
	CHECK_EQ(vf_parse_cpulist("1;2-3", 1, &set, err, sizeof(err)), 1);
	CHECK(CPU_ISSET(1, &set) && !CPU_ISSET(2, &set));
}

TEST(cpulist_rejects_bad_syntax_and_out_of_range_cpus)
{
	static const char *const bad[] = {
		"", "a", "1,,2", "3-1", "1-", "-1", " 1", "1 ", "0x1", "1;2", ",",
	};
	cpu_set_t set;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (vf_parse_cpulist(bad[i], strlen(bad[i]), &set, err,
				     sizeof(err)) != -EINVAL) {
			fprintf(stderr, "    '%s' accepted\n", bad[i]);
			unit_failures++;
		}
		CHECK(err[0]);
	}
	CHECK_EQ(vf_parse_cpulist("256", 3, &set, err, sizeof(err)), -ERANGE);
	CHECK(strstr(err, "255"));
	CHECK_EQ(vf_parse_cpulist("0-99999999999999999999", 22, &set, err,
				  sizeof(err)), -ERANGE);
}

/* ---- the devicetree ---------------------------------------------------- */

/* The source for @n vCPUs, in a malloc'd string (NULL on error). */
static char *dts(unsigned int n, const cpu_set_t *aff, uint64_t base, int *ret)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		perror("open_memstream");
		exit(2);
	}
	err[0] = '\0';
	*ret = vf_write_guest_dts(f, &topo, n, aff, base, err, sizeof(err));
	fclose(f);
	if (*ret) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int count(const char *s, const char *needle)
{
	int n = 0;

	for (; (s = strstr(s, needle)); s += strlen(needle))
		n++;
	return n;
}

#define CHECK_HAS(text, needle)						\
	do {								\
		if (!strstr((text), (needle))) {			\
			fprintf(stderr, "    %s:%d: no '%s' in the dts\n",\
				__FILE__, __LINE__, (needle));		\
			unit_failures++;				\
		}							\
	} while (0)

/* the CLI's "0;1;2-3;0-3" */
static void big_little_affinity(cpu_set_t *aff)
{
	aff[0] = cpus("0");
	aff[1] = cpus("1");
	aff[2] = cpus("2-3");
	aff[3] = cpus("0-3");
}

TEST(dts_big_little_has_cpus_map_opp_tables_and_device)
{
	cpu_set_t aff[4];
	char *s;
	int ret;

	CHECK_EQ(load(BIG_LITTLE), 0);
	big_little_affinity(aff);
	s = dts(4, aff, VF_GUEST_DT_BASE, &ret);
	CHECK_EQ(ret, 0);
	if (!s)
		return;
	CHECK(!strncmp(s, "/dts-v1/;\n", 10));
	CHECK_HAS(s, "\t#address-cells = <2>;\n\t#size-cells = <2>;\n");
	CHECK_HAS(s, "\tcpus {\n\t\t#address-cells = <1>;\n\t\t#size-cells = <0>;\n");
	CHECK_EQ(count(s, ": cpu@"), 4);
	CHECK_HAS(s, "cpu0: cpu@0 {");
	CHECK_HAS(s, "cpu3: cpu@3 {");
	CHECK_EQ(count(s, "device_type = \"cpu\";"), 4);
	CHECK_EQ(count(s, "compatible = \"arm,armv8\";"), 4);
	CHECK_HAS(s, "reg = <0x3>;");
	/* little 512 @ 1.8 GHz, big 1024 @ 2.4 GHz */
	CHECK_EQ(count(s, "capacity-dmips-mhz = <683>;"), 2);
	CHECK_EQ(count(s, "capacity-dmips-mhz = <1024>;"), 2);
	CHECK_HAS(s, "operating-points-v2 = <&opp_table0>;");
	CHECK_HAS(s, "operating-points-v2 = <&opp_table3>;");
	CHECK_HAS(s, "affinity 0-3: capacity 1024, 3 frequencies 500000-2400000 kHz, perf domain 1");
	/* clusters by perf domain */
	CHECK_HAS(s,
		  "\t\tcpu-map {\n"
		  "\t\t\tcluster0 {\n"
		  "\t\t\t\t/* perf domain 0 */\n"
		  "\t\t\t\tcore0 {\n\t\t\t\t\tcpu = <&cpu0>;\n\t\t\t\t};\n"
		  "\t\t\t\tcore1 {\n\t\t\t\t\tcpu = <&cpu1>;\n\t\t\t\t};\n"
		  "\t\t\t};\n\n"
		  "\t\t\tcluster1 {\n"
		  "\t\t\t\t/* perf domain 1 */\n"
		  "\t\t\t\tcore0 {\n\t\t\t\t\tcpu = <&cpu2>;\n\t\t\t\t};\n"
		  "\t\t\t\tcore1 {\n\t\t\t\t\tcpu = <&cpu3>;\n\t\t\t\t};\n"
		  "\t\t\t};\n"
		  "\t\t};\n");
	CHECK(!strstr(s, "cluster2"));
	/* one table per vCPU */
	CHECK_EQ(count(s, "compatible = \"operating-points-v2\";"), 4);
	CHECK_HAS(s, "opp_table0: opp-table-0 {");
	CHECK_HAS(s, "opp_table3: opp-table-3 {");
	CHECK_HAS(s, "\t\topp-300000000 {\n\t\t\topp-hz = /bits/ 64 <300000000>;\n\t\t};");
	CHECK_HAS(s, "opp-hz = /bits/ 64 <2400000000>;");
	CHECK_EQ(count(s, "opp-hz = "), 12);
	/* the device: 0x1000 per vCPU at crosvm's base */
	CHECK_HAS(s, "\tcpufreq@1040000 {\n\t\tcompatible = \"qemu,virtual-cpufreq\";\n");
	CHECK_HAS(s, "reg = <0x0 0x1040000 0x0 0x4000>;");
	CHECK(strstr(s, "};\n") && !strcmp(s + strlen(s) - 4, "\n};\n"));
	free(s);
}

TEST(dts_without_tables_has_no_opp_tables)
{
	cpu_set_t aff[2];
	char *s;
	int ret;

	CHECK_EQ(load("cpu 0 capacity 512 cluster 0 freq 300000-1800000\n"
		      "cpu 1 capacity 1024 cluster 1\n"), 0);
	aff[0] = cpus("0");
	aff[1] = cpus("1");
	s = dts(2, aff, VF_GUEST_DT_BASE, &ret);
	CHECK_EQ(ret, 0);
	if (!s)
		return;
	CHECK(!strstr(s, "operating-points-v2"));
	CHECK(!strstr(s, ": opp-table-"));
	CHECK(!strstr(s, "opp-hz"));
	CHECK_HAS(s, "continuous up to 1800000 kHz");
	CHECK_HAS(s, "continuous perf 1-1024 (no host frequency information)");
	CHECK_HAS(s, "reg = <0x0 0x1040000 0x0 0x2000>;");
	free(s);
}

TEST(dts_one_vcpu_default_affinity_sees_the_biggest_cpu)
{
	cpu_set_t aff[1];
	char *s;
	int ret;

	CHECK_EQ(load(BIG_LITTLE), 0);
	aff[0] = cpus("0-3");
	s = dts(1, aff, VF_GUEST_DT_BASE, &ret);
	CHECK_EQ(ret, 0);
	if (!s)
		return;
	CHECK_EQ(count(s, ": cpu@"), 1);
	CHECK_HAS(s, "capacity-dmips-mhz = <1024>;");
	CHECK_HAS(s, "/* perf domain 1 */");
	CHECK_HAS(s, "for 1 vCPU,");
	CHECK_HAS(s, "reg = <0x0 0x1040000 0x0 0x1000>;");
	free(s);
}

TEST(dts_clusters_are_numbered_by_ascending_perf_domain)
{
	cpu_set_t aff[3];
	char *s, *c0, *c1;
	int ret;

	CHECK_EQ(load("cpu 0 capacity 1024 cluster 5\n"
		      "cpu 1 capacity 512 cluster 2\n"), 0);
	aff[0] = cpus("0");
	aff[1] = cpus("1");
	aff[2] = cpus("1");
	s = dts(3, aff, VF_GUEST_DT_BASE, &ret);
	CHECK_EQ(ret, 0);
	if (!s)
		return;
	c0 = strstr(s, "cluster0 {\n\t\t\t\t/* perf domain 2 */\n"
		       "\t\t\t\tcore0 {\n\t\t\t\t\tcpu = <&cpu1>;\n\t\t\t\t};\n"
		       "\t\t\t\tcore1 {\n\t\t\t\t\tcpu = <&cpu2>;");
	c1 = strstr(s, "cluster1 {\n\t\t\t\t/* perf domain 5 */\n"
		       "\t\t\t\tcore0 {\n\t\t\t\t\tcpu = <&cpu0>;");
	CHECK(c0 && c1 && c0 < c1);
	free(s);
}

TEST(dts_reg_splits_a_64bit_base_and_cpu_reg_is_the_mpidr)
{
	cpu_set_t aff[20];
	char *s;
	int ret;

	CHECK_EQ(load(BIG_LITTLE), 0);
	for (int i = 0; i < 20; i++)
		aff[i] = cpus("0-3");
	s = dts(20, aff, 0x900000000ULL, &ret);
	CHECK_EQ(ret, 0);
	if (!s)
		return;
	CHECK_HAS(s, "cpufreq@900000000 {");
	CHECK_HAS(s, "reg = <0x9 0x0 0x0 0x14000>;");
	/* KVM / QEMU virt: vCPU 16 is Aff1 1, Aff0 0; unit address = reg */
	CHECK_HAS(s, "cpu15: cpu@f {");
	CHECK_HAS(s, "reg = <0xf>;");
	CHECK_HAS(s, "cpu16: cpu@100 {");
	CHECK_HAS(s, "reg = <0x100>;");
	CHECK_HAS(s, "cpu19: cpu@103 {");
	CHECK_EQ(count(s, "enable-method = \"psci\";"), 20);
	free(s);
}

TEST(dts_refuses_bad_arguments_with_a_reason)
{
	cpu_set_t aff[3];
	int ret;

	CHECK_EQ(load(BIG_LITTLE), 0);
	aff[0] = cpus("0");
	aff[1] = cpus("7");	/* not a host CPU */
	aff[2] = cpus("1");
	CHECK(!dts(0, aff, VF_GUEST_DT_BASE, &ret));
	CHECK_EQ(ret, -EINVAL);
	CHECK(strstr(err, "1..1024"));
	CHECK(!dts(1025, aff, VF_GUEST_DT_BASE, &ret));
	CHECK_EQ(ret, -EINVAL);
	CHECK(!dts(1, aff, 0x1040800, &ret));
	CHECK_EQ(ret, -EINVAL);
	CHECK(strstr(err, "4 KiB"));
	CHECK(!dts(2, aff, 0xfffffffffffff000ULL, &ret));
	CHECK_EQ(ret, -EINVAL);
	CHECK(strstr(err, "address space"));
	CHECK(!dts(3, aff, VF_GUEST_DT_BASE, &ret));
	CHECK_EQ(ret, -EINVAL);
	CHECK(strstr(err, "vCPU 1"));
	CHECK_EQ(vf_write_guest_dts(stdout, &topo, 1, NULL, VF_GUEST_DT_BASE,
				    err, sizeof(err)), -EINVAL);
}

/* ---- dtc ---------------------------------------------------------------- */

static bool have_tool(const char *name)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	return system(cmd) == 0;
}

/* First line of a shell command's stdout, "" on failure. */
static const char *run_line(const char *cmd)
{
	static char line[512];
	FILE *p = popen(cmd, "r");

	line[0] = '\0';
	if (!p)
		return line;
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	pclose(p);
	line[strcspn(line, "\n")] = '\0';
	return line;
}

/*
 * Compile @src with dtc; it must succeed without a single warning.
 * Leaves the blob at tmp_path("t.dtb").
 */
static bool dtc_compiles(const char *src)
{
	char dts_path[PATH_MAX], dtb_path[PATH_MAX], log_path[PATH_MAX];
	char cmd[3 * PATH_MAX + 64];
	const char *warn;
	int rc;

	snprintf(dts_path, sizeof(dts_path), "%s", tmp_path("t.dts"));
	snprintf(dtb_path, sizeof(dtb_path), "%s", tmp_path("t.dtb"));
	snprintf(log_path, sizeof(log_path), "%s", tmp_path("dtc.log"));
	write_file(dts_path, src);
	snprintf(cmd, sizeof(cmd), "dtc -I dts -O dtb -o %s %s 2>%s",
		 dtb_path, dts_path, log_path);
	rc = system(cmd);
	snprintf(cmd, sizeof(cmd), "cat %s", log_path);
	warn = run_line(cmd);
	if (rc || warn[0]) {
		fprintf(stderr, "    dtc (exit %d): %s\n", rc, warn);
		return false;
	}
	return true;
}

/* fdtget of the compiled tree, in a buffer of its own */
static const char *fdtget(char *out, size_t len, const char *type,
			  const char *node, const char *prop)
{
	char cmd[PATH_MAX + 256];

	snprintf(cmd, sizeof(cmd), "fdtget -t %s %s '%s' '%s' 2>/dev/null",
		 type, tmp_path("t.dtb"), node, prop);
	snprintf(out, len, "%s", run_line(cmd));
	return out;
}

TEST(dts_compiles_with_dtc_and_reads_back)
{
	char a[512], b[512];
	cpu_set_t aff[4];
	char *s;
	int ret;

	if (!have_tool("dtc")) {
		printf("     (dtc not installed: skipped)\n");
		return;
	}
	CHECK_EQ(load(BIG_LITTLE), 0);
	big_little_affinity(aff);
	s = dts(4, aff, VF_GUEST_DT_BASE, &ret);
	CHECK_EQ(ret, 0);
	if (!s)
		return;
	CHECK(dtc_compiles(s));
	free(s);
	if (!have_tool("fdtget"))
		return;
	CHECK(!strcmp(fdtget(a, sizeof(a), "s", "/cpufreq@1040000",
			     "compatible"), "qemu,virtual-cpufreq"));
	/* 0x1040000 = 17039360, 0x4000 = 16384 */
	CHECK(!strcmp(fdtget(a, sizeof(a), "u", "/cpufreq@1040000", "reg"),
		      "0 17039360 0 16384"));
	CHECK(!strcmp(fdtget(a, sizeof(a), "u", "/cpus/cpu@0", "capacity-dmips-mhz"),
		      "683"));
	CHECK(!strcmp(fdtget(a, sizeof(a), "u", "/cpus/cpu@2", "capacity-dmips-mhz"),
		      "1024"));
	/* the phandle references resolve to the right nodes */
	fdtget(a, sizeof(a), "u", "/cpus/cpu@3", "operating-points-v2");
	fdtget(b, sizeof(b), "u", "/opp-table-3", "phandle");
	CHECK(a[0] && !strcmp(a, b));
	fdtget(a, sizeof(a), "u", "/cpus/cpu@1", "operating-points-v2");
	CHECK(a[0] && strcmp(a, b));
	fdtget(a, sizeof(a), "u", "/cpus/cpu-map/cluster1/core1", "cpu");
	fdtget(b, sizeof(b), "u", "/cpus/cpu@3", "phandle");
	CHECK(a[0] && !strcmp(a, b));
	/* opp-hz is 64 bits: two cells */
	CHECK(!strcmp(fdtget(a, sizeof(a), "u", "/opp-table-2/opp-2400000000",
			     "opp-hz"), "0 2400000000"));
}

TEST(dts_without_tables_and_with_1024_vcpus_compile_with_dtc)
{
	cpu_set_t *aff;
	char *s;
	int ret;

	if (!have_tool("dtc")) {
		printf("     (dtc not installed: skipped)\n");
		return;
	}
	CHECK_EQ(load("cpu 0 capacity 512 cluster 0 freq 300000-1800000\n"
		      "cpu 1 capacity 1024 cluster 1\n"), 0);
	aff = calloc(VCPUFREQ_DEV_MAX_VCPUS, sizeof(*aff));
	if (!aff)
		exit(2);
	aff[0] = cpus("0");
	aff[1] = cpus("1");
	s = dts(2, aff, VF_GUEST_DT_BASE, &ret);
	CHECK_EQ(ret, 0);
	CHECK(s && dtc_compiles(s));
	free(s);

	CHECK_EQ(load(BIG_LITTLE), 0);
	for (int i = 0; i < VCPUFREQ_DEV_MAX_VCPUS; i++)
		aff[i] = cpus(i % 2 ? "0-1" : "2-3");
	s = dts(VCPUFREQ_DEV_MAX_VCPUS, aff, VF_GUEST_DT_BASE, &ret);
	CHECK_EQ(ret, 0);
	if (s) {
		CHECK_HAS(s, "cpu1023: cpu@3f0f {");
		CHECK_HAS(s, "reg = <0x0 0x1040000 0x0 0x400000>;");
		CHECK(dtc_compiles(s));
	}
	free(s);
	free(aff);
}

TEST(cleanup_temporary_files)
{
	static const char *const names[] = { "t.dts", "t.dtb", "dtc.log" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(tmp_path(names[i]));
	CHECK_EQ(rmdir(tmpdir), 0);
}

RUN_TESTS(
	CASE(view_of_a_little_cpu_is_its_capacity_table_and_cluster),
	CASE(view_of_a_mixed_affinity_is_the_biggest_cpu),
	CASE(view_tie_between_equal_capacities_takes_the_lowest_cpu),
	CASE(view_without_a_table_is_continuous_up_to_max_khz),
	CASE(view_without_frequency_information_is_the_capacity),
	CASE(view_of_an_affinity_without_present_cpus_is_einval),
	CASE(view_of_a_64_entry_table_keeps_all_entries),
	CASE(dmips_gives_the_guest_the_host_capacities),
	CASE(dmips_for_continuous_and_unitless_views),
	CASE(cpulist_parses_ranges_and_singles),
	CASE(cpulist_rejects_bad_syntax_and_out_of_range_cpus),
	CASE(dts_big_little_has_cpus_map_opp_tables_and_device),
	CASE(dts_without_tables_has_no_opp_tables),
	CASE(dts_one_vcpu_default_affinity_sees_the_biggest_cpu),
	CASE(dts_clusters_are_numbered_by_ascending_perf_domain),
	CASE(dts_reg_splits_a_64bit_base_and_cpu_reg_is_the_mpidr),
	CASE(dts_refuses_bad_arguments_with_a_reason),
	CASE(dts_compiles_with_dtc_and_reads_back),
	CASE(dts_without_tables_and_with_1024_vcpus_compile_with_dtc),
	CASE(cleanup_temporary_files),
)
