// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The ivshmem server: one QEMU connects to --socket and gets the shared
 * memory and the doorbell eventfd (QEMU docs/specs/ivshmem-spec.rst).
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "bridge.h"


/*
 * One protocol message: a little-endian int64, with at most one file
 * descriptor as SCM_RIGHTS.  Each goes out in its own sendmsg() so that
 * QEMU pairs every fd with the number it came with.
 */
static int send_msg(int sock, int64_t value, int fd)
{
	uint64_t le = htole64((uint64_t)value);
	struct iovec iov = { .iov_base = &le, .iov_len = sizeof(le) };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t n;

	if (fd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		m.msg_control = ctl.buf;
		m.msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(le) ? 0 : -1;
}

/*
 * What QEMU's ivshmem device reads, in the spec's order: version, its own
 * id, the memory, the peers it may ring (us, one fd per vector), then its
 * own vectors.  QEMU reads the first three synchronously while it creates
 * the device, before its monitor runs.
 */
static int greet_client(struct bridge *b)
{
	int s = b->client_fd;

	if (send_msg(s, IVSHMEM_PROTOCOL_VERSION, -1) ||
	    send_msg(s, QEMU_PEER_ID, -1) ||
	    send_msg(s, IVSHMEM_SHM_MSG, b->shm_fd) ||
	    send_msg(s, BRIDGE_PEER_ID, b->doorbell_fd) ||
	    send_msg(s, QEMU_PEER_ID, b->guest_irq_fd))
		return bridge_err("cannot send the ivshmem setup to QEMU: %s",
				  strerror(errno));
	return 0;
}

pid_t peer_pid(int sock)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return 0;
	return cred.pid;
}

/*
 * PATH.lock, held while a bridge serves PATH.  Connecting to PATH to see
 * whether it is alive would not do: the bridge there would take the probe
 * for its QEMU.
 */
static int lock_socket_path(struct bridge *b)
{
	char lock[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	struct stat st;
	const char *path = b->opt.socket_path;

	snprintf(lock, sizeof(lock), "%s.lock", path);
	b->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (b->lock_fd < 0)
		return bridge_err("cannot create %s: %s", lock, strerror(errno));
	if (flock(b->lock_fd, LOCK_EX | LOCK_NB))
		return bridge_err("another bridge serves %s (it holds %s); stop it or give another --socket",
				  path, lock);
	b->lock_created = true;
	/* we hold the lock: a socket file still there is a dead bridge's */
	if (lstat(path, &st))
		return errno == ENOENT ? 0 : bridge_err("cannot stat %s: %s", path,
							strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return bridge_err("%s exists and is not a socket; give --socket a free path",
				  path);
	if (unlink(path))
		return bridge_err("cannot remove the stale socket %s: %s", path,
				  strerror(errno));
	return 0;
}

int unix_addr(const char *path, struct sockaddr_un *sa,
		     const char *what)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return bridge_err("%s path '%s' is longer than %zu bytes; use a shorter path",
				  what, path, sizeof(sa->sun_path) - 1);
	memcpy(sa->sun_path, path, strlen(path) + 1);	/* fits: checked */
	return 0;
}

int listen_ivshmem(struct bridge *b)
{
	struct sockaddr_un sa;

	if (unix_addr(b->opt.socket_path, &sa, "--socket") ||
	    lock_socket_path(b))
		return -1;
	b->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (b->listen_fd < 0)
		return bridge_err("socket: %s", strerror(errno));
	if (bind(b->listen_fd, (struct sockaddr *)&sa, sizeof(sa)))
		return bridge_err("cannot bind %s: %s", b->opt.socket_path,
				  strerror(errno));
	b->socket_created = true;
	if (listen(b->listen_fd, 4))
		return bridge_err("listen on %s: %s", b->opt.socket_path,
				  strerror(errno));
	return 0;
}

/*
 * One QEMU per bridge.  A later client gets a protocol version it cannot
 * handle, which the spec tells it to give up on (QEMU then fails with
 * "server sent version -1"): just closing would leave QEMU 7.2 spinning
 * on the EOF in its setup read.
 */
void refuse_extra_client(struct bridge *b)
{
	int fd = accept4(b->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	send_msg(fd, REFUSED_VERSION, -1);
	fprintf(stderr, "Warning: refused a second ivshmem client (pid %d) on %s: this bridge serves QEMU pid %d only; start another bridge on another --socket\n",
		peer_pid(fd), b->opt.socket_path, b->qemu_pid);
	close(fd);
}

int accept_qemu(struct bridge *b)
{
	int r = wait_readable(b, b->listen_fd, -1);

	if (r <= 0)
		return -1;
	b->client_fd = accept4(b->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (b->client_fd < 0)
		return bridge_err("accept on %s: %s", b->opt.socket_path,
				  strerror(errno));
	b->qemu_pid = peer_pid(b->client_fd);
	info(b, "bridge: QEMU pid %d connected to %s", b->qemu_pid,
	     b->opt.socket_path);
	return greet_client(b);
}

int make_eventfds(struct bridge *b)
{
	b->doorbell_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	b->guest_irq_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (b->doorbell_fd < 0 || b->guest_irq_fd < 0)
		return bridge_err("eventfd: %s", strerror(errno));
	return 0;
}

/* the socket, its stats and its lock file, if this bridge made them */
void remove_socket(struct bridge *b)
{
	char path[PATH_MAX];

	if (b->socket_created) {
		unlink(b->opt.socket_path);
		snprintf(path, sizeof(path), "%s.stats", b->opt.socket_path);
		unlink(path);
	}
	if (b->lock_created) {
		snprintf(path, sizeof(path), "%s.lock", b->opt.socket_path);
		unlink(path);
	}
}
