// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Waiting without busy polling: one epoll loop over the doorbell, QEMU's
 * sockets, the cur_perf timer and the stop signals.
 *
 * The guest rings the doorbell as often as it likes; each handling costs
 * the host a scan of the shared memory, a submit and sysfs reads per
 * changed vCPU.  So at most DOORBELL_RATE doorbells a second are handled:
 * beyond that the doorbell is not watched until a one-shot timer says
 * the next one may be, and that handling takes in the latest set_perf of
 * every vCPU (the ones in between are coalesced, as the guest's rings
 * are on the eventfd).  The counters are in SOCKET.stats for an admin to
 * read while the bridge runs, rewritten at most once a second.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include "bridge.h"

#define DOORBELL_RATE	1000	/* doorbells handled per second */
#define DOORBELL_BURST	50
#define STATS_EVERY_MS	1000

/*
 * Wait until @fd is readable, a stop signal arrives or @timeout_ms
 * (-1: none) passes.  1: readable, 0: timed out, -1: signal (stop_reason
 * set).
 */
int wait_readable(struct bridge *b, int fd, int timeout_ms)
{
	struct pollfd p[2] = {
		{ .fd = fd, .events = POLLIN },
		{ .fd = b->signal_fd, .events = POLLIN },
	};
	int n;

	do
		n = poll(p, 2, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return bridge_err("poll: %s", strerror(errno));
	if (p[1].revents) {
		b->stop_reason = "signal";
		return -1;
	}
	return n > 0;
}

static void drain(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* data on a socket that should stay silent is dropped; EOF ends the VM */
static bool peer_closed(int fd)
{
	char buf[4096];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

static int watch(struct bridge *b, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	if (epoll_ctl(b->epoll_fd, EPOLL_CTL_ADD, fd, &ev))
		return bridge_err("epoll_ctl: %s", strerror(errno));
	return 0;
}

static int setup_loop(struct bridge *b)
{
	unsigned int ms = b->opt.interval_ms;
	struct itimerspec it = {
		.it_interval = { ms / 1000, (long)(ms % 1000) * 1000000 },
		.it_value = { ms / 1000, (long)(ms % 1000) * 1000000 },
	};

	b->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (b->epoll_fd < 0)
		return bridge_err("epoll_create1: %s", strerror(errno));
	if (ms) {
		b->timer_fd = timerfd_create(CLOCK_MONOTONIC,
					     TFD_NONBLOCK | TFD_CLOEXEC);
		if (b->timer_fd < 0 || timerfd_settime(b->timer_fd, 0, &it, NULL))
			return bridge_err("timerfd: %s", strerror(errno));
		if (watch(b, b->timer_fd))
			return -1;
	}
	b->defer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (b->defer_fd < 0 || watch(b, b->defer_fd))
		return bridge_err("timerfd: %s", strerror(errno));
	b->ring_tokens = DOORBELL_BURST;
	b->ring_last_ms = now_ms();
	fcntl(b->client_fd, F_SETFL, O_NONBLOCK);
	/* QMP is ours to watch for plain QEMU only, never under libvirt */
	if (b->qmp_fd >= 0 &&
	    (fcntl(b->qmp_fd, F_SETFL, O_NONBLOCK) || watch(b, b->qmp_fd)))
		return -1;
	return watch(b, b->doorbell_fd) || watch(b, b->client_fd) ||
	       watch(b, b->signal_fd) || watch(b, b->listen_fd);
}

/* may a doorbell be handled now?  Else it is deferred (and counted). */
static bool doorbell_allowed(struct bridge *b)
{
	int64_t now = now_ms();

	b->ring_tokens += (now - b->ring_last_ms) * (DOORBELL_RATE / 1000.0);
	if (b->ring_tokens > DOORBELL_BURST)
		b->ring_tokens = DOORBELL_BURST;
	b->ring_last_ms = now;
	if (b->ring_tokens >= 1) {
		b->ring_tokens -= 1;
		return true;
	}
	return false;
}

/* stop watching the doorbell until a doorbell is allowed again */
static void defer_doorbell(struct bridge *b)
{
	struct itimerspec once = { .it_value.tv_nsec = 1000000000 / DOORBELL_RATE };

	b->deferred++;
	epoll_ctl(b->epoll_fd, EPOLL_CTL_DEL, b->doorbell_fd, NULL);
	timerfd_settime(b->defer_fd, 0, &once, NULL);
}

static void on_doorbell(struct bridge *b)
{
	b->rings++;
	if (!doorbell_allowed(b)) {
		defer_doorbell(b);
		return;
	}
	drain(b->doorbell_fd);
	forward_requests(b);
}

/* SOCKET.stats: "forwarded N doorbells N deferred N", whole or not at all */
static void write_stats(struct bridge *b)
{
	char path[PATH_MAX], tmp[PATH_MAX + 4];
	int64_t now = now_ms();
	FILE *f;

	if (now - b->stats_ms < STATS_EVERY_MS || !b->socket_created)
		return;
	b->stats_ms = now;
	snprintf(path, sizeof(path), "%s.stats", b->opt.socket_path);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "forwarded %llu doorbells %llu deferred %llu\n",
		(unsigned long long)b->forwarded,
		(unsigned long long)b->rings,
		(unsigned long long)b->deferred);
	if (fclose(f) || rename(tmp, path))
		unlink(tmp);
}

static void handle(struct bridge *b, int fd)
{
	if (fd == b->doorbell_fd) {
		on_doorbell(b);
	} else if (fd == b->defer_fd) {
		drain(fd);
		watch(b, b->doorbell_fd);	/* rung meanwhile: at once */
	} else if (fd == b->timer_fd) {
		drain(fd);
		for (unsigned int i = 0; i < b->nr_vcpus; i++)
			refresh_cur_perf(b, i);
	} else if (fd == b->client_fd) {
		if (peer_closed(fd))
			b->stop_reason = "QEMU closed the ivshmem socket";
	} else if (fd == b->qmp_fd) {
		if (peer_closed(fd))	/* events are read and dropped */
			b->stop_reason = "QEMU closed QMP";
	} else if (fd == b->listen_fd) {
		refuse_extra_client(b);
	} else if (fd == b->signal_fd) {
		struct signalfd_siginfo si;

		if (read(fd, &si, sizeof(si)) == sizeof(si))
			b->stop_reason = si.ssi_signo == SIGINT ? "SIGINT" :
					 "SIGTERM";
	}
}

int run_loop(struct bridge *b)
{
	struct epoll_event ev[8];
	int n;

	if (setup_loop(b))
		return -1;
	forward_requests(b);	/* anything rung before we listened */
	while (!b->stop_reason) {
		n = epoll_wait(b->epoll_fd, ev, 8, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return bridge_err("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n && !b->stop_reason; i++)
			handle(b, ev[i].data.fd);
		write_stats(b);
	}
	return 0;
}

int block_stop_signals(struct bridge *b)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);	/* its terminal went away */
	sigaddset(&set, SIGQUIT);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return bridge_err("sigprocmask: %s", strerror(errno));
	b->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (b->signal_fd < 0)
		return bridge_err("signalfd: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	return 0;
}
