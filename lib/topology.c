// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Host CPU topology: per-CPU capacity, cluster and cpufreq data, read from
 * sysfs or from an override file, plus the perf <-> CPU/frequency mapping
 * the backends use.
 *
 * sysfs (under /sys/devices/system/cpu unless told otherwise):
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
 *
 * Override file format (for hosts whose sysfs is symmetric or wrong, and
 * for tests that need a big.LITTLE host on any machine):
 *
 *   # comment lines and blank lines are ignored
 *   cpu 0 capacity 512 cluster 0 freq 300000-1800000
 *   cpu 1 capacity 512 cluster 0 freqs 300000,900000,1800000
 *   cpu 2 capacity 1024 cluster 1 policy 2
 *
 * One line per CPU: "cpu N" first, then key/value pairs in any order,
 * separated by blanks.  Numbers are plain decimal.
 *
 *   capacity C     required, 1..1024
 *   cluster K      default 0
 *   policy P       cpufreq policy number, 0..VCPUFREQ_MAX_CPUS-1; default
 *                  -1 without frequency information, otherwise the lowest
 *                  CPU described in the same cluster (the kernel names a
 *                  policy after its first CPU)
 *   freq MIN-MAX   kHz, 0 < MIN <= MAX
 *   freqs a,b,...  kHz table, strictly ascending, nonzero, 1..64 entries;
 *                  without "freq" it also sets MIN and MAX to its first
 *                  and last entry, with "freq" it must lie within them
 *
 * A CPU described twice, a key given twice, an unknown key, a missing
 * capacity, a bad number or a file describing no CPU is an error naming
 * the file and line.  Only the override file is read when one is given.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "topology.h"
#include "cpulist.h"
#include "util.h"

/* sysfs attributes are at most a page; anything longer is not sysfs */
#define SYSFS_BUF	4096

struct loader {
	struct vf_topology *t;
	const char *src;	/* sysfs dir or override path, for messages */
	char *err;
	size_t err_len;
	/* override only */
	unsigned int line;
	unsigned int cpu_line[VCPUFREQ_MAX_CPUS];	/* 0: not described */
	bool policy_given[VCPUFREQ_MAX_CPUS];
};

#define fail(ld, ret, ...) vf_err((ld)->err, (ld)->err_len, ret, __VA_ARGS__)

int vf_parse_perf(const char *s, unsigned int *perf)
{
	unsigned long long v;
	int ret = vf_parse_uint(s, VCPUFREQ_PERF_MAX, &v);

	if (!ret)
		*perf = (unsigned int)v;
	return ret;
}

/* ---- sysfs ------------------------------------------------------------ */

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
static int read_cpu_attr(struct loader *ld, int cpu, const char *attr,
			 char *path, char *buf, size_t size)
{
	int ret;

	ret = build_path(path, PATH_MAX, "%s/cpu%d/%s", ld->src, cpu, attr);
	return ret ? ret : read_attr(path, buf, size);
}

static int read_online(struct loader *ld)
{
	char path[PATH_MAX], buf[SYSFS_BUF], why[256];
	cpu_set_t online;
	int cpu, ret;

	ret = build_path(path, sizeof(path), "%s/online", ld->src);
	if (ret)
		return fail(ld, ret, "%s: path too long", ld->src);
	ret = read_attr(path, buf, sizeof(buf));
	if (ret)
		return fail(ld, ret, "%s: %s", path, strerror(-ret));
	if (!buf[0])
		return fail(ld, -EINVAL, "%s: no online CPUs", path);
	ret = vf_parse_cpulist(buf, strlen(buf), &online, why, sizeof(why));
	if (ret < 0)
		return fail(ld, ret, "%s: %s", path, why);
	for (cpu = 0; cpu < VCPUFREQ_MAX_CPUS; cpu++)
		if (CPU_ISSET(cpu, &online))
			ld->t->cpu[cpu].present = true;
	return 0;
}

static int read_capacity(struct loader *ld, int cpu)
{
	char path[PATH_MAX], buf[SYSFS_BUF];
	unsigned long long v;
	int ret;

	ret = read_cpu_attr(ld, cpu, "cpu_capacity", path, buf, sizeof(buf));
	if (ret == -ENOENT) {
		/* no capacity file: a symmetric host, every CPU is the biggest */
		ld->t->cpu[cpu].capacity = VCPUFREQ_PERF_MAX;
		return 0;
	}
	if (ret)
		return fail(ld, ret, "cpu%d: %s: %s", cpu, path, strerror(-ret));
	ret = vf_parse_uint(buf, UINT_MAX, &v);
	if (ret == -EINVAL)
		return fail(ld, ret, "cpu%d: cpu_capacity '%s' is not a number",
			    cpu, buf);
	if (ret || v < 1 || v > VCPUFREQ_PERF_MAX)
		return fail(ld, -ERANGE,
			    "cpu%d: cpu_capacity %s out of range 1..%d",
			    cpu, buf, VCPUFREQ_PERF_MAX);
	ld->t->cpu[cpu].capacity = (unsigned int)v;
	return 0;
}

/*
 * A topology id, or -ENOENT when the attribute is missing or -1 (the
 * kernel's "not known", e.g. cluster_id on hosts without clusters).
 */
static int read_topology_id(struct loader *ld, int cpu, const char *attr,
			    int *id)
{
	char path[PATH_MAX], buf[SYSFS_BUF];
	unsigned long long v;
	int ret;

	ret = read_cpu_attr(ld, cpu, attr, path, buf, sizeof(buf));
	if (ret == -ENOENT)
		return ret;
	if (ret)
		return fail(ld, ret, "cpu%d: %s: %s", cpu, path, strerror(-ret));
	if (!strcmp(buf, "-1"))
		return -ENOENT;
	if (vf_parse_uint(buf, INT_MAX, &v))
		return fail(ld, -EINVAL, "cpu%d: %s '%s' is not a valid id",
			    cpu, attr, buf);
	*id = (int)v;
	return 0;
}

static int read_cluster(struct loader *ld, int cpu)
{
	static const char *const attrs[] = {
		"topology/cluster_id",
		"topology/physical_package_id",
	};
	int *cluster = &ld->t->cpu[cpu].cluster;
	size_t i;
	int ret;

	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		ret = read_topology_id(ld, cpu, attrs[i], cluster);
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
static int read_policy_link(struct loader *ld, int cpu)
{
	char path[PATH_MAX], target[PATH_MAX];
	const char *base;
	ssize_t n;

	if (build_path(path, sizeof(path), "%s/cpu%d/cpufreq", ld->src, cpu))
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

static bool has_cpufreq_dir(struct loader *ld, int cpu)
{
	char path[PATH_MAX];
	struct stat st;

	if (build_path(path, sizeof(path), "%s/cpu%d/cpufreq", ld->src, cpu))
		return false;
	/* stat, not lstat: the kernel makes it a link to the policy */
	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

/* A frequency attribute in kHz; a missing one is 0, "unknown". */
static int read_khz(struct loader *ld, int cpu, const char *attr,
		    unsigned int *khz)
{
	char path[PATH_MAX], buf[SYSFS_BUF];
	unsigned long long v;
	int ret;

	ret = read_cpu_attr(ld, cpu, attr, path, buf, sizeof(buf));
	if (ret == -ENOENT) {
		*khz = 0;
		return 0;
	}
	if (ret)
		return fail(ld, ret, "cpu%d: %s: %s", cpu, path, strerror(-ret));
	ret = vf_parse_uint(buf, UINT_MAX, &v);
	if (ret)
		return fail(ld, ret, "cpu%d: %s '%s' is not a frequency in kHz",
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

static int read_freq_table(struct loader *ld, int cpu)
{
	/* each entry takes a digit and a blank: SYSFS_BUF / 2 always fits */
	unsigned int v[SYSFS_BUF / 2], n = 0;
	char path[PATH_MAX], buf[SYSFS_BUF];
	unsigned long long khz;
	char *tok, *save;
	int ret;

	ret = read_cpu_attr(ld, cpu, "cpufreq/scaling_available_frequencies",
			    path, buf, sizeof(buf));
	if (ret == -ENOENT)
		return 0;	/* drivers like intel_pstate have no table */
	if (ret)
		return fail(ld, ret, "cpu%d: %s: %s", cpu, path, strerror(-ret));

	for (tok = strtok_r(buf, " \t\n", &save); tok;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		if (vf_parse_uint(tok, UINT_MAX, &khz))
			return fail(ld, -EINVAL,
				    "cpu%d: scaling_available_frequencies: bad entry '%s'",
				    cpu, tok);
		if (khz)
			v[n++] = (unsigned int)khz;
	}
	store_table(&ld->t->cpu[cpu], v, sort_unique(v, n));
	return 0;
}

static int read_cpufreq(struct loader *ld, int cpu)
{
	struct vf_cpu *c = &ld->t->cpu[cpu];
	int ret;

	c->policy = -1;
	if (!has_cpufreq_dir(ld, cpu))
		return 0;
	c->policy = read_policy_link(ld, cpu);
	if (c->policy < 0)
		c->policy = cpu;

	ret = read_khz(ld, cpu, "cpufreq/cpuinfo_min_freq", &c->min_khz);
	if (!ret)
		ret = read_khz(ld, cpu, "cpufreq/cpuinfo_max_freq", &c->max_khz);
	if (!ret)
		ret = read_freq_table(ld, cpu);
	if (ret)
		return ret;

	if (c->nr_freqs && !c->min_khz)
		c->min_khz = c->freqs_khz[0];
	if (c->nr_freqs && !c->max_khz)
		c->max_khz = c->freqs_khz[c->nr_freqs - 1];
	return 0;
}

static int load_sysfs_cpu(struct loader *ld, int cpu)
{
	int ret;

	ret = read_capacity(ld, cpu);
	if (!ret)
		ret = read_cluster(ld, cpu);
	if (!ret)
		ret = read_cpufreq(ld, cpu);
	return ret;
}

static int load_sysfs(struct loader *ld)
{
	struct vf_topology *t = ld->t;
	int cpu, ret;

	ret = read_online(ld);
	if (ret)
		return ret;
	for (cpu = 0; cpu < VCPUFREQ_MAX_CPUS; cpu++) {
		if (!t->cpu[cpu].present)
			continue;
		ret = load_sysfs_cpu(ld, cpu);
		if (ret)
			return ret;
		t->nr_cpus = cpu + 1;
		if (t->cpu[cpu].policy >= 0)
			t->has_cpufreq = true;
	}
	return 0;
}

/* ---- override file ---------------------------------------------------- */

#define OVR_BLANKS	" \t\r\n"

struct ovr_cpu {
	struct vf_cpu c;
	unsigned int seen;	/* bit per ovr_keys[] entry */
};

#define ovr_fail(ld, ret, fmt, ...)					\
	fail(ld, ret, "override %s:%u: " fmt, (ld)->src, (ld)->line,	\
	     ##__VA_ARGS__)

static int ovr_number(struct loader *ld, const char *key, const char *s,
		      size_t n, unsigned long long lo, unsigned long long hi,
		      unsigned long long *val)
{
	int ret = vf_parse_dec(s, n, hi, val);

	if (ret == -EINVAL)
		return ovr_fail(ld, ret, "%s: '%.*s' is not a decimal number",
				key, (int)n, s);
	if (ret || *val < lo)
		return ovr_fail(ld, -ERANGE, "%s %.*s out of range %llu..%llu",
				key, (int)n, s, lo, hi);
	return 0;
}

static int ovr_capacity(struct loader *ld, struct ovr_cpu *oc, const char *val)
{
	unsigned long long v;
	int ret;

	ret = ovr_number(ld, "capacity", val, strlen(val), 1,
			 VCPUFREQ_PERF_MAX, &v);
	if (!ret)
		oc->c.capacity = (unsigned int)v;
	return ret;
}

static int ovr_cluster(struct loader *ld, struct ovr_cpu *oc, const char *val)
{
	unsigned long long v;
	int ret;

	ret = ovr_number(ld, "cluster", val, strlen(val), 0, INT_MAX, &v);
	if (!ret)
		oc->c.cluster = (int)v;
	return ret;
}

static int ovr_policy(struct loader *ld, struct ovr_cpu *oc, const char *val)
{
	unsigned long long v;
	int ret;

	ret = ovr_number(ld, "policy", val, strlen(val), 0,
			 VCPUFREQ_MAX_CPUS - 1, &v);
	if (!ret)
		oc->c.policy = (int)v;
	return ret;
}

static int ovr_freq(struct loader *ld, struct ovr_cpu *oc, const char *val)
{
	const char *dash = strchr(val, '-');
	unsigned long long lo, hi;
	int ret;

	if (!dash)
		return ovr_fail(ld, -EINVAL, "freq '%s' is not MIN-MAX", val);
	ret = ovr_number(ld, "freq", val, (size_t)(dash - val), 1, UINT_MAX,
			 &lo);
	if (!ret)
		ret = ovr_number(ld, "freq", dash + 1, strlen(dash + 1), 1,
				 UINT_MAX, &hi);
	if (ret)
		return ret;
	if (lo > hi)
		return ovr_fail(ld, -EINVAL, "freq %s: MIN above MAX", val);
	oc->c.min_khz = (unsigned int)lo;
	oc->c.max_khz = (unsigned int)hi;
	return 0;
}

static int ovr_freqs(struct loader *ld, struct ovr_cpu *oc, const char *val)
{
	struct vf_cpu *c = &oc->c;
	unsigned long long khz;
	const char *s, *comma;
	size_t n;
	int ret;

	for (s = val; ; s = comma + 1) {
		comma = strchr(s, ',');
		n = comma ? (size_t)(comma - s) : strlen(s);
		if (c->nr_freqs == VCPUFREQ_PERFTBL_MAX)
			return ovr_fail(ld, -E2BIG, "freqs: more than %d entries",
					VCPUFREQ_PERFTBL_MAX);
		ret = ovr_number(ld, "freqs", s, n, 1, UINT_MAX, &khz);
		if (ret)
			return ret;
		/* a table is written in order; disorder is a typo, not data */
		if (c->nr_freqs && khz <= c->freqs_khz[c->nr_freqs - 1])
			return ovr_fail(ld, -EINVAL,
					"freqs: %llu after %u, not strictly ascending",
					khz, c->freqs_khz[c->nr_freqs - 1]);
		c->freqs_khz[c->nr_freqs++] = (unsigned int)khz;
		if (!comma)
			return 0;
	}
}

enum { KEY_CAPACITY, KEY_CLUSTER, KEY_POLICY, KEY_FREQ, KEY_FREQS, NR_OVR_KEYS };

static const struct ovr_key {
	const char *name;
	int (*parse)(struct loader *ld, struct ovr_cpu *oc, const char *val);
} ovr_keys[NR_OVR_KEYS] = {
	[KEY_CAPACITY]	= { "capacity",	ovr_capacity },
	[KEY_CLUSTER]	= { "cluster",	ovr_cluster },
	[KEY_POLICY]	= { "policy",	ovr_policy },
	[KEY_FREQ]	= { "freq",	ovr_freq },
	[KEY_FREQS]	= { "freqs",	ovr_freqs },
};

#define SEEN(k)		(1u << (k))

static int ovr_key_value(struct loader *ld, struct ovr_cpu *oc,
			 const char *key, const char *val)
{
	int k;

	for (k = 0; k < NR_OVR_KEYS; k++)
		if (!strcmp(key, ovr_keys[k].name))
			break;
	if (k == NR_OVR_KEYS)
		return ovr_fail(ld, -EINVAL, "unknown key '%s'", key);
	if (oc->seen & SEEN(k))
		return ovr_fail(ld, -EINVAL, "'%s' given twice", key);
	if (!val)
		return ovr_fail(ld, -EINVAL, "'%s' without a value", key);
	oc->seen |= SEEN(k);
	return ovr_keys[k].parse(ld, oc, val);
}

/* Everything the keys cannot check one at a time. */
static int ovr_check_cpu(struct loader *ld, struct ovr_cpu *oc)
{
	struct vf_cpu *c = &oc->c;

	if (!(oc->seen & SEEN(KEY_CAPACITY)))
		return ovr_fail(ld, -EINVAL, "missing capacity");
	if (!c->nr_freqs)
		return 0;
	if (!(oc->seen & SEEN(KEY_FREQ))) {
		c->min_khz = c->freqs_khz[0];
		c->max_khz = c->freqs_khz[c->nr_freqs - 1];
		return 0;
	}
	if (c->freqs_khz[0] < c->min_khz ||
	    c->freqs_khz[c->nr_freqs - 1] > c->max_khz)
		return ovr_fail(ld, -EINVAL,
				"freqs %u..%u outside freq %u-%u",
				c->freqs_khz[0], c->freqs_khz[c->nr_freqs - 1],
				c->min_khz, c->max_khz);
	return 0;
}

/* The N of "cpu N", or a negative errno. */
static int ovr_cpu_number(struct loader *ld, char **save)
{
	char *tok = strtok_r(NULL, OVR_BLANKS, save);
	unsigned long long v;
	int ret;

	if (!tok)
		return ovr_fail(ld, -EINVAL, "'cpu' without a number");
	ret = ovr_number(ld, "cpu", tok, strlen(tok), 0,
			 VCPUFREQ_MAX_CPUS - 1, &v);
	if (ret)
		return ret;
	if (ld->cpu_line[v])
		return ovr_fail(ld, -EINVAL, "cpu %llu already described on line %u",
				v, ld->cpu_line[v]);
	return (int)v;
}

static int ovr_line(struct loader *ld, char *line)
{
	struct ovr_cpu oc = { .c = { .present = true, .policy = -1 } };
	char *save, *tok, *key;
	int cpu, ret;

	tok = strtok_r(line, OVR_BLANKS, &save);
	if (!tok || tok[0] == '#')
		return 0;
	if (strcmp(tok, "cpu"))
		return ovr_fail(ld, -EINVAL, "expected 'cpu N', got '%s'", tok);
	cpu = ovr_cpu_number(ld, &save);
	if (cpu < 0)
		return cpu;

	while ((key = strtok_r(NULL, OVR_BLANKS, &save))) {
		ret = ovr_key_value(ld, &oc, key,
				    strtok_r(NULL, OVR_BLANKS, &save));
		if (ret)
			return ret;
	}
	ret = ovr_check_cpu(ld, &oc);
	if (ret)
		return ret;

	ld->t->cpu[cpu] = oc.c;
	ld->cpu_line[cpu] = ld->line;
	ld->policy_given[cpu] = oc.seen & SEEN(KEY_POLICY);
	return 0;
}

static int first_cpu_of_cluster(const struct vf_topology *t, int cluster)
{
	int cpu;

	for (cpu = 0; cpu < VCPUFREQ_MAX_CPUS; cpu++)
		if (t->cpu[cpu].present && t->cpu[cpu].cluster == cluster)
			return cpu;
	return -1;	/* not reached: the asking CPU is in the cluster */
}

/* Defaults that depend on other lines, once the whole file is read. */
static int ovr_finish(struct loader *ld)
{
	struct vf_topology *t = ld->t;
	struct vf_cpu *c;
	int cpu;

	for (cpu = 0; cpu < VCPUFREQ_MAX_CPUS; cpu++) {
		c = &t->cpu[cpu];
		if (!c->present)
			continue;
		t->nr_cpus = cpu + 1;
		if (c->max_khz)
			t->has_cpufreq = true;
		if (!ld->policy_given[cpu])
			c->policy = c->max_khz ?
				    first_cpu_of_cluster(t, c->cluster) : -1;
	}
	if (!t->nr_cpus)
		return fail(ld, -EINVAL, "override %s: no cpu described",
			    ld->src);
	t->from_override = true;
	return 0;
}

static int load_override(struct loader *ld)
{
	size_t cap = 0;
	char *line = NULL;
	FILE *f;
	int ret = 0;

	f = fopen(ld->src, "re");
	if (!f) {
		ret = -errno;
		return fail(ld, ret, "override %s: %s", ld->src,
			    strerror(-ret));
	}
	while (!ret && getline(&line, &cap, f) >= 0) {
		ld->line++;
		ret = ovr_line(ld, line);
	}
	if (!ret && ferror(f))
		ret = fail(ld, -EIO, "override %s: read error", ld->src);
	free(line);
	fclose(f);
	return ret ? ret : ovr_finish(ld);
}

/* ---- API -------------------------------------------------------------- */

int vf_topology_load(struct vf_topology *t, const char *sysfs_cpu_dir,
		     const char *override_path, char *err, size_t err_len)
{
	struct loader ld = { .t = t, .err = err, .err_len = err_len };
	int ret;

	memset(t, 0, sizeof(*t));
	if (override_path) {
		ld.src = override_path;
		ret = load_override(&ld);
	} else {
		ld.src = sysfs_cpu_dir ? sysfs_cpu_dir : VF_SYSFS_CPU_DIR;
		ret = load_sysfs(&ld);
	}
	/* never hand back half a topology */
	if (ret)
		memset(t, 0, sizeof(*t));
	return ret;
}

bool vf_topology_symmetric(const struct vf_topology *t)
{
	unsigned int cap = 0;
	int cpu;

	for (cpu = 0; cpu < t->nr_cpus; cpu++) {
		if (!t->cpu[cpu].present)
			continue;
		if (cap && t->cpu[cpu].capacity != cap)
			return false;
		cap = t->cpu[cpu].capacity;
	}
	return true;
}

unsigned int vf_topology_max_capacity(const struct vf_topology *t)
{
	unsigned int max = 0;
	int cpu;

	for (cpu = 0; cpu < t->nr_cpus; cpu++)
		if (t->cpu[cpu].present && t->cpu[cpu].capacity > max)
			max = t->cpu[cpu].capacity;
	return max;
}

static int add_cpus_with(const struct vf_topology *t, unsigned int min_cap,
			 cpu_set_t *set)
{
	int cpu, n = 0;

	for (cpu = 0; cpu < t->nr_cpus; cpu++) {
		if (!t->cpu[cpu].present || t->cpu[cpu].capacity < min_cap)
			continue;
		CPU_SET(cpu, set);
		n++;
	}
	return n;
}

int vf_fit_cpus(const struct vf_topology *t, unsigned int perf,
		cpu_set_t *set)
{
	int n;

	CPU_ZERO(set);
	n = add_cpus_with(t, perf, set);
	/* nothing is big enough: the biggest CPUs come closest */
	if (!n)
		n = add_cpus_with(t, vf_topology_max_capacity(t), set);
	return n;
}

/* Smallest table entry at or above @khz, else the top of the table. */
static unsigned long long table_round_up(const struct vf_cpu *c,
					 unsigned long long khz)
{
	unsigned int i, n = c->nr_freqs;

	if (n > VCPUFREQ_PERFTBL_MAX)
		n = VCPUFREQ_PERFTBL_MAX;
	for (i = 0; i < n; i++)
		if (c->freqs_khz[i] >= khz)
			return c->freqs_khz[i];
	return c->freqs_khz[n - 1];
}

unsigned int vf_perf_to_khz(const struct vf_cpu *cpu, unsigned int perf)
{
	unsigned long long khz;

	if (!cpu->max_khz)
		return 0;
	/* capacity is what the CPU delivers at max_khz: scale linearly */
	if (!cpu->capacity || perf >= cpu->capacity)
		khz = cpu->max_khz;
	else
		khz = ((unsigned long long)cpu->max_khz * perf +
		       cpu->capacity - 1) / cpu->capacity;
	if (cpu->nr_freqs)
		khz = table_round_up(cpu, khz);
	if (khz < cpu->min_khz)
		khz = cpu->min_khz;
	if (khz > cpu->max_khz)
		khz = cpu->max_khz;
	return (unsigned int)khz;
}
