// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * request-storm: writes thousands of requests for real threads, the way a
 * VMM does, and checks that the latest request of every thread takes
 * effect; reports request -> effect latency (the live suite's test of
 * lost requests, and `make bench` section 2).
 *
 *   request-storm --path bpf|fast|broker --effect affinity|uclamp|state|applied
 *       [--target sleeping|running] [--threads N] [--requests N] [--flood]
 *       [--high PERF:CPUS] [--low PERF:CPUS] [--timeout-ms MS]
 *       [--warmup N] [--pin-dir DIR] [--cgroup DIR] [--user NAME] [-j]
 *
 * Paths: bpf = bpf_map_update_elem() of requests[TID] (bpftool, a VMM
 * without libvcpufreq); fast = libvcpufreq's mmapped slot; broker =
 * libvcpufreq as an unprivileged VMM (--user: privileges are dropped after
 * the maps the checks need are opened).  Effects: affinity (the thread's
 * mask is the level's CPUs), uclamp (its uclamp_min is the request: Linux
 * 6.8+), state (BPF took the request in: vcpu_state), applied (the agent
 * applied it: actions).  Targets: sleeping threads block until kicked
 * (a halted vCPU; the fast path is taken in when it wakes, so each fast
 * write kicks it), running ones spin.
 *
 * Without --flood, requests alternate high/low over the threads and each
 * waits for its effect (--timeout-ms, default 1000): a request that never
 * takes effect is counted lost (the storm stops at the third).  With --flood, each thread gets --requests
 * writes with no wait, then the last of each must take effect.  Exit 0
 * when nothing was lost.  The write alone into a private hash map of the
 * same shape, timed right before each request, is the baseline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include "vcpufreq/abi.h"
#include "vcpufreq/vcpufreq.h"
#include "tool.h"

#define MAX_THREADS 64
#define LOST_ENOUGH 3	/* a waited-for storm stops after this many lost */
#ifndef PIDFD_THREAD
#define PIDFD_THREAD	O_EXCL	/* a pidfd of a thread, Linux 6.9 */
#endif

enum path { PATH_BPF, PATH_FAST, PATH_BROKER };
enum effect { EFF_AFFINITY, EFF_UCLAMP, EFF_STATE, EFF_APPLIED };

struct level {
	__u32 perf;
	cpu_set_t cpus;
};

struct opts {
	enum path path;
	enum effect effect;
	bool running, flood, json;
	int threads, requests, timeout_ms, warmup;
	struct level high, low;
	const char *pin_dir, *cgroup, *user;
};

struct target {
	pthread_t thread;
	pid_t tid;
	int kick;		/* eventfd a sleeping target blocks on */
	volatile bool stop;
};

struct storm {
	struct opts o;
	struct target t[MAX_THREADS];
	struct vcpufreq *vf;
	int requests_fd, private_fd, state_fd, actions_fd;
	__u64 *lat, *write_ns, *base_ns;
	size_t n_lat, n_write;
	int lost;
};

/* --- the targets: vCPU threads that sleep or run ------------------------ */

static void *target_main(void *arg)
{
	struct target *t = arg;
	__u64 n;

	t->tid = gettid();
	while (!t->stop) {
		if (t->kick >= 0) {
			if (read(t->kick, &n, sizeof(n)) < 0 && errno != EINTR)
				break;
		}
	}
	return NULL;
}

static int start_targets(struct storm *s)
{
	for (int i = 0; i < s->o.threads; i++) {
		struct target *t = &s->t[i];

		t->kick = s->o.running ? -1 : eventfd(0, EFD_CLOEXEC);
		if (!s->o.running && t->kick < 0)
			return fail("eventfd: %s", strerror(errno));
		if (pthread_create(&t->thread, NULL, target_main, t))
			return fail("cannot start a thread");
		while (!__atomic_load_n(&t->tid, __ATOMIC_ACQUIRE))
			sched_yield();
	}
	return 0;
}

static void kick(struct target *t)
{
	__u64 one = 1;

	if (t->kick >= 0 && write(t->kick, &one, sizeof(one)) < 0)
		perror("request-storm: kick");
}

static void stop_targets(struct storm *s)
{
	for (int i = 0; i < s->o.threads; i++) {
		s->t[i].stop = true;
		kick(&s->t[i]);
		pthread_join(s->t[i].thread, NULL);
	}
}

/* --- writing a request, by each path ------------------------------------- */

static int write_request(struct storm *s, struct target *t, __u32 perf)
{
	struct vcpufreq_request req = { .perf = perf, .vm_id = 1 };
	int ret;

	if (s->o.path != PATH_BPF) {
		ret = vcpufreq_request(s->vf, t->tid, perf, perf);
		if (!ret && s->o.path == PATH_FAST)
			kick(t);	/* a fast-path request is taken in at wakeup */
		return ret;
	}
	return bpf_map_update_elem(s->requests_fd, &t->tid, &req, BPF_ANY) ?
	       -errno : 0;
}

/* --- its effect ----------------------------------------------------------- */

static bool has_effect(struct storm *s, struct target *t,
		       const struct level *l)
{
	struct vcpufreq_action a;
	struct vcpufreq_vcpu v;
	struct sched_attr_v1 attr;
	cpu_set_t cur;
	bool ok = false;
	int pidfd;

	switch (s->o.effect) {
	case EFF_AFFINITY:
		return !sched_getaffinity(t->tid, sizeof(cur), &cur) &&
		       CPU_EQUAL(&cur, &l->cpus);
	case EFF_UCLAMP:
		return !syscall(SYS_sched_getattr, t->tid, &attr, sizeof(attr), 0) &&
		       attr.sched_util_min == l->perf;
	case EFF_APPLIED:
		return !bpf_map_lookup_elem(s->actions_fd, &t->tid, &a) &&
		       a.perf == l->perf;
	case EFF_STATE:
		pidfd = syscall(SYS_pidfd_open, t->tid, PIDFD_THREAD);
		if (pidfd < 0)
			return false;
		ok = !bpf_map_lookup_elem(s->state_fd, &pidfd, &v) &&
		     v.perf == l->perf && v.enrolled;
		close(pidfd);
		return ok;
	}
	return false;
}

/* ns from @start until @t shows @l's effect, 0 when @timeout_ns passed */
static __u64 wait_effect(struct storm *s, struct target *t,
			 const struct level *l, __u64 start, __u64 timeout_ns)
{
	for (;;) {
		__u64 now;

		if (has_effect(s, t, l)) {
			now = now_ns();
			return now > start ? now - start : 1;
		}
		if (now_ns() - start > timeout_ns)
			return 0;
		if (s->o.effect == EFF_STATE || s->o.effect == EFF_APPLIED)
			sched_yield();	/* a map lookup is a syscall too */
	}
}

/* --- the two storms ------------------------------------------------------- */

/* one request, waited for; @record: counted (not a warm-up one) */
static int one_request(struct storm *s, struct target *t, const struct level *l,
		       bool record)
{
	struct vcpufreq_request req = { .perf = l->perf, .vm_id = 1 };
	__u64 t0, t1, d, timeout = s->o.timeout_ms * 1000000ULL;
	int ret;

	t0 = now_ns();
	bpf_map_update_elem(s->private_fd, &t->tid, &req, BPF_ANY);
	t1 = now_ns();
	if (record)
		s->base_ns[s->n_write] = t1 - t0;
	t0 = now_ns();
	ret = write_request(s, t, l->perf);
	t1 = now_ns();
	if (ret)
		return fail("request %u for TID %d: %s", l->perf, t->tid,
			    strerror(-ret));
	d = wait_effect(s, t, l, t0, timeout);
	if (!record)
		return 0;
	s->write_ns[s->n_write++] = t1 - t0;
	if (d)
		s->lat[s->n_lat++] = d;
	else
		s->lost++;
	return 0;
}

static int storm_wait(struct storm *s)
{
	int warmup = s->o.warmup;

	for (int i = 0; i < warmup + s->o.requests; i++) {
		struct target *t = &s->t[i % s->o.threads];
		/* each thread alternates, starting high */
		const struct level *l = (i / s->o.threads) % 2 ? &s->o.low : &s->o.high;

		if (one_request(s, t, l, i >= warmup))
			return -1;
		if (s->lost >= LOST_ENOUGH)
			break;	/* the verdict is in: do not wait out every timeout */
	}
	return 0;
}

static int storm_flood(struct storm *s)
{
	__u64 t0, timeout = s->o.timeout_ms * 1000000ULL;

	for (int i = 0; i < s->o.requests; i++)
		for (int k = 0; k < s->o.threads; k++) {
			const struct level *l = i % 2 ? &s->o.low : &s->o.high;
			int ret = write_request(s, &s->t[k], l->perf);

			if (ret)
				return fail("request for TID %d: %s",
					    s->t[k].tid, strerror(-ret));
		}
	t0 = now_ns();
	for (int k = 0; k < s->o.threads; k++) {
		/* the last write of each thread */
		const struct level *l = (s->o.requests - 1) % 2 ? &s->o.low : &s->o.high;
		__u64 d = wait_effect(s, &s->t[k], l, t0, timeout);

		if (d)
			s->lat[s->n_lat++] = d;
		else
			s->lost++;
	}
	return 0;
}

/* --- setup ---------------------------------------------------------------- */

static int parse_level(const char *arg, struct level *l)
{
	char *end, *tok, *save, buf[128];
	unsigned long p = strtoul(arg, &end, 10);

	if (end == arg || (*end && *end != ':') || p > VCPUFREQ_PERF_MAX)
		return -1;
	l->perf = p;
	CPU_ZERO(&l->cpus);
	if (!*end)
		return 0;
	snprintf(buf, sizeof(buf), "%s", end + 1);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned long a, b;
		int n = sscanf(tok, "%lu-%lu", &a, &b);

		if (n < 1 || (n == 1 && (b = a, 0)) || a > b || b >= CPU_SETSIZE)
			return -1;
		for (unsigned long c = a; c <= b; c++)
			CPU_SET(c, &l->cpus);
	}
	return 0;
}

static int open_pin(const char *dir, const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		fail("cannot open %s: %s; is vcpufreq-bpf loaded?", path,
		     strerror(errno));
	return fd;
}

static int join_cgroup(const char *cg)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	f = fopen(path, "w");
	if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f))
		return fail("cannot move into %s: %s", cg, strerror(errno));
	return 0;
}

static int drop_to(const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (!pw)
		return fail("--user %s: no such user", user);
	if (setgroups(0, NULL) || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid))
		return fail("cannot become %s: %s", user, strerror(errno));
	return 0;
}

static int open_writer(struct storm *s)
{
	int ret;

	s->private_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "storm_baseline",
				       sizeof(__u32), sizeof(struct vcpufreq_request),
				       VCPUFREQ_MAX_THREADS, NULL);
	if (s->private_fd < 0)
		return fail("cannot create a hash map: %s", strerror(errno));
	if (s->o.effect == EFF_STATE &&
	    (s->state_fd = open_pin(s->o.pin_dir, VCPUFREQ_PIN_VCPU_STATE)) < 0)
		return -1;
	if (s->o.effect == EFF_APPLIED &&
	    (s->actions_fd = open_pin(s->o.pin_dir, VCPUFREQ_PIN_ACTIONS)) < 0)
		return -1;
	if (s->o.path == PATH_BPF)
		return (s->requests_fd = open_pin(s->o.pin_dir,
						  VCPUFREQ_PIN_REQUESTS)) < 0 ? -1 : 0;
	if (s->o.user && drop_to(s->o.user))
		return -1;
	ret = vcpufreq_open(s->o.pin_dir, &s->vf);
	if (ret)
		return fail("vcpufreq_open: %s", vcpufreq_strerror(ret));
	if (s->o.path == PATH_FAST && !vcpufreq_fast_path(s->vf))
		return fail("no fast path: run as root, without --user");
	if (s->o.path == PATH_BROKER && vcpufreq_fast_path(s->vf))
		return fail("the broker path needs --user NAME (an unprivileged VMM)");
	for (int i = 0; i < s->o.threads; i++) {
		ret = vcpufreq_register(s->vf, s->t[i].tid, 1, i);
		if (ret)
			return fail("register TID %d: %s", s->t[i].tid,
				    vcpufreq_strerror(ret));
	}
	return 0;
}

static void usage(FILE *f)
{
	fputs("usage: request-storm --path bpf|fast|broker --effect affinity|uclamp|state|applied\n"
	      "       [--target sleeping|running] [--threads N] [--requests N] [--flood]\n"
	      "       [--high PERF:CPUS] [--low PERF:CPUS] [--timeout-ms MS]\n"
	      "       [--warmup N] [--pin-dir DIR] [--cgroup DIR] [--user NAME] [-j]\n", f);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{ "path", 1, 0, 'P' }, { "effect", 1, 0, 'e' },
		{ "target", 1, 0, 'T' }, { "threads", 1, 0, 'n' },
		{ "requests", 1, 0, 'r' }, { "flood", 0, 0, 'f' },
		{ "high", 1, 0, 'H' }, { "low", 1, 0, 'L' },
		{ "timeout-ms", 1, 0, 't' }, { "pin-dir", 1, 0, 'd' },
		{ "cgroup", 1, 0, 'c' }, { "user", 1, 0, 'u' },
		{ "warmup", 1, 0, 'w' }, { "json", 0, 0, 'j' }, { "help", 0, 0, 'h' }, { 0 }
	};
	static const char *paths[] = { "bpf", "fast", "broker" };
	static const char *effects[] = { "affinity", "uclamp", "state", "applied" };
	int c, path = -1, effect = -1;

	*o = (struct opts){ .threads = 2, .requests = 1000, .timeout_ms = 1000,
			    .pin_dir = VCPUFREQ_PIN_DIR };
	parse_level("900", &o->high);
	parse_level("100", &o->low);
	while ((c = getopt_long(argc, argv, "jh", longs, NULL)) != -1) {
		switch (c) {
		case 'P':
			for (int i = 0; i < 3; i++)
				if (!strcmp(optarg, paths[i]))
					path = i;
			break;
		case 'e':
			for (int i = 0; i < 4; i++)
				if (!strcmp(optarg, effects[i]))
					effect = i;
			break;
		case 'T':
			if (strcmp(optarg, "running") && strcmp(optarg, "sleeping"))
				return fail("--target sleeping|running");
			o->running = !strcmp(optarg, "running");
			break;
		case 'n': o->threads = atoi(optarg); break;
		case 'r': o->requests = atoi(optarg); break;
		case 'f': o->flood = true; break;
		case 'H':
			if (parse_level(optarg, &o->high))
				return fail("--high PERF[:CPUS], e.g. 900:1");
			break;
		case 'L':
			if (parse_level(optarg, &o->low))
				return fail("--low PERF[:CPUS], e.g. 100:0-1");
			break;
		case 't': o->timeout_ms = atoi(optarg); break;
		case 'd': o->pin_dir = optarg; break;
		case 'c': o->cgroup = optarg; break;
		case 'u': o->user = optarg; break;
		case 'w': o->warmup = atoi(optarg); break;
		case 'j': o->json = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (path < 0 || effect < 0)
		return fail("give --path bpf|fast|broker and --effect "
			    "affinity|uclamp|state|applied");
	if (o->threads < 1 || o->threads > MAX_THREADS || o->requests < 2 ||
	    o->timeout_ms < 1 || o->warmup < 0)
		return fail("--threads 1..%d, --requests >= 2, --timeout-ms >= 1, "
			    "--warmup >= 0", MAX_THREADS);
	o->path = path;
	o->effect = effect;
	if (o->high.perf == o->low.perf ||
	    (effect == EFF_AFFINITY && CPU_EQUAL(&o->high.cpus, &o->low.cpus)))
		return fail("--high and --low must differ in perf (and CPUs for "
			    "--effect affinity)");
	if (path == PATH_BROKER && !o->user)
		return fail("--path broker needs --user NAME");
	return 0;
}

/* --- report ---------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

static __u64 quantile(__u64 *v, size_t n, double q)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[(size_t)(q * (n - 1) + 0.5)];
}

static void report(struct storm *s, const char *path, const char *effect)
{
	__u64 base = quantile(s->base_ns, s->n_write, 0.5);
	__u64 w50 = quantile(s->write_ns, s->n_write, 0.5);
	__u64 w99 = quantile(s->write_ns, s->n_write, 0.99);
	__u64 l50 = quantile(s->lat, s->n_lat, 0.5), l99 = quantile(s->lat, s->n_lat, 0.99);
	__u64 lmax = s->n_lat ? s->lat[s->n_lat - 1] : 0;
	int total = s->n_lat + s->lost;	/* fewer than asked when it stopped early */

	if (s->o.json) {
		printf("{\"path\":\"%s\",\"effect\":\"%s\",\"target\":\"%s\","
		       "\"mode\":\"%s\",\"threads\":%d,\"requests\":%d,"
		       "\"took_effect\":%zu,\"lost\":%d,\"p50_ns\":%llu,"
		       "\"p99_ns\":%llu,\"max_ns\":%llu,\"write_p50_ns\":%llu,"
		       "\"write_p99_ns\":%llu,\"baseline_p50_ns\":%llu}\n", path, effect,
		       s->o.running ? "running" : "sleeping",
		       s->o.flood ? "flood" : "wait", s->o.threads,
		       s->o.requests, s->n_lat, s->lost,
		       (unsigned long long)l50, (unsigned long long)l99,
		       (unsigned long long)lmax, (unsigned long long)w50,
		       (unsigned long long)w99, (unsigned long long)base);
		return;
	}
	printf("%s path, %s effect, %d %s thread(s), %s: %zu of %d took effect, "
	       "%d lost; request -> effect p50 %llu ns, p99 %llu ns, max %llu ns",
	       path, effect, s->o.threads, s->o.running ? "running" : "sleeping",
	       s->o.flood ? "flood (the last of each)" : "each waited for",
	       s->n_lat, total, s->lost, (unsigned long long)l50,
	       (unsigned long long)l99, (unsigned long long)lmax);
	if (base)
		printf("; p99 %.1fx the baseline write (%llu ns)",
		       (double)l99 / base, (unsigned long long)base);
	putchar('\n');
}

int main(int argc, char **argv)
{
	static const char *paths[] = { "bpf", "fast", "broker" };
	static const char *effects[] = { "affinity", "uclamp", "state", "applied" };
	struct storm s = { .requests_fd = -1, .state_fd = -1, .actions_fd = -1 };
	size_t cap;
	int ret = 1;

	if (parse_args(argc, argv, &s.o))
		return 2;
	cap = s.o.flood ? s.o.threads : s.o.requests;
	s.lat = calloc(cap, sizeof(*s.lat));
	s.write_ns = calloc(s.o.requests, sizeof(*s.write_ns));
	s.base_ns = calloc(s.o.requests, sizeof(*s.base_ns));
	if (!s.lat || !s.write_ns || !s.base_ns)
		return fail("out of memory"), 1;
	if (s.o.cgroup && join_cgroup(s.o.cgroup))
		return 1;
	if (start_targets(&s) || open_writer(&s))
		goto out;
	if (s.o.flood ? storm_flood(&s) : storm_wait(&s))
		goto out;
	report(&s, paths[s.o.path], effects[s.o.effect]);
	ret = s.lost ? 1 : 0;
out:
	if (s.vf) {
		for (int i = 0; i < s.o.threads; i++)
			vcpufreq_unregister(s.vf, s.t[i].tid);
		vcpufreq_close(s.vf);
	} else if (s.requests_fd >= 0) {
		for (int i = 0; i < s.o.threads; i++)
			bpf_map_delete_elem(s.requests_fd, &s.t[i].tid);
	}
	stop_targets(&s);
	return ret;
}
