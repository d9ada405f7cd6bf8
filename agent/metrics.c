// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The agent's counters and per-VM figures for a monitoring stack, in the
 * Prometheus text format (0.0.4), written for node_exporter's textfile
 * collector: no listening socket of our own, nothing to authenticate, the
 * agent keeps its RestrictAddressFamilies=AF_UNIX sandbox, and hosts that
 * run node_exporter are already scraped.
 *
 * A VM is the enrolled cgroup its vCPU threads are in (the nearest
 * enrolled ancestor: a libvirt domain's scope, a pod): labels name
 * cgroups the admin enrolled, never threads, so the series are bounded by
 * the enrolled cgroups (at most MAX_VMS, the rest counted as left out).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include "agent.h"
#include "base.h"
#include "metrics.h"

#define MAX_VMS		64
#define MAX_TIDS	4096	/* vCPU threads whose runtime we follow */
#define NR_LEVELS	5

/* the backend's applied request, in quarters of a CPU's capacity */
static const char *const level_names[NR_LEVELS] = {
	"0", "256", "512", "768", "1024",
};

struct vm {
	char cgroup[PATH_MAX];	/* relative to the mount */
	unsigned int vcpus;
	unsigned long long perf_sum;
	unsigned long long level_ns[NR_LEVELS];	/* grows while the VM lives */
	bool seen;
};

struct tid_runtime {
	__u32 tid;
	__u64 runtime_ns;	/* as of the last pass */
	bool seen;
};

static struct {
	char dir[PATH_MAX];
	int cgroups_fd;
	struct timespec last;
	unsigned long long ejections;
	unsigned int left_out;
	int nr_vms, nr_tids;
	struct vm vms[MAX_VMS];
	struct tid_runtime tids[MAX_TIDS];
} m = { .cgroups_fd = -1 };

int metrics_configure(const char *dir)
{
	struct stat st;
	char *real;

	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		return err("--metrics: '%s' is not a directory; give node_exporter's "
			   "textfile directory (Debian: /var/lib/prometheus/"
			   "node-exporter)", dir);
	if (access(dir, W_OK))
		return err("--metrics: cannot write in '%s': %s", dir,
			   strerror(errno));
	real = realpath(dir, NULL);	/* the agent may not keep our cwd */
	snprintf(m.dir, sizeof(m.dir), "%s", real ? real : dir);
	free(real);
	return 0;
}

static unsigned int level_of(__u32 perf)
{
	return perf ? (perf + 255) / 256 : 0;
}

/* the nearest enrolled cgroup of @path (cgroup ids are inode numbers) */
static bool enrolled_ancestor(char *path)
{
	struct vcpufreq_cgroup cg;
	char dir[PATH_MAX * 2];
	struct stat st;
	__u64 id;

	for (;;) {
		snprintf(dir, sizeof(dir), "%s%s", cgroup2_mount(), path);
		id = stat(dir, &st) ? 0 : st.st_ino;
		if (id && !bpf_map_lookup_elem(m.cgroups_fd, &id, &cg))
			return true;
		char *slash = strrchr(path, '/');
		if (!slash || slash == path)
			return false;
		*slash = 0;
	}
}

static struct vm *vm_of(const char *cgroup)
{
	for (int i = 0; i < m.nr_vms; i++)
		if (!strcmp(m.vms[i].cgroup, cgroup))
			return &m.vms[i];
	if (m.nr_vms == MAX_VMS) {
		m.left_out++;
		return NULL;
	}
	struct vm *vm = &m.vms[m.nr_vms++];
	memset(vm, 0, sizeof(*vm));
	snprintf(vm->cgroup, sizeof(vm->cgroup), "%s", cgroup);
	return vm;
}

/* on-CPU time of @tid since the last pass */
static __u64 runtime_delta(__u32 tid, __u64 runtime_ns)
{
	struct tid_runtime *t = NULL;
	__u64 delta;

	for (int i = 0; i < m.nr_tids && !t; i++)
		if (m.tids[i].tid == tid)
			t = &m.tids[i];
	if (!t) {
		if (m.nr_tids == MAX_TIDS)
			return 0;
		t = &m.tids[m.nr_tids++];
		*t = (struct tid_runtime){ .tid = tid, .runtime_ns = runtime_ns };
	}
	delta = runtime_ns > t->runtime_ns ? runtime_ns - t->runtime_ns : 0;
	t->runtime_ns = runtime_ns;
	t->seen = true;
	return delta;
}

static void count_vcpu(__u32 tid, const struct vcpufreq_vcpu *st,
		       int actions_fd, bool levels_known)
{
	struct vcpufreq_action a = { 0 };
	char cgroup[PATH_MAX];
	struct vm *vm;
	__u64 delta;

	if (!st->enrolled || thread_cgroup_path(tid, cgroup, sizeof(cgroup)) ||
	    !enrolled_ancestor(cgroup) || !(vm = vm_of(cgroup)))
		return;
	bpf_map_lookup_elem(actions_fd, &tid, &a);
	vm->seen = true;
	vm->vcpus++;
	vm->perf_sum += st->perf;
	delta = runtime_delta(tid, st->runtime_ns);
	if (levels_known)
		vm->level_ns[level_of(a.perf)] += delta;
}

/* drop what was not seen this pass: VMs that stopped, threads that exited */
static void forget_unseen(void)
{
	for (int i = m.nr_vms - 1; i >= 0; i--)
		if (!m.vms[i].seen)
			m.vms[i] = m.vms[--m.nr_vms];
	for (int i = m.nr_tids - 1; i >= 0; i--)
		if (!m.tids[i].seen)
			m.tids[i] = m.tids[--m.nr_tids];
}

static void collect_vms(const struct actuator *act, int requests_fd,
			int state_fd, int actions_fd)
{
	/* observe applies nothing: the host's level is not known */
	bool levels_known = act->backend != VCPUFREQ_BACKEND_OBSERVE;
	struct vcpufreq_vcpu st;
	__u32 key, *prev = NULL;

	for (int i = 0; i < m.nr_vms; i++) {
		m.vms[i].seen = false;
		m.vms[i].vcpus = 0;
		m.vms[i].perf_sum = 0;
	}
	for (int i = 0; i < m.nr_tids; i++)
		m.tids[i].seen = false;
	m.left_out = 0;
	while (!bpf_map_get_next_key(requests_fd, prev, &key)) {
		prev = &key;
		if (!read_vcpu_state(state_fd, key, &st))
			count_vcpu(key, &st, actions_fd, levels_known);
	}
	forget_unseen();
}

/* a label value: backslash, double quote and newline escaped */
static void put_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void family(FILE *f, const char *name, const char *type,
		   const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void write_counters(FILE *f, const struct vcpufreq_stats *s,
			   const struct actuator *act)
{
	__u64 other = s->broker_refused - s->broker_cross_vm - s->broker_quota;

	family(f, "vcpufreq_requests_total", "counter",
	       "Requests written for a thread, by what became of them.");
	fprintf(f, "vcpufreq_requests_total{result=\"accepted\"} %llu\n"
		"vcpufreq_requests_total{result=\"rejected_no_thread\"} %llu\n"
		"vcpufreq_requests_total{result=\"rejected_not_enrolled\"} %llu\n",
		s->accepted, s->rejected_no_thread, s->rejected_not_enrolled);
	family(f, "vcpufreq_requests_dropped_total", "counter",
	       "Requests deleted by their VMM, a thread's exit or the kernel.");
	fprintf(f, "vcpufreq_requests_dropped_total %llu\n", s->dropped);
	family(f, "vcpufreq_agent_applies_total", "counter",
	       "Requests the agent handed to its backend.");
	fprintf(f, "vcpufreq_agent_applies_total %llu\n", s->agent_applies);
	family(f, "vcpufreq_agent_coalesced_total", "counter",
	       "Changes a newer one of the same thread replaced before they were applied.");
	fprintf(f, "vcpufreq_agent_coalesced_total{path=\"retune\"} %llu\n"
		"vcpufreq_agent_coalesced_total{path=\"broker\"} %llu\n",
		s->retunes_coalesced, s->broker_coalesced);
	family(f, "vcpufreq_broker_refused_total", "counter",
	       "Broker operations refused, by cause.");
	fprintf(f, "vcpufreq_broker_refused_total{cause=\"cross_vm\"} %llu\n"
		"vcpufreq_broker_refused_total{cause=\"quota\"} %llu\n"
		"vcpufreq_broker_refused_total{cause=\"other\"} %llu\n",
		s->broker_cross_vm, s->broker_quota,
		s->broker_refused >= s->broker_cross_vm + s->broker_quota ? other : 0);
	family(f, "vcpufreq_broker_connections_refused_total", "counter",
	       "Broker connections refused: the user's share was used up.");
	fprintf(f, "vcpufreq_broker_connections_refused_total %llu\n",
		s->broker_conns_refused);
	family(f, "vcpufreq_broker_rate_limited_total", "counter",
	       "Broker applies deferred by the per-VM rate limit.");
	fprintf(f, "vcpufreq_broker_rate_limited_total %llu\n",
		s->broker_rate_limited);
	family(f, "vcpufreq_events_lost_total", "counter",
	       "Events lost to a full ring buffer (the agent then reconciles).");
	fprintf(f, "vcpufreq_events_lost_total %llu\n", s->events_lost);
	family(f, "vcpufreq_backend_info", "gauge",
	       "The backend in use (1).");
	fprintf(f, "vcpufreq_backend_info{backend=\"%s\"} 1\n", act->name);
	family(f, "vcpufreq_backend_ejections_total", "counter",
	       "Times the kernel ejected the sched_ext scheduler under this agent.");
	fprintf(f, "vcpufreq_backend_ejections_total %llu\n", m.ejections);
}

static void write_vms(FILE *f, const struct actuator *act)
{
	family(f, "vcpufreq_vm_vcpus", "gauge",
	       "vCPU threads with a request, per enrolled cgroup.");
	for (int i = 0; i < m.nr_vms; i++) {
		fputs("vcpufreq_vm_vcpus{cgroup=\"", f);
		put_label(f, m.vms[i].cgroup);
		fprintf(f, "\"} %u\n", m.vms[i].vcpus);
	}
	family(f, "vcpufreq_vm_request_mean", "gauge",
	       "Mean request of the VM's vCPUs (host capacity units, 0..1024).");
	for (int i = 0; i < m.nr_vms; i++) {
		fputs("vcpufreq_vm_request_mean{cgroup=\"", f);
		put_label(f, m.vms[i].cgroup);
		fprintf(f, "\"} %.1f\n", m.vms[i].vcpus ?
			(double)m.vms[i].perf_sum / m.vms[i].vcpus : 0.0);
	}
	family(f, "vcpufreq_vm_cpu_seconds_total", "counter",
	       "vCPU time on CPU by the level the backend applied (upper bound, capacity units; not under observe).");
	for (int i = 0; i < m.nr_vms && act->backend != VCPUFREQ_BACKEND_OBSERVE; i++)
		for (int l = 0; l < NR_LEVELS; l++) {
			fputs("vcpufreq_vm_cpu_seconds_total{cgroup=\"", f);
			put_label(f, m.vms[i].cgroup);
			fprintf(f, "\",level=\"%s\"} %.6f\n", level_names[l],
				m.vms[i].level_ns[l] / 1e9);
		}
	family(f, "vcpufreq_vms_left_out", "gauge",
	       "Enrolled cgroups beyond the per-host limit, not in the figures above.");
	fprintf(f, "vcpufreq_vms_left_out %u\n", m.left_out);
}

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", m.dir, name);
}

void metrics_pass(const struct vcpufreq_stats *stats,
		  const struct actuator *act, int requests_fd, int state_fd,
		  int actions_fd)
{
	char tmp[PATH_MAX + 32], file[PATH_MAX + 32];
	struct timespec now;
	FILE *f;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	if (!*m.dir || (m.last.tv_sec &&
			(now.tv_sec - m.last.tv_sec) * 1000 +
			(now.tv_nsec - m.last.tv_nsec) / 1000000 < METRICS_INTERVAL_MS))
		return;
	m.last = now;
	if (m.cgroups_fd < 0)
		m.cgroups_fd = open_pinned_map(VCPUFREQ_PIN_CGROUPS);
	if (m.cgroups_fd >= 0)
		collect_vms(act, requests_fd, state_fd, actions_fd);
	/* node_exporter reads *.prom only: the dot file is never half-read */
	path_of(tmp, sizeof(tmp), "." METRICS_FILE ".tmp");
	path_of(file, sizeof(file), METRICS_FILE);
	f = fopen(tmp, "we");
	if (!f) {
		agent_log("agent: metrics: cannot write %s: %s", tmp,
			  strerror(errno));
		return;
	}
	write_counters(f, stats, act);
	write_vms(f, act);
	if (fclose(f) || rename(tmp, file)) {
		agent_log("agent: metrics: cannot write %s: %s", file,
			  strerror(errno));
		unlink(tmp);
	}
}

void metrics_ejected(void)
{
	m.ejections++;
}

void metrics_stop(void)
{
	char file[PATH_MAX + 32];

	if (!*m.dir)
		return;
	path_of(file, sizeof(file), METRICS_FILE);
	unlink(file);
	if (m.cgroups_fd >= 0)
		close(m.cgroups_fd);
	m.cgroups_fd = -1;
}
