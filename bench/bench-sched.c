// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench-sched: the sched_switch benchmark, run by bench/run.sh
 * against an instance loaded with its own --pin-dir.
 *
 *   bench-sched switch  --cgroup DIR [--pin-dir DIR] [--counts 0,1,64,4096]
 *                       [--churn N] [--window-ms MS] [--reps N] [--cpu CPU]
 *
 *     What on_switch costs per sched_switch, from bpf_stats (run_time_ns /
 *     run_cnt), against an empty tp_btf/sched_switch program attached for
 *     the same window.  For every count N, N real threads are started in
 *     the enrolled cgroup DIR (a child process moves itself there and
 *     spawns them) and each gets a request in the pinned `requests` map.
 *     Two loads are measured, each over the same windows for both
 *     programs:
 *       untracked: two threads that vcpufreq does not track ping-pong over
 *                  pipes; the N tracked threads are blocked (futex) and
 *                  stay off CPU, so every switch is an untracked one.
 *       tracked:   a driver thread (no request) wakes the N tracked
 *                  threads round-robin, one at a time (futex), so every
 *                  switch has a tracked thread on one side and the switch
 *                  rate does not depend on N.
 *     Both loads run on one CPU (--cpu, default 0; -1: anywhere).
 *     --churn N: before each count, N more threads are tracked and exit
 *     (their TIDs come back to later threads), so the threads ever
 *     tracked since load grow from row to row while those alive are N.
 *
 *   (Request -> effect latency, section 2, is tests/live/request-storm's.)
 *
 * Exit status: 0 when the benchmark ran (targets missed are reported, not
 * failures), 1 when it could not run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "vcpufreq/abi.h"
#include "tool.h"
#include "vcpufreq/vcpufreq.h"
#include "bench_empty.skel.h"

#define MAX_HERD	16384

static const char *pin_dir = "/sys/fs/bpf/vcpufreq-bench";
static const char *cgroup_dir;

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static long futex(int *addr, int op, int val)
{
	return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

static void futex_wait(int *addr, int val)
{
	futex(addr, FUTEX_WAIT, val);
}

static void futex_wake(int *addr, int n)
{
	futex(addr, FUTEX_WAKE, n);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median_d(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int pinned(const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		fail("cannot open %s: %s (is vcpufreq-bpf loaded with "
		     "--pin-dir %s?)", path, strerror(errno), pin_dir);
	return fd;
}

static int read_stats(int fd, struct vcpufreq_stats *s)
{
	__u32 zero = 0;

	if (bpf_map_lookup_elem(fd, &zero, s))
		return fail("cannot read the stats map: %s", strerror(errno));
	return 0;
}

static int count_keys(int fd)
{
	__u32 key, next;
	int n = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		n++;
	}
	return n;
}

/* Run the refresh iterator through its pinned link, as the CLI does. */
static int run_refresh(void)
{
	int ret = vcpufreq_refresh(pin_dir);

	return ret ? fail("refresh iterator: %s", strerror(-ret)) : 0;
}

/* --------------------------------------------------------------------- */
/* The herd: N threads in the enrolled cgroup, in a child process.        */

enum { HERD_PARK = 1, HERD_RING, HERD_EXIT };

struct herd_shm {
	int cmd;		/* HERD_*; futex */
	int done;		/* a woken thread's reply to the driver; futex */
	int nr;
	int pad;
	unsigned long rounds;	/* round trips the driver completed */
	int go[MAX_HERD];	/* per thread: 1 = run once; futex */
};

struct herd {
	pid_t pid;
	int nr;
	__u32 *tids;
	struct herd_shm *shm;
};

struct herd_arg {
	struct herd_shm *shm;
	int idx;
	int tid_fd;
};

static void *herd_thread(void *p)
{
	struct herd_arg *a = p;
	struct herd_shm *shm = a->shm;
	int *go = &shm->go[a->idx];
	__u32 tid = gettid();

	if (write(a->tid_fd, &tid, sizeof(tid)) != sizeof(tid))
		_exit(3);
	for (;;) {
		while (!__atomic_load_n(go, __ATOMIC_ACQUIRE))
			futex_wait(go, 0);
		__atomic_store_n(go, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&shm->done, 1, __ATOMIC_RELEASE);
		futex_wake(&shm->done, 1);
	}
	return NULL;
}

/* Child: join the cgroup, spawn the threads, then drive them as told. */
static void herd_child(struct herd_shm *shm, int nr, int cpu, int tid_fd,
		       const cpu_set_t *mask, pid_t parent)
{
	char path[PATH_MAX];
	pthread_attr_t attr;
	struct herd_arg *args;
	int fd, next = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)	/* the bench died before prctl() */
		_exit(1);
	snprintf(path, sizeof(path), "%s/cgroup.procs", cgroup_dir);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, "0\n", 2) != 2) {
		fail("cannot move into %s: %s", path, strerror(errno));
		_exit(2);
	}
	close(fd);
	if (mask) {
		sched_setaffinity(0, sizeof(*mask), mask);
	} else if (cpu >= 0) {
		cpu_set_t one;

		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		sched_setaffinity(0, sizeof(one), &one);
	}
	args = calloc(nr, sizeof(*args));
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (int i = 0; i < nr; i++) {
		pthread_t t;

		args[i] = (struct herd_arg){ shm, i, tid_fd };
		if (pthread_create(&t, &attr, herd_thread, &args[i])) {
			fail("pthread_create (thread %d of %d) failed", i, nr);
			_exit(2);
		}
	}
	for (;;) {
		int cmd = __atomic_load_n(&shm->cmd, __ATOMIC_ACQUIRE);

		if (cmd == HERD_EXIT)
			_exit(0);	/* takes every thread with it */
		if (cmd != HERD_RING) {
			futex_wait(&shm->cmd, cmd);
			continue;
		}
		__atomic_store_n(&shm->go[next], 1, __ATOMIC_RELEASE);
		futex_wake(&shm->go[next], 1);
		while (!__atomic_load_n(&shm->done, __ATOMIC_ACQUIRE))
			futex_wait(&shm->done, 0);
		__atomic_store_n(&shm->done, 0, __ATOMIC_RELAXED);
		shm->rounds++;
		if (++next == nr)
			next = 0;
	}
}

static void herd_command(struct herd *h, int cmd)
{
	__atomic_store_n(&h->shm->cmd, cmd, __ATOMIC_RELEASE);
	futex_wake(&h->shm->cmd, INT_MAX);
}

static void herd_stop(struct herd *h)
{
	if (h->pid > 0) {
		herd_command(h, HERD_EXIT);
		waitpid(h->pid, NULL, 0);
		h->pid = 0;
	}
	if (h->shm)
		munmap(h->shm, sizeof(*h->shm));
	h->shm = NULL;
	free(h->tids);
	h->tids = NULL;
}

static int herd_start(struct herd *h, int nr, int cpu, const cpu_set_t *mask)
{
	pid_t parent = getpid();
	int pfd[2];
	size_t got = 0;

	memset(h, 0, sizeof(*h));
	if (nr > MAX_HERD)
		return fail("at most %d threads", MAX_HERD);
	h->shm = mmap(NULL, sizeof(*h->shm), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (h->shm == MAP_FAILED) {
		h->shm = NULL;
		return fail("mmap: %s", strerror(errno));
	}
	h->shm->cmd = HERD_PARK;
	h->shm->nr = nr;
	h->nr = nr;
	h->tids = calloc(nr, sizeof(*h->tids));
	if (!h->tids || pipe2(pfd, O_CLOEXEC))
		return fail("out of memory or fds");
	fflush(NULL);
	h->pid = fork();
	if (h->pid < 0)
		return fail("fork: %s", strerror(errno));
	if (h->pid == 0) {
		close(pfd[0]);
		herd_child(h->shm, nr, cpu, pfd[1], mask, parent);
	}
	close(pfd[1]);
	while (got < nr * sizeof(__u32)) {
		ssize_t n = read(pfd[0], (char *)h->tids + got,
				 nr * sizeof(__u32) - got);

		if (n <= 0)
			break;
		got += n;
	}
	close(pfd[0]);
	if (got != nr * sizeof(__u32)) {
		herd_stop(h);
		return fail("the thread herd did not start (%zu of %d TIDs)",
			    got / sizeof(__u32), nr);
	}
	return 0;
}

/* --------------------------------------------------------------------- */
/* Untracked load: two threads ping-ponging one byte over two pipes.      */

struct pingpong {
	int ab[2], ba[2];
	int cpu;
	volatile int stop;
	pthread_t a, b;
};

static void pin_self(int cpu)
{
	cpu_set_t one;

	if (cpu < 0)
		return;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	sched_setaffinity(0, sizeof(one), &one);
}

static void *ping(void *p)
{
	struct pingpong *pp = p;
	char c = 'p';

	pin_self(pp->cpu);
	while (!pp->stop) {
		if (write(pp->ab[1], &c, 1) != 1 || read(pp->ba[0], &c, 1) != 1)
			break;
	}
	c = 'q';
	if (write(pp->ab[1], &c, 1) != 1)
		return NULL;
	return NULL;
}

static void *pong(void *p)
{
	struct pingpong *pp = p;
	char c;

	pin_self(pp->cpu);
	while (read(pp->ab[0], &c, 1) == 1 && c != 'q')
		if (write(pp->ba[1], &c, 1) != 1)
			break;
	return NULL;
}

static int pingpong_start(struct pingpong *pp, int cpu)
{
	memset(pp, 0, sizeof(*pp));
	pp->cpu = cpu;
	if (pipe2(pp->ab, O_CLOEXEC) || pipe2(pp->ba, O_CLOEXEC))
		return fail("pipe: %s", strerror(errno));
	if (pthread_create(&pp->b, NULL, pong, pp) ||
	    pthread_create(&pp->a, NULL, ping, pp))
		return fail("pthread_create failed");
	return 0;
}

static void pingpong_stop(struct pingpong *pp)
{
	pp->stop = 1;
	pthread_join(pp->a, NULL);
	pthread_join(pp->b, NULL);
	close(pp->ab[0]);
	close(pp->ab[1]);
	close(pp->ba[0]);
	close(pp->ba[1]);
}

/* --------------------------------------------------------------------- */
/* Benchmark 1: sched_switch cost                                          */

struct prog_sample {
	__u64 run_ns, run_cnt;
};

static int prog_sample(int fd, struct prog_sample *s)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_prog_get_info_by_fd(fd, &info, &len))
		return fail("bpf_prog_get_info_by_fd: %s", strerror(errno));
	s->run_ns = info.run_time_ns;
	s->run_cnt = info.run_cnt;
	return 0;
}

/* The program behind the pinned link links/NAME. */
static int pinned_link_prog(const char *name)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int link_fd, fd;

	snprintf(path, sizeof(path), "%s/%s/%s", pin_dir, VCPUFREQ_PIN_LINKS,
		 name);
	link_fd = bpf_obj_get(path);
	if (link_fd < 0)
		return fail("cannot open %s: %s", path, strerror(errno));
	memset(&info, 0, sizeof(info));
	if (bpf_link_get_info_by_fd(link_fd, &info, &len)) {
		close(link_fd);
		return fail("bpf_link_get_info_by_fd: %s", strerror(errno));
	}
	close(link_fd);
	fd = bpf_prog_get_fd_by_id(info.prog_id);
	if (fd < 0)
		return fail("bpf_prog_get_fd_by_id(%u): %s", info.prog_id,
			    strerror(errno));
	return fd;
}

struct window {
	double empty_ns, ours_ns, ratio, rate;
	__u64 cnt;
};

struct sw_ctx {
	int empty_fd, ours_fd;
	int window_ms, reps, cpu;
};

enum { LOAD_UNTRACKED, LOAD_TRACKED };

/* One measurement window under @load; the load runs only around it. */
static int measure_window(struct sw_ctx *c, int load, struct herd *h,
			  struct window *w)
{
	struct prog_sample e0, e1, o0, o1;
	struct pingpong pp;
	__u64 t0, t1;
	int ret = 0;

	if (load == LOAD_UNTRACKED) {
		if (pingpong_start(&pp, c->cpu))
			return -1;
	} else {
		herd_command(h, HERD_RING);
	}
	sleep_ms(50);		/* let the load settle first */
	t0 = now_ns();
	if (prog_sample(c->empty_fd, &e0) || prog_sample(c->ours_fd, &o0))
		ret = -1;
	sleep_ms(c->window_ms);
	if (prog_sample(c->empty_fd, &e1) || prog_sample(c->ours_fd, &o1))
		ret = -1;
	t1 = now_ns();
	if (load == LOAD_UNTRACKED)
		pingpong_stop(&pp);
	else
		herd_command(h, HERD_PARK);
	if (ret)
		return -1;
	if (e1.run_cnt == e0.run_cnt || o1.run_cnt == o0.run_cnt)
		return fail("no sched_switch runs counted; are bpf_stats on?");
	w->empty_ns = (double)(e1.run_ns - e0.run_ns) / (e1.run_cnt - e0.run_cnt);
	w->ours_ns = (double)(o1.run_ns - o0.run_ns) / (o1.run_cnt - o0.run_cnt);
	w->ratio = w->ours_ns / w->empty_ns;
	w->cnt = e1.run_cnt - e0.run_cnt;
	w->rate = w->cnt * 1e9 / (t1 - t0);
	if (llabs((long long)(o1.run_cnt - o0.run_cnt) - (long long)w->cnt) >
	    (long long)w->cnt / 100 + 100)
		fprintf(stderr, "bench-sched: note: run counts differ: empty %llu, "
			"on_switch %llu\n", (unsigned long long)w->cnt,
			(unsigned long long)(o1.run_cnt - o0.run_cnt));
	return 0;
}

struct row {
	int n, load;
	bool valid;
	double empty_ns, ours_ns, ratio, rate;
	long ever;	/* threads tracked since load, the row's own included */
};

static int measure_rows(struct sw_ctx *c, int n, struct herd *h,
			struct row *ru, struct row *rt)
{
	double eu[64], ou[64], xu[64], ru_rate[64];
	double et[64], ot[64], xt[64], rt_rate[64];
	struct window w;
	int reps = c->reps > 64 ? 64 : c->reps;

	/* a short warm-up window of each load, not counted */
	{
		int ms = c->window_ms;

		c->window_ms = 100;
		if (measure_window(c, LOAD_UNTRACKED, h, &w) ||
		    (n && measure_window(c, LOAD_TRACKED, h, &w)))
			return -1;
		c->window_ms = ms;
	}
	/* interleaved, so slow drift of the machine hits both loads alike */
	for (int r = 0; r < reps; r++) {
		if (measure_window(c, LOAD_UNTRACKED, h, &w))
			return -1;
		eu[r] = w.empty_ns, ou[r] = w.ours_ns, xu[r] = w.ratio;
		ru_rate[r] = w.rate;
		if (!n)
			continue;
		if (measure_window(c, LOAD_TRACKED, h, &w))
			return -1;
		et[r] = w.empty_ns, ot[r] = w.ours_ns, xt[r] = w.ratio;
		rt_rate[r] = w.rate;
	}
	*ru = (struct row){ n, LOAD_UNTRACKED, true, median_d(eu, reps),
			    median_d(ou, reps), median_d(xu, reps),
			    median_d(ru_rate, reps), 0 };
	if (n)
		*rt = (struct row){ n, LOAD_TRACKED, true, median_d(et, reps),
				    median_d(ot, reps), median_d(xt, reps),
				    median_d(rt_rate, reps), 0 };
	return 0;
}

/* Start N tracked threads and have every one accepted. */
static int track_herd(struct herd *h, int n, int cpu, int req_fd, int stats_fd,
		      __u64 *lost)
{
	struct vcpufreq_stats s0, s1;
	__u64 deadline;

	if (read_stats(stats_fd, &s0) || herd_start(h, n, cpu, NULL))
		return -1;
	for (int i = 0; i < n; i++) {
		struct vcpufreq_request req = {
			.perf = 512, .vm_id = 1, .vcpu = i,
		};

		if (bpf_map_update_elem(req_fd, &h->tids[i], &req, BPF_ANY))
			return fail("writing the request for TID %u: %s",
				    h->tids[i], strerror(errno));
	}
	/* the agent takes requests in; make sure even if it lost events */
	deadline = now_ns() + 20000000000ULL;
	for (;;) {
		if (read_stats(stats_fd, &s1))
			return -1;
		if (s1.accepted - s0.accepted >= (__u64)n)
			break;
		if (s1.rejected != s0.rejected)
			return fail("%llu of the %d requests were rejected; is "
				    "%s enrolled?", (unsigned long long)
				    (s1.rejected - s0.rejected), n, cgroup_dir);
		if (now_ns() > deadline)
			return fail("only %llu of %d requests were taken in "
				    "after 20 s", (unsigned long long)
				    (s1.accepted - s0.accepted), n);
		sleep_ms(20);
		run_refresh();
	}
	*lost = s1.events_lost - s0.events_lost;
	return 0;
}

/* exiting threads take their requests with them; the count left after 1 s */
static int requests_drained(int req_fd)
{
	int left = 0;

	for (int t = 0; t < 100 && (left = count_keys(req_fd)); t++)
		sleep_ms(10);
	if (left)
		fprintf(stderr, "bench-sched: note: %d requests left in the map "
			"after the threads exited\n", left);
	return left;
}

/* Churn: @n threads tracked, then gone (they exit with their requests). */
static int churn_herd(int n, int cpu, int req_fd, int stats_fd, __u64 *lost)
{
	struct herd h = { 0 };
	__u64 l = 0;
	int ret = track_herd(&h, n, cpu, req_fd, stats_fd, &l);

	herd_stop(&h);
	*lost += l;
	if (!ret)
		requests_drained(req_fd);
	return ret;
}

static void print_row(const struct row *r, bool judge, double target)
{
	printf("  %7d %7ld  %-20s %10.0f  %9.1f  %12.1f  %6.2fx",
	       r->n, r->ever, r->load == LOAD_UNTRACKED ? "untracked ping-pong" :
	       "tracked round-robin", r->rate, r->empty_ns, r->ours_ns,
	       r->ratio);
	if (judge)
		printf("  %s (<= %.2fx)", r->ratio <= target ? "ok" : "MISSED",
		       target);
	putchar('\n');
}

enum { F_RATIO, F_OURS, F_EMPTY };

static double row_field(const struct row *r, int field)
{
	return field == F_RATIO ? r->ratio :
	       field == F_OURS ? r->ours_ns : r->empty_ns;
}

/*
 * largest x_i / x_ref - 1 (by magnitude) over the rows of @load, against
 * its first row (the fewest tracked, none ever tracked before)
 */
static double spread(const struct row *rows, int nr, int load, int field,
		     int *ref_n, int *worst_n)
{
	double ref = 0, worst = 0;
	int first = -1;

	for (int i = 0; i < nr && first < 0; i++)
		if (rows[i].valid && rows[i].load == load)
			first = i;
	if (first < 0)
		return 0;
	ref = row_field(&rows[first], field);
	*ref_n = *worst_n = rows[first].n;
	if (ref <= 0)
		return 0;
	for (int i = first + 1; i < nr; i++) {
		double d;

		if (!rows[i].valid || rows[i].load != load)
			continue;
		d = row_field(&rows[i], field) / ref - 1;
		if (d * d > worst * worst) {
			worst = d;
			*worst_n = rows[i].n;
		}
	}
	return worst;
}

static int cmd_switch(int argc, char **argv)
{
	struct sw_ctx c = { .window_ms = 1000, .reps = 5, .cpu = 0 };
	const char *counts = "0,1,64,4096";
	struct bench_empty_bpf *skel = NULL;
	int churn = 0;
	long ever = 0;
	int stats_on = -1, req_fd = -1, stats_fd = -1, ret = -1;
	struct row rows[64];
	int nr_rows = 0, ns[16], nr_ns = 0, max_n = 0;
	__u64 lost_total = 0;
	char *dup, *tok, *save;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--counts") && v)
			counts = v, i++;
		else if (!strcmp(a, "--churn") && v)
			churn = atoi(v), i++;
		else if (!strcmp(a, "--window-ms") && v)
			c.window_ms = atoi(v), i++;
		else if (!strcmp(a, "--reps") && v)
			c.reps = atoi(v), i++;
		else if (!strcmp(a, "--cpu") && v)
			c.cpu = atoi(v), i++;
		else
			return fail("switch: unexpected argument '%s'", a);
	}
	if (c.window_ms < 10 || c.reps < 1 || c.reps > 64 || churn < 0 ||
	    churn > MAX_HERD)
		return fail("switch: --window-ms >= 10, --reps 1..64, "
			    "--churn 0..%d", MAX_HERD);
	dup = strdup(counts);
	for (tok = strtok_r(dup, ",", &save); tok && nr_ns < 16;
	     tok = strtok_r(NULL, ",", &save)) {
		ns[nr_ns] = atoi(tok);
		if (ns[nr_ns] < 0 || ns[nr_ns] > MAX_HERD)
			return fail("--counts: 0..%d threads each", MAX_HERD);
		if (ns[nr_ns] > max_n)
			max_n = ns[nr_ns];
		nr_ns++;
	}
	free(dup);

	c.empty_fd = c.ours_fd = -1;
	stats_on = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_on < 0) {
		fail("BPF_ENABLE_STATS: %s", strerror(errno));
		goto out;
	}
	skel = bench_empty_bpf__open();
	if (skel) {	/* the switch benchmark needs the switch baseline only */
		bpf_program__set_autoattach(skel->progs.bench_wakeup, false);
		bpf_program__set_autoattach(skel->progs.bench_exit, false);
		bpf_program__set_autoattach(skel->progs.bench_switch_word, false);
	}
	if (!skel || bench_empty_bpf__load(skel) || bench_empty_bpf__attach(skel)) {
		fail("cannot load/attach the empty sched_switch program: %s",
		     strerror(errno));
		goto out;
	}
	c.empty_fd = bpf_program__fd(skel->progs.bench_switch);
	c.ours_fd = pinned_link_prog("on_switch");
	req_fd = pinned(VCPUFREQ_PIN_REQUESTS);
	stats_fd = pinned(VCPUFREQ_PIN_STATS);
	if (c.ours_fd < 0 || req_fd < 0 || stats_fd < 0)
		goto out;

	printf("sched_switch cost: bpf_stats run_time_ns/run_cnt of vcpufreq's "
	       "on_switch vs an empty\ntp_btf/sched_switch program, both "
	       "attached over the same windows (median of %d x %d ms;\nload "
	       "%s).\n\n", c.reps, c.window_ms,
	       c.cpu >= 0 ? "pinned to one CPU" : "unpinned");
	if (churn)
		printf("Churn: before each row %d more threads were tracked and "
		       "exited.\n\n", churn);
	printf("  %7s %7s  %-20s %10s  %9s  %12s  %7s\n", "tracked", "ever",
	       "switches by", "switches/s", "empty ns", "on_switch ns",
	       "ratio");
	fflush(stdout);
	for (int k = 0; k < nr_ns; k++) {
		struct herd h = { 0 };
		struct row ru, rt;
		__u64 lost = 0;
		int n = ns[k];

		if (churn && churn_herd(churn, c.cpu, req_fd, stats_fd,
					&lost_total))
			goto out;
		ever += churn + n;
		if (n && track_herd(&h, n, c.cpu, req_fd, stats_fd, &lost)) {
			herd_stop(&h);
			goto out;
		}
		lost_total += lost;
		if (measure_rows(&c, n, &h, &ru, &rt)) {
			herd_stop(&h);
			goto out;
		}
		herd_stop(&h);
		ru.ever = rt.ever = ever;
		rows[nr_rows++] = ru;
		print_row(&ru, true, 1.5);
		if (n) {
			rows[nr_rows++] = rt;
			print_row(&rt, false, 0);
		}
		fflush(stdout);
		requests_drained(req_fd);
	}

	if (max_n > 1) {
		printf("\n  flat up to %d tracked (target +-10%%): largest "
		       "change vs the first row, judged on\n  the ratio (the "
		       "empty program's ns move too when thousands of threads "
		       "crowd the caches):\n", max_n);
		for (int load = LOAD_UNTRACKED; load <= LOAD_TRACKED; load++) {
			int r, nx, no, ne;
			double dx = spread(rows, nr_rows, load, F_RATIO, &r, &nx);
			double dout = spread(rows, nr_rows, load, F_OURS, &r, &no);
			double de = spread(rows, nr_rows, load, F_EMPTY, &r, &ne);

			printf("    %-10s (vs %d) ratio %+5.1f%% (at %d): %-6s  "
			       "on_switch ns %+5.1f%% (at %d), empty ns %+5.1f%% "
			       "(at %d)\n",
			       load == LOAD_UNTRACKED ? "untracked" : "tracked",
			       r, dx * 100, nx,
			       dx <= 0.10 && dx >= -0.10 ? "ok" : "MISSED",
			       dout * 100, no, de * 100, ne);
		}
	}
	if (lost_total)
		printf("\n  note: the events ring buffer lost %llu events while "
		       "requests were written\n", (unsigned long long)lost_total);
	ret = 0;
out:
	if (c.ours_fd >= 0)
		close(c.ours_fd);
	if (req_fd >= 0)
		close(req_fd);
	if (stats_fd >= 0)
		close(stats_fd);
	bench_empty_bpf__destroy(skel);
	if (stats_on >= 0)
		close(stats_on);
	return ret;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench-sched [--pin-dir DIR] --cgroup DIR switch "
		"[--counts 0,1,64,4096] [--churn N] [--window-ms MS] [--reps N]\n"
		"       [--cpu CPU]\n"
		"Run as root with vcpufreq-bpf loaded on --pin-dir and DIR "
		"(a cgroup v2 directory) enrolled.\n");
}

int main(int argc, char **argv)
{
	char *args[64];
	int n = 0;

	for (int i = 1; i < argc && n < 63; i++) {
		if (!strcmp(argv[i], "--pin-dir") && i + 1 < argc)
			pin_dir = argv[++i];
		else if (!strcmp(argv[i], "--cgroup") && i + 1 < argc)
			cgroup_dir = argv[++i];
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else
			args[n++] = argv[i];
	}
	args[n] = NULL;
	if (!n || !cgroup_dir) {
		usage(stderr);
		return 1;
	}
	libbpf_set_print(NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(args[0], "switch"))
		return cmd_switch(n, args) ? 1 : 0;
	usage(stderr);
	return 1;
}
