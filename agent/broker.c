// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The broker (see broker.h and struct vcpufreq_broker_msg).  Who may do
 * what:
 *   - root may register any thread;
 *   - another user needs a grant (grants.h) and may register a thread of
 *     its own process (a grant without cgroup) or a thread inside a cgroup
 *     granted to it, up to the grant's quota, and never a thread another
 *     user registered;
 *   - a process inside one of its user's granted cgroups (a VM's pod) is
 *     that VM: its connection has that grant alone, so one user's VMs
 *     (KubeVirt runs every pod as uid 107) cannot steer each other; a
 *     process outside them all (a bridge on the host) has every grant of
 *     its user;
 *   - requests and unregistering name a TID the same user registered, and
 *     only while it is the same thread (its start time), so a reused TID
 *     is never steered by the old registration.
 * A registration belongs to the user, not the connection: it outlives a
 * VMM restart (or `vcpufreq-bpf request`), and ends with the thread, an
 * unregister, the grant's revocation, or the thread leaving the grant's
 * cgroup (ownership follows the cgroup: a thread root moves into another
 * VM's cgroup is no longer the first VM's).  A grant's quota counts the
 * threads registered under that grant (one VM), never all of its user's.
 * Requests are coalesced per thread and applied at most every
 * BROKER_THREAD_GAP per thread and BROKER_RATE per second per user.  The
 * socket is open to every user, so what a user without a grant can cost
 * is bounded: its connection's first message is answered "no grant" and
 * the connection closed, at most BROKER_UNGRANTED_RATE times a second per
 * uid (beyond that it is closed at accept, unanswered; and past
 * BROKER_SHUT_RATE such connections a second, all users together, the
 * socket waits before it accepts again: a flood costs the flooders); a granted
 * connection must say HELLO before anything else, or it is closed (only
 * HELLO is processed before it succeeds); each user has a
 * cap of connections, with room kept for root; and each uid has its own
 * log allowance (BROKER_LOG_RATE lines a second), so one tenant's flood
 * never hides another's refusals.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <bpf/bpf.h>
#include "broker.h"
#include "brokerclient.h"
#include "base.h"
#include "grants.h"
#include "procstat.h"
#include "tidindex.h"

#define BROKER_MAX_CONNS	256
#define BROKER_ROOT_CONNS	8	/* of those, kept for root (`grant`) */
#define BROKER_UID_CONNS	64	/* at most, per granted user */
#define BROKER_UNGRANTED_CONNS	4	/* per user without a grant: HELLO */
#define BROKER_MAX_TIDS		4096
#define BROKER_BUCKETS		8192	/* power of two, > BROKER_MAX_TIDS */
#define BROKER_READ_BATCH	64	/* messages per connection per event */
#define BROKER_APPLY_BATCH	256	/* map writes per agent iteration */
#define BROKER_RATE		1000	/* applies per second per user */
#define BROKER_THREAD_GAP	0.01	/* s between two applies for a thread */
#define BROKER_MSG_RATE		10000	/* messages read per second per user */
#define BROKER_MAX_GROUPS	16
#define BROKER_UNGRANTED_RATE	20	/* answered refusals per second per uid */
#define BROKER_LOG_RATE		10	/* log lines per second per uid */
#define BROKER_SHUT_RATE	100	/* ungranted connections per second, all users */

struct creds {
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[BROKER_MAX_GROUPS];
};

struct peer {
	pid_t pid;			/* the VMM process at connect() */
	long long start;		/* its start time: a reused pid is not it */
};

struct conn {
	int fd;
	bool paused;			/* its user sent too much: not read */
	bool hello;			/* its HELLO succeeded */
	int grant;			/* the VM it is in (grants[]), -1: any */
	struct creds who;
	struct peer peer;
};

struct owned {
	__u32 tid;
	bool dirty;			/* a request waits to be applied */
	double applied;			/* when the last one was (now_s) */
	struct creds who;		/* the user who registered it */
	struct peer peer;		/* and its process */
	int grant;			/* the grant that covers it, -1: root */
	long long start;		/* the thread's start time */
	struct vcpufreq_request req;
};

struct bucket {				/* what one user may still do now */
	uid_t uid;
	double applies;			/* BROKER_RATE a second */
	double msgs;			/* BROKER_MSG_RATE a second */
	double ungranted;		/* BROKER_UNGRANTED_RATE a second */
	double logs;			/* BROKER_LOG_RATE a second */
	double last;
};

struct broker {
	const struct broker_ops *ops;
	int listen_fd;
	int ep_fd;
	int requests_fd;
	struct vcpufreq_stats *stats;
	char path[108];
	int nr_conns;
	struct conn *conns[BROKER_MAX_CONNS];
	int nr_owned;
	struct owned owned[BROKER_MAX_TIDS];
	__u16 index[BROKER_BUCKETS];	/* TID hash -> owned index + 1 */
	struct vf_tid_table tids;	/* owned by TID, over index */
	int nr_grants;
	struct grant grants[VCPUFREQ_MAX_GRANTS];
	int nr_buckets;
	struct bucket buckets[BROKER_MAX_CONNS];
	double shut, shut_last;		/* BROKER_SHUT_RATE a second, all users */
	bool listen_paused;		/* shut allowance spent: not accepting */
};

static void count(struct broker *b, __u64 *field)
{
	__atomic_fetch_add(field, 1, __ATOMIC_RELAXED);
}

/* ---- the registrations, by TID ------------------------------------------ */

/*
 * The threads registered under grant @which: one VM's.  A grant without a
 * cgroup covers one VMM process at a time, so there it is per process.
 */
static int owned_under(struct broker *b, int which, const struct peer *p)
{
	bool per_process = which >= 0 && !*b->grants[which].cgroup;
	int n = 0;

	for (int i = 0; i < b->nr_owned; i++)
		n += b->owned[i].grant == which &&
		     (!per_process || b->owned[i].peer.pid == p->pid);
	return n;
}

/* the same thread as when it was registered (not a reused TID) */
static bool same_thread(const struct owned *o)
{
	return vf_thread_stat_field(o->tid, VF_STAT_STARTTIME) == o->start;
}

/* ---- what a user may do --------------------------------------------------- */

static bool grant_applies(const struct grant *g, const struct creds *c)
{
	if (!g->group)
		return g->id == c->uid;
	if (g->id == c->gid)
		return true;
	for (int i = 0; i < c->ngroups; i++)
		if (g->id == c->groups[i])
			return true;
	return false;
}

/* @path ("/vms/vm1/vcpu0") is @top or below it */
static bool cgroup_within(const char *path, const char *top)
{
	size_t n = strlen(top);

	if (!strcmp(top, "/"))
		return true;
	return !strncmp(path, top, n) && (path[n] == 0 || path[n] == '/');
}

static bool is_peer_thread(const struct peer *p, __u32 tid)
{
	char path[64];

	if (p->pid <= 0 ||
	    vf_thread_stat_field(p->pid, VF_STAT_STARTTIME) != p->start)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/task/%u", p->pid, tid);
	return !access(path, F_OK);
}

/* the grant of @who whose cgroup holds process @p (its VM), else -1 */
static int grant_of_peer(struct broker *b, const struct creds *who,
			 const struct peer *p)
{
	char cg[PATH_MAX] = "";

	if (who->uid == 0 || p->pid <= 0 ||
	    thread_cgroup_path(p->pid, cg, sizeof(cg)))
		return -1;
	for (int i = 0; i < b->nr_grants; i++)
		if (grant_applies(&b->grants[i], who) && *b->grants[i].cgroup &&
		    cgroup_within(cg, b->grants[i].cgroup))
			return i;
	return -1;
}

/*
 * May @who, calling from process @p, steer @tid?  0, -EPERM (not a thread
 * of its VM) or -EACCES (no grant at all); @which gets the grant that
 * allows it and @quota that grant's quota.  A process inside a granted
 * cgroup has that grant only.
 */
static int may_steer(struct broker *b, const struct creds *who,
		     const struct peer *p, __u32 tid, __u32 *quota,
		     int *which)
{
	int only = grant_of_peer(b, who, p);
	char cg[PATH_MAX] = "";
	bool any = false;

	*quota = 0;
	*which = -1;
	if (who->uid == 0) {
		*quota = BROKER_MAX_TIDS;
		return 0;
	}
	thread_cgroup_path(tid, cg, sizeof(cg));
	for (int i = 0; i < b->nr_grants; i++) {
		const struct grant *g = &b->grants[i];

		if (!grant_applies(g, who) || (only >= 0 && i != only))
			continue;
		any = true;
		if (*g->cgroup ? *cg && cgroup_within(cg, g->cgroup) :
		    is_peer_thread(p, tid)) {
			*which = i;
			*quota = g->max_vcpus;
			return 0;
		}
	}
	return any ? -EPERM : -EACCES;
}

static bool has_grant(struct broker *b, const struct creds *who)
{
	if (who->uid == 0)
		return true;
	for (int i = 0; i < b->nr_grants; i++)
		if (grant_applies(&b->grants[i], who))
			return true;
	return false;
}

/*
 * A thread registered under a grant with a cgroup is that VM's while it
 * stays in the cgroup: one that root moved elsewhere (another tenant's
 * VM) is no longer the first VM's to steer.
 */
static bool still_in_its_vm(struct broker *b, const struct owned *o)
{
	char cg[PATH_MAX] = "";

	if (o->grant < 0 || o->grant >= b->nr_grants ||
	    !*b->grants[o->grant].cgroup)
		return true;
	return !thread_cgroup_path(o->tid, cg, sizeof(cg)) &&
	       cgroup_within(cg, b->grants[o->grant].cgroup);
}

/* a registration that is no longer the VM's: its request goes too */
static void drop_moved(struct broker *b, struct owned *o)
{
	b->ops->log("broker: TID %u left the cgroup of uid %u's grant: its "
		    "registration and request are dropped", o->tid, o->who.uid);
	bpf_map_delete_elem(b->requests_fd, &o->tid);
	vf_tid_remove(&b->tids, o);
}

/* ---- operations -------------------------------------------------------------- */

static struct bucket *bucket_of(struct broker *b, uid_t uid);

/* one of @uid's log lines (BROKER_LOG_RATE a second each), else counted */
static bool may_log(struct broker *b, uid_t uid)
{
	struct bucket *k = bucket_of(b, uid);

	if (k->logs >= 1) {
		k->logs -= 1;
		return true;
	}
	count(b, &b->stats->log_suppressed);
	return false;
}

static int refuse(struct broker *b, const struct conn *c, __u32 op,
		  __u32 tid, int error, const char *why)
{
	count(b, &b->stats->broker_refused);
	if (error == -EPERM || error == -EBUSY)
		count(b, &b->stats->broker_cross_vm);
	if (error == -EDQUOT)
		count(b, &b->stats->broker_quota);
	if (may_log(b, c->who.uid))
		b->ops->log("broker: refused op %u on TID %u for uid %u (pid "
			    "%d): %s", op, tid, c->who.uid, c->peer.pid, why);
	return error;
}

static int do_register(struct broker *b, struct conn *c,
		       const struct vcpufreq_broker_msg *m)
{
	struct owned *o = vf_tid_find(&b->tids, m->tid);
	long long start = vf_thread_stat_field(m->tid, VF_STAT_STARTTIME);
	__u32 quota;
	int ret, which;

	if (start <= 0)
		return refuse(b, c, m->op, m->tid, -ESRCH, "no such thread");
	if (o && !same_thread(o)) {
		/* the old thread is gone, and its claim */
		vf_tid_remove(&b->tids, o);
		o = NULL;
	}
	if (o && !still_in_its_vm(b, o)) {
		drop_moved(b, o);
		o = NULL;
	}
	ret = may_steer(b, &c->who, &c->peer, m->tid, &quota, &which);
	if (ret)
		return refuse(b, c, m->op, m->tid, ret,
			      "neither a thread of the caller's process nor "
			      "in a cgroup granted to it");
	if (o && o->who.uid != c->who.uid && c->who.uid != 0)
		return refuse(b, c, m->op, m->tid, -EBUSY,
			      "registered by another user's VMM");
	if (!o && owned_under(b, which, &c->peer) >= (int)quota)
		return refuse(b, c, m->op, m->tid, -EDQUOT, "quota used up");
	if (!o && b->nr_owned >= BROKER_MAX_TIDS)
		return refuse(b, c, m->op, m->tid, -ENOSPC, "broker full");
	if (!o) {
		o = vf_tid_add(&b->tids, m->tid);
	}
	o->who = c->who;
	o->peer = c->peer;
	o->grant = which;
	o->start = start;
	o->dirty = false;
	o->req = (struct vcpufreq_request){ .vm_id = m->vm_id,
					    .vcpu = m->vcpu };
	if (bpf_map_update_elem(b->requests_fd, &o->tid, &o->req, BPF_ANY)) {
		ret = -errno;
		vf_tid_remove(&b->tids, o);
		return refuse(b, c, m->op, m->tid, ret, strerror(-ret));
	}
	count(b, &b->stats->broker_registered);
	return 0;
}

/*
 * @c's user registered @tid and, with @check_thread, it is still that
 * thread (a request is checked when it is applied: no /proc read per
 * message)
 */
static struct owned *mine(struct broker *b, struct conn *c, __u32 tid,
			  bool check_thread, int *error)
{
	struct owned *o = vf_tid_find(&b->tids, tid);

	*error = 0;
	if (o && check_thread && !same_thread(o)) {
		vf_tid_remove(&b->tids, o);
		o = NULL;
	}
	if (!o)
		*error = -ENOENT;
	else if (c->who.uid != 0 && (o->who.uid != c->who.uid ||
		 (c->grant >= 0 && o->grant != c->grant)))
		*error = -EPERM;	/* another user's, or its other VM's */
	return *error ? NULL : o;
}

static int do_unregister(struct broker *b, struct conn *c,
			 const struct vcpufreq_broker_msg *m)
{
	int error;
	struct owned *o = mine(b, c, m->tid, true, &error);

	if (!o)
		return refuse(b, c, m->op, m->tid, error,
			      error == -EPERM ? "another user's thread" :
			      "not registered");
	bpf_map_delete_elem(b->requests_fd, &o->tid);
	vf_tid_remove(&b->tids, o);
	return 0;
}

static int do_request(struct broker *b, struct conn *c,
		      const struct vcpufreq_broker_msg *m)
{
	int error;
	struct owned *o;

	count(b, &b->stats->broker_requests);
	o = mine(b, c, m->tid, false, &error);
	if (!o)
		return refuse(b, c, m->op, m->tid, error,
			      error == -EPERM ? "another user's thread" :
			      "not registered");
	if (o->dirty)
		count(b, &b->stats->broker_coalesced);
	o->req.perf = m->perf > VCPUFREQ_PERF_MAX ? VCPUFREQ_PERF_MAX : m->perf;
	o->req.guest_perf = m->guest_perf;
	o->dirty = true;
	return 0;
}

static int reload_grants(struct broker *b);

static int handle(struct broker *b, struct conn *c,
		  const struct vcpufreq_broker_msg *m)
{
	if (!c->hello && !has_grant(b, &c->who))
		return refuse(b, c, m->op, m->tid, -EPERM, "no grant");
	if (!c->hello && m->op != VCPUFREQ_BROKER_HELLO)
		return refuse(b, c, m->op, m->tid, -EPROTO,
			      "no HELLO first: the connection is closed");
	switch (m->op) {
	case VCPUFREQ_BROKER_HELLO:
		if (m->tid != VCPUFREQ_BROKER_VERSION)
			return -EPROTO;
		if (!has_grant(b, &c->who))
			return refuse(b, c, m->op, 0, -EPERM, "no grant");
		if (!c->peer.start) {	/* granted since it connected */
			c->peer.start = vf_thread_stat_field(c->peer.pid,
							     VF_STAT_STARTTIME);
			c->grant = grant_of_peer(b, &c->who, &c->peer);
		}
		c->hello = true;
		return 0;
	case VCPUFREQ_BROKER_REGISTER:
		return do_register(b, c, m);
	case VCPUFREQ_BROKER_REQUEST:
		return do_request(b, c, m);
	case VCPUFREQ_BROKER_UNREGISTER:
		return do_unregister(b, c, m);
	case VCPUFREQ_BROKER_RELOAD:
		return c->who.uid ? refuse(b, c, m->op, 0, -EPERM, "not root") :
		       reload_grants(b);
	}
	return refuse(b, c, m->op, m->tid, -EINVAL, "unknown operation");
}

static void answer(struct conn *c, const struct vcpufreq_broker_msg *m,
		   int error)
{
	struct vcpufreq_broker_reply r = {
		.op = m->op, .tid = m->tid, .error = error,
	};

	if (m->op == VCPUFREQ_BROKER_REQUEST && !error)
		return;
	/* a peer that does not read its answers only loses them */
	send(c->fd, &r, sizeof(r), MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* ---- what a user may send and have applied, per second --------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* @uid's allowance, refilled for the time since it was last looked at */
static struct bucket *bucket_of(struct broker *b, uid_t uid)
{
	struct bucket *k = NULL;
	double now = now_s(), dt;

	for (int i = 0; i < b->nr_buckets && !k; i++)
		if (b->buckets[i].uid == uid)
			k = &b->buckets[i];
	if (!k) {
		if (b->nr_buckets >= BROKER_MAX_CONNS)
			b->nr_buckets = 0;	/* forget them all: a fresh start */
		k = &b->buckets[b->nr_buckets++];
		*k = (struct bucket){ .uid = uid, .last = now,
				      .ungranted = BROKER_UNGRANTED_RATE,
				      .logs = BROKER_LOG_RATE };
	}
	dt = now - k->last;
	k->last = now;
	/* bursts: a tenth of a second's worth */
	k->applies += dt * BROKER_RATE;
	if (k->applies > BROKER_RATE / 10)
		k->applies = BROKER_RATE / 10;
	k->msgs += dt * BROKER_MSG_RATE;
	if (k->msgs > BROKER_MSG_RATE / 10)
		k->msgs = BROKER_MSG_RATE / 10;
	/* these two: a second's worth */
	k->ungranted += dt * BROKER_UNGRANTED_RATE;
	if (k->ungranted > BROKER_UNGRANTED_RATE)
		k->ungranted = BROKER_UNGRANTED_RATE;
	k->logs += dt * BROKER_LOG_RATE;
	if (k->logs > BROKER_LOG_RATE)
		k->logs = BROKER_LOG_RATE;
	return k;
}

/* take one of @uid's applies (root: unlimited) */
static bool take_apply(struct broker *b, uid_t uid)
{
	struct bucket *k;

	if (uid == 0)
		return true;
	k = bucket_of(b, uid);
	if (k->applies < 1)
		return false;
	k->applies -= 1;
	return true;
}

/*
 * A user that sent BROKER_MSG_RATE messages in a second is not read for
 * a while: its sends fill its socket and fail (its CPU, not ours), and
 * it resumes once its allowance has grown back by a batch.
 */
static bool pause_if_spent(struct broker *b, struct conn *c)
{
	struct bucket *k;
	struct epoll_event ev = { .events = c->paused ? EPOLLIN : 0,
				  .data.ptr = c };

	if (c->who.uid == 0)
		return false;
	k = bucket_of(b, c->who.uid);
	if (c->paused == (k->msgs < BROKER_READ_BATCH))
		return c->paused;
	c->paused = !c->paused;
	if (c->paused)
		count(b, &b->stats->broker_rate_limited);
	epoll_ctl(b->ep_fd, EPOLL_CTL_MOD, c->fd, &ev);
	return c->paused;
}

/* ---- connections ------------------------------------------------------------- */

static void close_conn(struct broker *b, int i)
{
	close(b->conns[i]->fd);	/* also leaves the epoll set */
	free(b->conns[i]);
	b->conns[i] = b->conns[--b->nr_conns];
}

static int peer_creds(int fd, struct conn *c)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);
	gid_t groups[BROKER_MAX_GROUPS];

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len))
		return -errno;
	c->peer.pid = uc.pid;
	c->who.uid = uc.uid;
	c->who.gid = uc.gid;
	len = sizeof(groups);
	if (!getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len)) {
		c->who.ngroups = len / sizeof(gid_t);
		memcpy(c->who.groups, groups, len);
	}
	return 0;
}

/*
 * One more connection for @who fits: its user's cap (lower without a
 * grant: such a connection is only ever refused) and, but for root,
 * below the connections kept for root.
 */
static bool conn_fits(struct broker *b, const struct creds *who)
{
	int mine = 0;

	if (who->uid == 0)
		return b->nr_conns < BROKER_MAX_CONNS;
	if (b->nr_conns >= BROKER_MAX_CONNS - BROKER_ROOT_CONNS)
		return false;
	for (int i = 0; i < b->nr_conns; i++)
		mine += b->conns[i]->who.uid == who->uid;
	return mine < (has_grant(b, who) ? BROKER_UID_CONNS :
		       BROKER_UNGRANTED_CONNS);
}

/*
 * A user without a grant may do nothing: its first message (HELLO, or
 * anything) is answered "no grant" and the connection closed, and past
 * BROKER_UNGRANTED_RATE connections a second it is closed at accept,
 * unanswered (no /proc read, no log line: a few system calls).
 */
static bool ungranted_spent(struct broker *b, const struct creds *who)
{
	struct bucket *k;

	if (has_grant(b, who))
		return false;
	k = bucket_of(b, who->uid);
	if (k->ungranted >= 1) {
		k->ungranted -= 1;
		return false;
	}
	return true;
}

/*
 * What connections of users with nothing to do here may still cost us
 * now.  Each is a few system calls and the freeing of what its peer
 * queued before we took it (up to net.unix.max_dgram_qlen messages), so
 * a flood of connects (from many uids, or from one over its cap) would
 * cost the agent in proportion to the flooders' CPU.  Past
 * BROKER_SHUT_RATE such connections a second, all users together
 * (answered "no grant" or closed at accept), the socket is not accepted
 * from until the allowance has grown back a fiftieth of a second's
 * worth: the connects wait in the kernel's backlog, their senders
 * blocked (their CPU, not ours), and a VMM's or root's connect waits
 * behind at most the backlog's 64 of them (0.64 s).
 */
static double shut_allowance(struct broker *b)
{
	double now = now_s();

	b->shut += (now - b->shut_last) * BROKER_SHUT_RATE;
	b->shut_last = now;
	if (b->shut > BROKER_SHUT_RATE / 10)
		b->shut = BROKER_SHUT_RATE / 10;
	return b->shut;
}

static void listen_pause(struct broker *b, bool pause)
{
	struct epoll_event ev = { .events = pause ? 0 : EPOLLIN, .data.ptr = b };

	if (b->listen_paused == pause)
		return;
	b->listen_paused = pause;
	if (pause)
		count(b, &b->stats->broker_rate_limited);
	epoll_ctl(b->ep_fd, EPOLL_CTL_MOD, b->listen_fd, &ev);
}

static void accept_conns(struct broker *b, int ep_fd)
{
	for (int i = 0; i < BROKER_READ_BATCH; i++) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct conn *c;
		int fd;

		if (shut_allowance(b) < 1) {
			listen_pause(b, true);
			return;
		}
		fd = accept4(b->listen_fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		c = calloc(1, sizeof(*c));
		if (!c || peer_creds(fd, c) || ungranted_spent(b, &c->who) ||
		    !conn_fits(b, &c->who)) {
			count(b, &b->stats->broker_refused);
			count(b, &b->stats->broker_conns_refused);
			b->shut -= 1;
			if (!c || (has_grant(b, &c->who) && may_log(b, c->who.uid)))
				b->ops->log("broker: connection of uid %d "
					    "refused (%d open)", c ?
					    (int)c->who.uid : -1, b->nr_conns);
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		if (has_grant(b, &c->who)) {	/* else it is only refused */
			c->peer.start = vf_thread_stat_field(c->peer.pid,
							     VF_STAT_STARTTIME);
			c->grant = grant_of_peer(b, &c->who, &c->peer);
		} else {
			c->grant = -1;
			b->shut -= 1;	/* to be answered "no grant" and closed */
		}
		ev.data.ptr = c;
		if (epoll_ctl(ep_fd, EPOLL_CTL_ADD, fd, &ev)) {
			free(c);
			close(fd);
			continue;
		}
		b->conns[b->nr_conns++] = c;
	}
}

/*
 * One bounded batch of @c's messages, in one recvmmsg(): the rest waits
 * for the next turn of the loop.  A refused request is answered once a
 * batch (a VMM that floods refused requests gets no answer per message).
 */
static void read_conn(struct broker *b, int i)
{
	struct conn *c = b->conns[i];
	struct vcpufreq_broker_msg m[BROKER_READ_BATCH];
	struct mmsghdr h[BROKER_READ_BATCH];
	struct iovec v[BROKER_READ_BATCH];
	bool answered_refusal = false;
	int n;

	if (pause_if_spent(b, c))
		return;
	memset(h, 0, sizeof(h));
	for (int k = 0; k < BROKER_READ_BATCH; k++) {
		v[k] = (struct iovec){ .iov_base = &m[k], .iov_len = sizeof(m[k]) };
		h[k].msg_hdr.msg_iov = &v[k];
		h[k].msg_hdr.msg_iovlen = 1;
	}
	n = recvmmsg(c->fd, h, BROKER_READ_BATCH, 0, NULL);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0 || (n == 1 && h[0].msg_len == 0)) {
		close_conn(b, i);
		return;
	}
	if (c->who.uid)
		bucket_of(b, c->who.uid)->msgs -= n;
	for (int k = 0; k < n; k++) {
		int error;

		if (h[k].msg_len != sizeof(m[k]) ||
		    (h[k].msg_hdr.msg_flags & MSG_TRUNC)) {
			if (!h[k].msg_len) {	/* the peer closed */
				close_conn(b, i);
				return;
			}
			/* longer (cut to our size: MSG_TRUNC) or shorter */
			refuse(b, c, 0, 0, -EINVAL, "bad message size");
			if (!c->hello) {
				close_conn(b, i);
				return;
			}
			continue;
		}
		error = handle(b, c, &m[k]);
		if (m[k].op != VCPUFREQ_BROKER_REQUEST || (error &&
		    !answered_refusal))
			answer(c, &m[k], error);
		if (!c->hello) {
			close_conn(b, i);	/* it may do nothing: no slot */
			return;
		}
		answered_refusal |= m[k].op == VCPUFREQ_BROKER_REQUEST && error;
		if (m[k].op == VCPUFREQ_BROKER_RELOAD)
			return;	/* the connection may be gone */
	}
}

void broker_event(struct broker *b, void *ptr, __u32 events)
{
	if (ptr == b) {
		accept_conns(b, b->ep_fd);
		return;
	}
	for (int i = 0; i < b->nr_conns; i++)
		if (b->conns[i] == ptr) {
			read_conn(b, i);
			return;
		}
}

/* ---- applying requests ------------------------------------------------------- */

bool broker_apply(struct broker *b)
{
	double now = now_s();
	bool waiting = false;
	int done = 0;

	for (int i = 0; i < b->nr_conns; i++)
		if (b->conns[i]->paused)
			pause_if_spent(b, b->conns[i]);
	if (b->listen_paused && shut_allowance(b) >= BROKER_SHUT_RATE / 50)
		listen_pause(b, false);
	waiting = b->listen_paused;	/* come back to listen again */

	for (int i = 0; i < b->nr_owned && done < BROKER_APPLY_BATCH; i++) {
		struct owned *o = &b->owned[i];

		if (!o->dirty)
			continue;
		if (now - o->applied < BROKER_THREAD_GAP ||
		    !take_apply(b, o->who.uid)) {
			count(b, &b->stats->broker_rate_limited);
			waiting = true;	/* the agent comes back soon */
			continue;
		}
		o->dirty = false;
		o->applied = now;
		done++;
		if (same_thread(o) && !still_in_its_vm(b, o)) {
			drop_moved(b, o);
			i--;
			continue;
		}
		/* BPF_EXIST: a thread that exited took its entry with it */
		if (!same_thread(o) ||
		    bpf_map_update_elem(b->requests_fd, &o->tid, &o->req,
					BPF_EXIST)) {
			vf_tid_remove(&b->tids, o);
			i--;
		}
	}
	return waiting || done == BROKER_APPLY_BATCH;
}

void broker_forget(struct broker *b, __u32 tid)
{
	struct owned *o = vf_tid_find(&b->tids, tid);

	if (o)
		vf_tid_remove(&b->tids, o);
}

/* ---- grants, socket ------------------------------------------------------------ */

/*
 * `grant` changed the grants: connections of users without one are
 * closed, and every registration the grants no longer cover is dropped
 * (its request deleted, so the host restores that thread).
 */
static int reload_grants(struct broker *b)
{
	int n = grants_load(b->grants, VCPUFREQ_MAX_GRANTS);
	__u32 quota;

	if (n < 0) {
		b->ops->log("broker: cannot read the grants: %s",
			  strerror(errno));
		return -EIO;
	}
	b->nr_grants = n;
	count(b, &b->stats->grants_reloaded);
	for (int i = b->nr_conns - 1; i >= 0; i--) {
		struct conn *c = b->conns[i];

		if (!has_grant(b, &c->who))
			close_conn(b, i);
		else
			c->grant = grant_of_peer(b, &c->who, &c->peer);
	}
	for (int i = b->nr_owned - 1; i >= 0; i--) {
		struct owned *o = &b->owned[i];

		if (!may_steer(b, &o->who, &o->peer, o->tid, &quota, &o->grant))
			continue;
		b->ops->log("broker: grant revoked: uid %u loses TID %u",
			  o->who.uid, o->tid);
		if (same_thread(o))
			bpf_map_delete_elem(b->requests_fd, &o->tid);
		vf_tid_remove(&b->tids, o);
	}
	return 0;
}

void broker_reload(struct broker *b)
{
	reload_grants(b);
}

int broker_watch(struct broker *b, int ep_fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = b };

	b->ep_fd = ep_fd;
	return epoll_ctl(ep_fd, EPOLL_CTL_ADD, b->listen_fd, &ev);
}

struct broker *broker_open(const char *state_dir, int requests_fd,
			   struct vcpufreq_stats *stats,
			   const struct broker_ops *ops)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct broker *b = calloc(1, sizeof(*b));

	if (!b) {
		err("agent: out of memory for the broker");
		return NULL;
	}
	b->ops = ops;
	b->tids = (struct vf_tid_table){
		.entries = b->owned, .stride = sizeof(b->owned[0]),
		.count = &b->nr_owned, .index = b->index,
		.nbuckets = BROKER_BUCKETS,
	};
	b->requests_fd = requests_fd;
	b->stats = stats;
	b->listen_fd = -1;
	vf_broker_path(opts.pin_dir, sa.sun_path, sizeof(sa.sun_path));
	snprintf(b->path, sizeof(b->path), "%s", sa.sun_path);
	if (state_dir_check(state_dir))
		goto fail;
	b->nr_grants = grants_load(b->grants, VCPUFREQ_MAX_GRANTS);
	if (b->nr_grants < 0)
		b->nr_grants = 0;
	b->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
			      SOCK_CLOEXEC, 0);
	unlink(b->path);	/* a dead agent's: the state dir is ours */
	if (b->listen_fd < 0 ||
	    bind(b->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chmod(b->path, 0666) || listen(b->listen_fd, 64)) {
		err("agent: cannot listen on %s: %s", b->path, strerror(errno));
		goto fail;
	}
	return b;
fail:
	broker_close(b);
	return NULL;
}

void broker_close(struct broker *b)
{
	if (!b)
		return;
	while (b->nr_conns)
		close_conn(b, b->nr_conns - 1);
	if (b->listen_fd >= 0) {
		close(b->listen_fd);
		unlink(b->path);
	}
	free(b);
}
