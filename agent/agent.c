// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The agent: the user-space half of every backend (with scx it holds the
 * scheduler and switches threads in and out of it).  It sleeps in epoll on
 * the events ring buffer (and a signalfd) -- no polling -- syncs every
 * written TID through the BPF task iterator, and for every resulting event
 * applies the thread's effective request: its request when BPF says it is
 * enrolled, else 0 (restore).  What it applied and saved lives in the
 * pinned actions map.  It also runs the broker (broker.c) for VMMs that
 * are not root.
 *
 * No write rate may take the agent from its signals: each turn of the
 * loop does a bounded amount of work (so many events, broker messages,
 * map writes, per-thread syncs; a walk of every host thread at most once
 * per pass) and the signalfd is polled at every turn.  What is left waits
 * for the next turn, coalesced.  The log is rate limited and capped.
 * SIGTERM and SIGINT stop it; SIGHUP has the broker read the grants
 * again (what `grant` sends: a revocation needs no broker connection).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "agent.h"
#include "broker.h"
#include "metrics.h"
#include "base.h"
#include "pins.h"
#include "procstat.h"

/*
 * Events BPF does not wake us for (request changes the scx and observe
 * backends need not act on at once) are taken in at least this often.
 */
#define AGENT_PASS_MS	100

#define MAX_PENDING 256
#define MAX_RETUNES 256	/* threads whose latest RETUNE waits for the pass */
#define REFRESH_EACH_MAX	32	/* TIDs refreshed one by one per turn */
#define EVENT_BATCH	4096	/* ring buffer events per turn */
#define BROKER_TURN_MIN_MS	2	/* after broker messages, a turn at most every 2 ms */
#define TID_PENDING_SIZE	(VCPUFREQ_TID_BITS_WORDS * sizeof(__u64))
#define LOG_LINES_PER_S	20
#define LOG_MAX_BYTES	(1 << 20)	/* then agent.log becomes agent.log.1 */

static struct vcpufreq_stats *log_stats;

/*
 * One line in the agent's log, at most LOG_LINES_PER_S a second: a
 * guest or a VMM can cause log lines, and must not fill the disk.
 */
void agent_log(const char *fmt, ...)
{
	static long window, lines;
	struct timespec ts;
	va_list ap;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if (ts.tv_sec != window) {
		if (lines > LOG_LINES_PER_S)
			fprintf(stderr, "agent: %ld log lines suppressed\n",
				lines - LOG_LINES_PER_S);
		window = ts.tv_sec;
		lines = 0;
	}
	if (++lines > LOG_LINES_PER_S) {
		if (log_stats)
			__atomic_fetch_add(&log_stats->log_suppressed, 1,
					   __ATOMIC_RELAXED);
		return;
	}
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * The broker's lines: it limits them per uid itself (BROKER_LOG_RATE), so
 * that one tenant's flood cannot use up an allowance another's refusals
 * need; agent.log's rollover bounds the disk they take.
 */
static void broker_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* the broker logs through the agent (broker.h) */
static const struct broker_ops broker_ops = { .log = broker_log };

/* agent.log past LOG_MAX_BYTES: keep one older file, start a new one */
static void cap_log(const char *state_dir)
{
	char log[PATH_MAX], old[PATH_MAX + 4];
	struct stat cur, file;
	int fd;

	vf_state_file(state_dir, VF_STATE_AGENT_LOG, log, sizeof(log));
	if (fstat(STDERR_FILENO, &cur) || cur.st_size < LOG_MAX_BYTES ||
	    lstat(log, &file) || file.st_ino != cur.st_ino ||
	    file.st_dev != cur.st_dev)
		return;	/* not writing agent.log (foreground: the journal) */
	snprintf(old, sizeof(old), "%s.1", log);
	rename(log, old);
	fd = open(log, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC |
		  O_NOFOLLOW, 0644);
	if (fd < 0)
		return;
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

struct agent {
	const struct actuator *act;
	struct act_env *env;
	struct vcpufreq_stats *stats;	/* mmapped stats map */
	struct broker *broker;
	int sig_fd;
	int requests_fd;
	int state_fd;			/* vcpu_state task storage */
	struct vcpufreq_slot *slots;	/* mmapped fast-path slots, or NULL */
	__u64 *tid_pending;		/* mmapped: TIDs written, not taken in */
	__u64 events_lost;		/* stats->events_lost already handled */
	bool need_refresh;		/* run the refresh iterator */
	bool need_walk;			/* on every thread: cgroups changed */
	bool need_reconcile;		/* events or pending TIDs were lost */
	struct timespec last_walk;	/* walks: at most one per pass */
	bool backlog;			/* work left: the next turn at once */
	bool broker_turn;		/* the last turn read broker messages */
	struct timespec last_turn;	/* then the next waits BROKER_TURN_MIN_MS */
	struct timespec last_log_check;
	bool requests_wait;		/* broker requests held by its limits */
	int nr_pending;
	__u32 pending[MAX_PENDING];	/* TIDs written since the last refresh */
	struct timespec last_retune;	/* retunes applied: once per pass */
	struct timespec last_slot_pass;	/* slots looked at: once per pass */
	int nr_retunes;
	struct retune {			/* the latest RETUNE of a thread */
		__u32 tid, perf;
	} retunes[MAX_RETUNES];
};

/* milliseconds since @then (CLOCK_MONOTONIC_COARSE: a few ms resolution) */
static long ms_since(const struct timespec *then)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	return (now.tv_sec - then->tv_sec) * 1000 +
	       (now.tv_nsec - then->tv_nsec) / 1000000;
}

static int set_effective(struct agent *ag, __u32 tid, __u32 perf)
{
	struct vcpufreq_action a = { 0 };
	int fd = ag->env->actions_fd;
	long long start_time;
	int ret;

	bpf_map_lookup_elem(fd, &tid, &a);
	if (!perf && !a.perf && !a.saved_valid && !a.flags)
		return 0;	/* nothing applied, nothing to restore */
	start_time = vf_thread_stat_field(tid, VF_STAT_STARTTIME);
	if (!perf && start_time <= 0) {
		bpf_map_delete_elem(fd, &tid);	/* gone: nothing to restore */
		return 0;
	}
	if (a.start_time && start_time > 0 && (__u64)start_time != a.start_time)
		memset(&a, 0, sizeof(a));	/* a reused TID: that was another thread */
	if (!a.start_time && start_time > 0)
		a.start_time = start_time;
	a.backend = ag->act->backend;
	__atomic_fetch_add(&ag->stats->agent_applies, 1, __ATOMIC_RELAXED);
	ret = ag->act->apply(ag->env, tid, perf, &a);
	if (ret)
		agent_log("agent: %s on TID %u (perf %u): %s", ag->act->name,
			  tid, perf, strerror(-ret));
	if (!a.perf && !a.saved_valid && !a.flags)
		bpf_map_delete_elem(fd, &tid);
	else
		bpf_map_update_elem(fd, &tid, &a, BPF_ANY);
	if (ag->act->apply_shared)
		ag->act->apply_shared(ag->env);
	return ret;
}

/* the backend in use changed: settings say so, for status */
static void record_backend(const struct actuator *act)
{
	struct vcpufreq_config cfg;

	if (read_settings(&cfg))
		return;
	cfg.backend = act->backend;
	if (write_settings(&cfg))
		fprintf(stderr, "agent: could not record the %s backend in "
			"settings\n", act->name);
}

/*
 * The sched_ext scheduler stopped under us (an error, a stall, SysRq-S):
 * the kernel already runs every task in the fair class.  Say why, put
 * the saved policies back, and let the next backend take over every
 * request -- they are all still in the maps, reconcile re-applies them.
 */
static void fall_back(struct agent *ag, __u32 kind)
{
	const struct actuator *next;
	char why[1200], path[PATH_MAX];
	FILE *f;

	scx_exit_reason(why, sizeof(why));
	metrics_ejected();
	restore_all_actions(ag->env);
	ag->act->stop(ag->env);
	next = actuator_after(ag->act, ag->env);
	fprintf(stderr, "agent: the sched_ext scheduler was detached: %s; "
		"falling back to the %s backend\n", why, next->name);
	vf_state_file(ag->env->state_dir, VF_STATE_SCX_EXIT, path,
		      sizeof(path));
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "%s\n", why);
		fclose(f);
	}
	ag->act = next;
	record_backend(next);
	ag->need_reconcile = true;
}

#ifndef SCHED_EXT
#define SCHED_EXT 7
#endif

/*
 * A task runs in SCHED_EXT that we did not put there (a user's own
 * sched_setscheduler(), on any task or on its vCPU whose cgroup limits
 * CPU; a vCPU's child): our scheduler serves the vCPUs we moved only, a
 * task it is not made for could get it ejected, and a limited vCPU would
 * escape its cgroup's cpu.max or cpu.weight.  Back to the fair class with
 * it.
 */
static void reset_foreign_ext(struct agent *ag, __u32 tid)
{
	struct sched_param param = { 0 };
	struct vcpufreq_action a;

	if (ag->act != &act_scx ||
	    (!bpf_map_lookup_elem(ag->env->actions_fd, &tid, &a) &&
	     a.saved_valid && a.backend == VCPUFREQ_BACKEND_SCX))
		return;	/* not our scheduler, or a vCPU we moved */
	if ((sched_getscheduler(tid) & ~SCHED_RESET_ON_FORK) != SCHED_EXT ||
	    sched_setscheduler(tid, SCHED_OTHER, &param))
		return;
	__atomic_fetch_add(&ag->stats->scx_foreign_reset, 1, __ATOMIC_RELAXED);
	agent_log("agent: TID %u was put in SCHED_EXT by someone else; moved "
		  "it back to SCHED_OTHER", tid);
}

/* a TID written since the last sync, once */
static void add_pending(struct agent *ag, __u32 tid)
{
	ag->need_refresh = true;
	for (int i = 0; i < ag->nr_pending; i++)
		if (ag->pending[i] == tid)
			return;
	if (ag->nr_pending < MAX_PENDING)
		ag->pending[ag->nr_pending++] = tid;
	else
		ag->need_walk = ag->need_reconcile = true; /* all at once */
}

/* @tid's RETUNE waiting for the pass, or NULL */
static struct retune *retune_of(struct agent *ag, __u32 tid)
{
	for (int i = 0; i < ag->nr_retunes; i++)
		if (ag->retunes[i].tid == tid)
			return &ag->retunes[i];
	return NULL;
}

/* a later event of @tid says what is in force: its RETUNE is old news */
static void forget_retune(struct agent *ag, __u32 tid)
{
	struct retune *r = retune_of(ag, tid);

	if (r)
		*r = ag->retunes[--ag->nr_retunes];
}

/*
 * A request that moved between two nonzero values, which the backend
 * reads in BPF: keep the latest of each thread, applied (recorded in
 * actions, for `vcpus`) at the next pass rather than once per change --
 * each apply is a few system calls, and a guest may change its request
 * hundreds of times a second.
 */
static void defer_retune(struct agent *ag, __u32 tid, __u32 perf)
{
	struct retune *r = retune_of(ag, tid);

	if (r) {
		r->perf = perf;
		__atomic_fetch_add(&ag->stats->retunes_coalesced, 1,
				   __ATOMIC_RELAXED);
		return;
	}
	if (ag->nr_retunes < MAX_RETUNES)
		ag->retunes[ag->nr_retunes++] = (struct retune){ tid, perf };
	else
		set_effective(ag, tid, perf);
}

static void apply_retunes(struct agent *ag)
{
	if (!ag->nr_retunes || ms_since(&ag->last_retune) < AGENT_PASS_MS)
		return;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ag->last_retune);
	for (int i = 0; i < ag->nr_retunes; i++)
		set_effective(ag, ag->retunes[i].tid, ag->retunes[i].perf);
	ag->nr_retunes = 0;
}

/*
 * A fast-path request is taken in at its thread's switch-in; a vCPU that
 * runs on without being switched out takes in none.  Once a pass, every
 * owned slot whose value BPF has not taken in is refreshed like a written
 * TID: plain loads of the mapped slots, no system call per slot.
 */
static void refresh_untaken_slots(struct agent *ag)
{
	if (!ag->slots || ms_since(&ag->last_slot_pass) < AGENT_PASS_MS)
		return;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ag->last_slot_pass);
	for (int i = 0; i < VCPUFREQ_MAX_SLOTS; i++) {
		struct vcpufreq_slot *slot = &ag->slots[i];
		__u32 tid = __atomic_load_n(&slot->tid, __ATOMIC_ACQUIRE), perf;

		if (!tid)
			continue;
		perf = __atomic_load_n(&slot->perf, __ATOMIC_RELAXED);
		if (perf > VCPUFREQ_PERF_MAX)
			perf = VCPUFREQ_PERF_MAX;
		if (perf != __atomic_load_n(&slot->taken_perf, __ATOMIC_RELAXED))
			add_pending(ag, tid);
	}
}

static int on_event(void *ctx, void *data, size_t size)
{
	const struct vcpufreq_event *e = data;
	struct agent *ag = ctx;

	if (size < sizeof(*e))
		return 0;
	if (e->type != VCPUFREQ_EV_RETUNE && e->type != VCPUFREQ_EV_PENDING &&
	    e->tid)
		forget_retune(ag, e->tid);
	switch (e->type) {
	case VCPUFREQ_EV_RETUNE:
		defer_retune(ag, e->tid, e->enrolled ? e->perf : 0);
		break;
	case VCPUFREQ_EV_PENDING:
		add_pending(ag, e->tid);
		break;
	case VCPUFREQ_EV_ENROLL:
		ag->need_refresh = ag->need_walk = true;
		break;
	case VCPUFREQ_EV_REQUEST:
	case VCPUFREQ_EV_VERDICT:
		set_effective(ag, e->tid, e->enrolled ? e->perf : 0);
		break;
	case VCPUFREQ_EV_DROP:
	case VCPUFREQ_EV_EXIT:
		set_effective(ag, e->tid, 0);
		if (ag->broker)
			broker_forget(ag->broker, e->tid);
		break;
	case VCPUFREQ_EV_SCX_EXIT:
		if (ag->act == &act_scx)
			fall_back(ag, e->perf);
		break;
	case VCPUFREQ_EV_FOREIGN_EXT:
		reset_foreign_ext(ag, e->tid);
		break;
	default:
		break;
	}
	return 0;
}

/*
 * @tid's fast-path slot, if its request names one it still owns, is freed
 * as on_exit does (a new gen first: its old VMM handle stops using it).
 */
static void free_dead_tid_slot(struct agent *ag, __u32 tid)
{
	struct vcpufreq_request req;
	struct vcpufreq_slot *slot;
	__u32 owner = tid;

	if (!ag->slots || bpf_map_lookup_elem(ag->requests_fd, &tid, &req) ||
	    !req.slot || req.slot > VCPUFREQ_MAX_SLOTS)
		return;
	slot = &ag->slots[req.slot - 1];
	if (__atomic_load_n(&slot->tid, __ATOMIC_ACQUIRE) != tid)
		return;
	__atomic_fetch_add(&slot->gen, 1, __ATOMIC_ACQ_REL);
	__atomic_compare_exchange_n(&slot->tid, &owner, 0, false,
				    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

/*
 * @tid's write is ours to take in: clear its pending bit before we look
 * (BPF's iterator does the same for a live thread), so that a write after
 * this point sets it again and wakes us again.
 */
static void take_pending(struct agent *ag, __u32 tid)
{
	__u64 bit = 1ULL << (tid % 64);

	if (ag->tid_pending && tid / 64 < VCPUFREQ_TID_BITS_WORDS)
		__atomic_fetch_and(&ag->tid_pending[tid / 64], ~bit,
				   __ATOMIC_ACQ_REL);
}

/* a request for a thread that is gone (it never got task storage) */
static void reject_dead_tid(struct agent *ag, __u32 tid)
{
	take_pending(ag, tid);
	free_dead_tid_slot(ag, tid);
	if (bpf_map_delete_elem(ag->requests_fd, &tid))
		return;
	__atomic_fetch_add(&ag->stats->rejected, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&ag->stats->rejected_no_thread, 1, __ATOMIC_RELAXED);
}

/*
 * The ring buffer overflowed (a burst of requests): some events are gone,
 * so rebuild every thread's effect from the state BPF keeps instead.
 */
static void reconcile_all(struct agent *ag)
{
	struct vcpufreq_vcpu st;
	__u32 key, *prev = NULL;

	ag->nr_retunes = 0;	/* what follows reads what is in force */
	while (!bpf_map_get_next_key(ag->requests_fd, prev, &key)) {
		prev = &key;
		if (!thread_exists(key)) {
			reject_dead_tid(ag, key);
			continue;
		}
		if (!read_vcpu_state(ag->state_fd, key, &st))
			set_effective(ag, key, st.enrolled ? st.perf : 0);
	}
	prev = NULL;
	while (!bpf_map_get_next_key(ag->env->actions_fd, prev, &key)) {
		prev = &key;
		if (read_vcpu_state(ag->state_fd, key, &st))
			set_effective(ag, key, 0);	/* no longer tracked */
	}
}

static bool events_were_lost(struct agent *ag)
{
	__u64 lost = __atomic_load_n(&ag->stats->events_lost, __ATOMIC_RELAXED);

	if (lost == ag->events_lost)
		return false;
	ag->events_lost = lost;
	return true;
}

/* a walk of every host thread, unless one ran less than a pass ago */
static bool may_walk(struct agent *ag)
{
	if (ms_since(&ag->last_walk) < AGENT_PASS_MS)
		return false;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ag->last_walk);
	__atomic_fetch_add(&ag->stats->agent_full_walks, 1, __ATOMIC_RELAXED);
	return true;
}

/*
 * A request for a TID no thread has is deleted here, so a thread that
 * later gets that TID never inherits it; the rest is taken in by BPF in
 * the refresh iterator (of that thread alone, or of every thread when
 * cgroups changed or too many TIDs wait), whose events we consume next.
 * One round per turn of the agent's loop: a writer that never stops
 * cannot keep us here.  Each TID's pending bit is cleared before its
 * request is read: a write we do not see here wakes us again.
 */
static void refresh_pending(struct agent *ag, struct ring_buffer *rb)
{
	bool walk = ag->need_walk || ag->nr_pending > REFRESH_EACH_MAX;
	int n = walk || ag->nr_pending < REFRESH_EACH_MAX ? ag->nr_pending :
		REFRESH_EACH_MAX;

	if (ag->need_refresh && (!walk || may_walk(ag))) {
		for (int i = 0; i < n; i++) {
			take_pending(ag, ag->pending[i]);
			if (!thread_exists(ag->pending[i]))
				reject_dead_tid(ag, ag->pending[i]);
			else if (!walk)
				run_refresh_iter_tid(ag->pending[i]);
		}
		ag->nr_pending -= n;
		memmove(ag->pending, ag->pending + n,
			ag->nr_pending * sizeof(ag->pending[0]));
		if (walk)
			run_refresh_iter();
		ag->need_refresh = ag->nr_pending > 0;
		ag->need_walk = false;
		__atomic_fetch_add(&ag->stats->syncs, 1, __ATOMIC_RELAXED);
		ring_buffer__consume_n(rb, EVENT_BATCH);
	}
	if (events_were_lost(ag))
		ag->need_reconcile = true;
	if (ag->need_reconcile && may_walk(ag)) {
		ag->need_reconcile = false;
		run_refresh_iter();
		ring_buffer__consume_n(rb, EVENT_BATCH);
		reconcile_all(ag);
	}
}

/*
 * Restore what @a says was changed, unless the TID now names another
 * thread (it exited and the TID was reused): then there is nothing of ours.
 */
static int restore_action(struct act_env *env, __u32 tid,
			  struct vcpufreq_action *a)
{
	const struct actuator *act = actuator_for(a->backend);

	if (!act || (a->start_time &&
		     vf_thread_stat_field(tid, VF_STAT_STARTTIME) != (long long)a->start_time))
		return 0;
	return act->apply(env, tid, 0, a);
}

int restore_all_actions(struct act_env *env)
{
	struct vcpufreq_action a;
	__u32 key, next;
	int failed = 0;

	/* step to the next key first: a record that fails to restore stays */
	for (int more = !bpf_map_get_next_key(env->actions_fd, NULL, &key);
	     more; key = next) {
		more = !bpf_map_get_next_key(env->actions_fd, &key, &next);
		if (bpf_map_lookup_elem(env->actions_fd, &key, &a))
			continue;
		if (restore_action(env, key, &a)) {
			err("could not restore TID %u (%s backend)", key,
			    backend_name(a.backend));
			failed++;
			continue;
		}
		bpf_map_delete_elem(env->actions_fd, &key);
	}
	for (int i = 0; actuators[i]; i++)
		if (actuators[i]->shutdown)
			actuators[i]->shutdown(env);
	return failed ? -1 : 0;
}

static int open_signalfd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* epoll tags of the agent's own fds; anything else is the broker's */
static char rb_tag, sig_tag;

/* false: a signal that says stop */
static bool take_signal(struct agent *ag)
{
	struct signalfd_siginfo si;

	if (read(ag->sig_fd, &si, sizeof(si)) != sizeof(si))
		return true;	/* taken by an earlier turn */
	if (si.ssi_signo != SIGHUP)
		return false;
	broker_reload(ag->broker);
	return true;
}

/*
 * How long the next turn may wait for epoll: not at all with events left
 * in the ring or TIDs left to take in (unless they wait for the next walk),
 * BROKER_RETRY_MS while broker requests are held, else a pass.
 */
static int turn_timeout_ms(struct agent *ag)
{
	if (ag->backlog)
		return 0;
	if (ag->need_refresh) {
		bool walk = ag->need_walk || ag->nr_pending > REFRESH_EACH_MAX;
		long left = walk ? AGENT_PASS_MS - ms_since(&ag->last_walk) : 0;

		return left > 0 ? left : 0;
	}
	return ag->requests_wait ? BROKER_RETRY_MS : AGENT_PASS_MS;
}

/*
 * One turn of the loop: what epoll said is ready, then a bounded share
 * of everything else.  false when a signal says stop.  A ring buffer
 * left with events does not wake us again (BPF wakes a reader that has
 * caught up), so then the next turn comes at once.
 */
static bool agent_turn(struct agent *ag, int ep_fd, struct ring_buffer *rb)
{
	struct epoll_event got[16];
	int n;

	/*
	 * After a turn that read broker messages, the next comes at most
	 * BROKER_TURN_MIN_MS later: a client that sends one message at a
	 * time would otherwise cost us a whole turn per message; this way
	 * they pile up and are read in batches.  BPF's events need no such
	 * brake (one PENDING per TID until it is taken in, one REQUEST per
	 * change taken in), and a request must not wait for it.
	 */
	if (ag->broker_turn) {
		long since = ms_since(&ag->last_turn);

		if (since < BROKER_TURN_MIN_MS)
			usleep((BROKER_TURN_MIN_MS - since) * 1000);
	}
	n = epoll_wait(ep_fd, got, 16, turn_timeout_ms(ag));
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ag->last_turn);
	if (n < 0 && errno != EINTR)
		return false;
	ag->broker_turn = false;
	for (int i = 0; i < n; i++) {
		if (got[i].data.ptr == &sig_tag) {
			if (!take_signal(ag))
				return false;
		} else if (got[i].data.ptr != &rb_tag) {
			broker_event(ag->broker, got[i].data.ptr, got[i].events);
			ag->broker_turn = true;
		}
	}
	ag->backlog = ring_buffer__consume_n(rb, EVENT_BATCH) >= EVENT_BATCH;
	/* the scheduler's exit event can be lost to a full ring */
	if (ag->act == &act_scx && scx_exit_kind())
		fall_back(ag, scx_exit_kind());
	ag->requests_wait = broker_apply(ag->broker);
	refresh_untaken_slots(ag);
	refresh_pending(ag, rb);
	apply_retunes(ag);
	if (ms_since(&ag->last_log_check) >= AGENT_PASS_MS) {
		clock_gettime(CLOCK_MONOTONIC_COARSE, &ag->last_log_check);
		cap_log(ag->env->state_dir);
	}
	metrics_pass(ag->stats, ag->act, ag->requests_fd, ag->state_fd,
		     ag->env->actions_fd);
	return true;
}


int agent_run(const struct actuator *act, struct act_env *env, int ready_fd,
	      bool try_next)
{
	/* requests already in the maps (a load after a crash) apply at once */
	struct agent ag = { .act = act, .env = env, .need_reconcile = true };
	struct epoll_event ev = { .events = EPOLLIN };
	struct ring_buffer *rb = NULL;
	int events_fd, stats_fd, sig_fd = -1, ep_fd = -1, ret = -1;
	void *stats = MAP_FAILED;
	bool started = false;

	env->actions_fd = open_pinned_map(VCPUFREQ_PIN_ACTIONS);
	events_fd = open_pinned_map(VCPUFREQ_PIN_EVENTS);
	ag.requests_fd = open_pinned_map(VCPUFREQ_PIN_REQUESTS);
	ag.state_fd = open_pinned_map(VCPUFREQ_PIN_VCPU_STATE);
	ag.slots = vf_map_slots(open_pinned_map(VCPUFREQ_PIN_SLOTS));
	ag.tid_pending = vf_map_array(open_pinned_map(VCPUFREQ_PIN_TID_PENDING),
				      TID_PENDING_SIZE);
	stats_fd = open_pinned_map(VCPUFREQ_PIN_STATS);
	sig_fd = ag.sig_fd = open_signalfd();
	if (env->actions_fd < 0 || events_fd < 0 || ag.requests_fd < 0 ||
	    ag.state_fd < 0 || stats_fd < 0 || sig_fd < 0 || !ag.tid_pending)
		goto out;
	stats = mmap(NULL, sizeof(*ag.stats), PROT_READ | PROT_WRITE,
		     MAP_SHARED, stats_fd, 0);
	if (stats == MAP_FAILED) {
		err("agent: cannot map the stats map: %s", strerror(errno));
		goto out;
	}
	ag.stats = log_stats = stats;
	env->record_first = true;	/* act_record(): before each change */
	ag.events_lost = ag.stats->events_lost;
	rb = ring_buffer__new(events_fd, on_event, &ag, NULL);
	ep_fd = epoll_create1(EPOLL_CLOEXEC);
	if (!rb || ep_fd < 0) {
		err("agent: cannot set up the event ring buffer: %s",
		    strerror(errno));
		goto out;
	}
	ev.data.ptr = &rb_tag;
	epoll_ctl(ep_fd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(rb), &ev);
	ev.data.ptr = &sig_tag;
	epoll_ctl(ep_fd, EPOLL_CTL_ADD, sig_fd, &ev);
	ag.broker = broker_open(env->state_dir, ag.requests_fd, ag.stats,
				&broker_ops);
	if (!ag.broker || broker_watch(ag.broker, ep_fd))
		goto out;
	/* with --backend auto, a backend that cannot start gives way */
	while (ag.act->start && ag.act->start(env)) {
		if (!try_next)
			goto out;
		fprintf(stderr, "agent: backend %s did not start; trying the next\n",
			ag.act->name);
		ag.act = actuator_after(ag.act, env);
	}
	started = true;
	if (ag.act != act)
		record_backend(ag.act);
	if (ready_fd >= 0) {
		char backend = ag.act->backend;	/* tells load which one runs */

		if (write(ready_fd, &backend, 1) != 1)
			goto out;
		close(ready_fd);
	}
	while (agent_turn(&ag, ep_fd, rb))
		;
	broker_close(ag.broker);
	ag.broker = NULL;
	ret = restore_all_actions(env);
out:
	broker_close(ag.broker);
	metrics_stop();
	log_stats = NULL;
	if (started && ag.act->stop)
		ag.act->stop(env);
	if (stats != MAP_FAILED)
		munmap(stats, sizeof(*ag.stats));
	if (ag.slots)
		munmap(ag.slots, VF_SLOTS_SIZE);
	if (ag.tid_pending)
		munmap(ag.tid_pending, TID_PENDING_SIZE);
	if (stats_fd >= 0)
		close(stats_fd);
	if (ag.requests_fd >= 0)
		close(ag.requests_fd);
	if (ag.state_fd >= 0)
		close(ag.state_fd);
	ring_buffer__free(rb);
	if (ep_fd >= 0)
		close(ep_fd);
	if (sig_fd >= 0)
		close(sig_fd);
	if (events_fd >= 0)
		close(events_fd);
	return ret;
}
