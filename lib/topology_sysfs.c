// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The host topology as the kernel describes it in sysfs (under
 * /sys/devices/system/cpu unless told otherwise):
 *
 *   online                          CPU list ("0-3,5"); only these count
 *   cpuN/cpu_capacity               1..1024; missing means 1024 (x86 and
 *                                   other symmetric hosts have no file)
 *   cpuN/topology/cluster_id        cluster; -1 or missing falls back to
 *   cpuN/topology/physical_package_id, then to 0
 *   cpuN/cpufreq -> ../cpufreq/policyP
 *                                   policy number P from the link target;
 *                                   a plain directory means policy N
 *   cpuN/cpufreq/cpuinfo_{min,max}_freq
 *   cpuN/cpufreq/scaling_available_frequencies
 *                                   kHz in any order; stored ascending,
 *                                   deduplicated, zeros dropped, thinned to
 *                                   VCPUFREQ_PERFTBL_MAX entries keeping
 *                                   the lowest and highest
 *
 * When cpuinfo_{min,max}_freq are missing but a table exists, the range is
 * taken from the table so that vf_perf_to_khz() still has a maximum.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "topology_read.h"
#include "cpulist.h"

/* sysfs attributes are at most a page; anything longer is not sysfs */
#define SYSFS_BUF	4096


static void strip_trailing_space(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
}

/*
 * Read a whole sysfs attribute into @buf, without its trailing newline.
 * -ENOENT tells the caller the attribute does not exist, which for most
 * attributes means "use the default", not "fail".
 */
static int read_attr(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	char extra;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return (int)n;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	/* a full buffer must also be the end of the file */
	if (len == size - 1 && read(fd, &extra, 1) > 0) {
		close(fd);
		return -EFBIG;
	}
	close(fd);
	buf[len] = '\0';
	strip_trailing_space(buf);
	return 0;
}

__attribute__((format(printf, 3, 4)))
static int build_path(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Read <dir>/cpuN/<attr>; the path is left in @path for messages. */
static int read_cpu_attr(struct topo_reader *rd, int cpu, const char *attr,
			 char *path, char *buf, size_t size)
{
	int ret;

	ret = build_path(path, PATH_MAX, "%s/cpu%d/%s", rd->src, cpu, attr);
	return ret ? ret : read_attr(path, buf, size);
}

static int read_online(struct topo_reader *rd)
{
	char path[PATH_MAX], buf[SYSFS_BUF], why[256];
	cpu_set_t online;
	int cpu, ret;

	ret = build_path(path, sizeof(path), "%s/online", rd->src);
	if (ret)
		return topo_fail(rd, ret, "%s: path too long", rd->src);
	ret = read_attr(path, buf, sizeof(buf));
	if (ret)
		return topo_fail(rd, ret, "%s: %s", path, strerror(-ret));
	if (!buf[0])
		return topo_fail(rd, -EINVAL, "%s: no online CPUs", path);
	ret = vf_parse_cpulist(buf, strlen(buf), &online, why, sizeof(why));
	if (ret < 0)
		return topo_fail(rd, ret, "%s: %s", path, why);
	for (cpu = 0; cpu < VCPUFREQ_MAX_CPUS; cpu++)
		if (CPU_ISSET(cpu, &online))
			rd->t->cpu[cpu].present = true;
	return 0;
}

static int read_capacity(struct topo_reader *rd, int cpu)
{
	char path[PATH_MAX], buf[SYSFS_BUF];
	unsigned long long v;
	int ret;

	ret = read_cpu_attr(rd, cpu, "cpu_capacity", path, buf, sizeof(buf));
	if (ret == -ENOENT) {
		/* no capacity file: a symmetric host, every CPU is the biggest */
		rd->t->cpu[cpu].capacity = VCPUFREQ_PERF_MAX;
		return 0;
	}
	if (ret)
		return topo_fail(rd, ret, "cpu%d: %s: %s", cpu, path,
				 strerror(-ret));
	ret = vf_parse_uint(buf, UINT_MAX, &v);
	if (ret == -EINVAL)
		return topo_fail(rd, ret,
				 "cpu%d: cpu_capacity '%s' is not a number",
				 cpu, buf);
	if (ret || v < 1 || v > VCPUFREQ_PERF_MAX)
		return topo_fail(rd, -ERANGE,
				 "cpu%d: cpu_capacity %s out of range 1..%d",
				 cpu, buf, VCPUFREQ_PERF_MAX);
	rd->t->cpu[cpu].capacity = (unsigned int)v;
	return 0;
}

/*
 * A topology id, or -ENOENT when the attribute is missing or -1 (the
 * kernel's "not known", e.g. cluster_id on hosts without clusters).
 */
static int read_topology_id(struct topo_reader *rd, int cpu, const char *attr,
			    int *id)
{
	char path[PATH_MAX], buf[SYSFS_BUF];
	unsigned long long v;
	int ret;

	ret = read_cpu_attr(rd, cpu, attr, path, buf, sizeof(buf));
	if (ret == -ENOENT)
		return ret;
	if (ret)
		return topo_fail(rd, ret, "cpu%d: %s: %s", cpu, path,
				 strerror(-ret));
	if (!strcmp(buf, "-1"))
		return -ENOENT;
	if (vf_parse_uint(buf, INT_MAX, &v))
		return topo_fail(rd, -EINVAL,
				 "cpu%d: %s '%s' is not a valid id",
				 cpu, attr, buf);
	*id = (int)v;
	return 0;
}

static int read_cluster(struct topo_reader *rd, int cpu)
{
	static const char *const attrs[] = {
		"topology/cluster_id",
		"topology/physical_package_id",
	};
	int *cluster = &rd->t->cpu[cpu].cluster;
	size_t i;
	int ret;

	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		ret = read_topology_id(rd, cpu, attrs[i], cluster);
		if (ret != -ENOENT)
			return ret;
	}
	*cluster = 0;
	return 0;
}

/* "policy7" -> 7; -1 for any other name */
static int policy_from_name(const char *name)
{
	unsigned long long v;

	if (strncmp(name, "policy", 6))
		return -1;
	if (vf_parse_uint(name + 6, VCPUFREQ_MAX_CPUS - 1, &v))
		return -1;
	return (int)v;
}

/*
 * The policy a CPU belongs to, from the cpuN/cpufreq -> ../cpufreq/policyP
 * link the kernel makes.  -1 when the name says nothing (a real directory,
 * an odd target); the caller then names the policy after the CPU.
 */
static int read_policy_link(struct topo_reader *rd, int cpu)
{
	char path[PATH_MAX], target[PATH_MAX];
	const char *base;
	ssize_t n;

	if (build_path(path, sizeof(path), "%s/cpu%d/cpufreq", rd->src, cpu))
		return -1;
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -1;
	target[n] = '\0';
	while (n > 1 && target[n - 1] == '/')
		target[--n] = '\0';
	base = strrchr(target, '/');
	return policy_from_name(base ? base + 1 : target);
}

static bool has_cpufreq_dir(struct topo_reader *rd, int cpu)
{
	char path[PATH_MAX];
	struct stat st;

	if (build_path(path, sizeof(path), "%s/cpu%d/cpufreq", rd->src, cpu))
		return false;
	/* stat, not lstat: the kernel makes it a link to the policy */
	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

/* A frequency attribute in kHz; a missing one is 0, "unknown". */
static int read_khz(struct topo_reader *rd, int cpu, const char *attr,
		    unsigned int *khz)
{
	char path[PATH_MAX], buf[SYSFS_BUF];
	unsigned long long v;
	int ret;

	ret = read_cpu_attr(rd, cpu, attr, path, buf, sizeof(buf));
	if (ret == -ENOENT) {
		*khz = 0;
		return 0;
	}
	if (ret)
		return topo_fail(rd, ret, "cpu%d: %s: %s", cpu, path,
				 strerror(-ret));
	ret = vf_parse_uint(buf, UINT_MAX, &v);
	if (ret)
		return topo_fail(rd, ret,
				 "cpu%d: %s '%s' is not a frequency in kHz",
				 cpu, attr, buf);
	*khz = (unsigned int)v;
	return 0;
}

static int cmp_uint(const void *a, const void *b)
{
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return x < y ? -1 : x > y;
}

static unsigned int sort_unique(unsigned int *v, unsigned int n)
{
	unsigned int i, out = 0;

	qsort(v, n, sizeof(*v), cmp_uint);
	for (i = 0; i < n; i++)
		if (!out || v[out - 1] != v[i])
			v[out++] = v[i];
	return out;
}

/*
 * More distinct frequencies than the guest's perf table holds: keep an
 * evenly spread subset that includes the lowest and highest entries, so
 * rounding a request up to a table entry still reaches every perf level
 * (just a little coarser) and never falls off the top.
 */
static void store_table(struct vf_cpu *c, const unsigned int *v, unsigned int n)
{
	unsigned int i, max = VCPUFREQ_PERFTBL_MAX;

	if (n <= max) {
		memcpy(c->freqs_khz, v, n * sizeof(*v));
		c->nr_freqs = n;
		return;
	}
	for (i = 0; i < max; i++)
		c->freqs_khz[i] = v[(unsigned long long)i * (n - 1) / (max - 1)];
	c->nr_freqs = max;
}

static int read_freq_table(struct topo_reader *rd, int cpu)
{
	/* each entry takes a digit and a blank: SYSFS_BUF / 2 always fits */
	unsigned int v[SYSFS_BUF / 2], n = 0;
	char path[PATH_MAX], buf[SYSFS_BUF];
	unsigned long long khz;
	char *tok, *save;
	int ret;

	ret = read_cpu_attr(rd, cpu, "cpufreq/scaling_available_frequencies",
			    path, buf, sizeof(buf));
	if (ret == -ENOENT)
		return 0;	/* drivers like intel_pstate have no table */
	if (ret)
		return topo_fail(rd, ret, "cpu%d: %s: %s", cpu, path,
				 strerror(-ret));

	for (tok = strtok_r(buf, " \t\n", &save); tok;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		if (vf_parse_uint(tok, UINT_MAX, &khz))
			return topo_fail(rd, -EINVAL,
					 "cpu%d: scaling_available_frequencies: bad entry '%s'",
					 cpu, tok);
		if (khz)
			v[n++] = (unsigned int)khz;
	}
	store_table(&rd->t->cpu[cpu], v, sort_unique(v, n));
	return 0;
}

static int read_cpufreq(struct topo_reader *rd, int cpu)
{
	struct vf_cpu *c = &rd->t->cpu[cpu];
	int ret;

	c->policy = -1;
	if (!has_cpufreq_dir(rd, cpu))
		return 0;
	c->policy = read_policy_link(rd, cpu);
	if (c->policy < 0)
		c->policy = cpu;

	ret = read_khz(rd, cpu, "cpufreq/cpuinfo_min_freq", &c->min_khz);
	if (!ret)
		ret = read_khz(rd, cpu, "cpufreq/cpuinfo_max_freq",
			       &c->max_khz);
	if (!ret)
		ret = read_freq_table(rd, cpu);
	if (ret)
		return ret;

	if (c->nr_freqs && !c->min_khz)
		c->min_khz = c->freqs_khz[0];
	if (c->nr_freqs && !c->max_khz)
		c->max_khz = c->freqs_khz[c->nr_freqs - 1];
	return 0;
}

static int load_sysfs_cpu(struct topo_reader *rd, int cpu)
{
	int ret;

	ret = read_capacity(rd, cpu);
	if (!ret)
		ret = read_cluster(rd, cpu);
	if (!ret)
		ret = read_cpufreq(rd, cpu);
	return ret;
}

int topo_read_sysfs(struct topo_reader *rd)
{
	struct vf_topology *t = rd->t;
	int cpu, ret;

	ret = read_online(rd);
	if (ret)
		return ret;
	for (cpu = 0; cpu < VCPUFREQ_MAX_CPUS; cpu++) {
		if (!t->cpu[cpu].present)
			continue;
		ret = load_sysfs_cpu(rd, cpu);
		if (ret)
			return ret;
		t->nr_cpus = cpu + 1;
		if (t->cpu[cpu].policy >= 0)
			t->has_cpufreq = true;
	}
	return 0;
}
