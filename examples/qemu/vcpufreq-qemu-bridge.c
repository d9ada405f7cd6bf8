// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * vcpufreq-qemu-bridge: the virtual cpufreq device for one unmodified QEMU.
 *
 * QEMU 7.2 has no virtual cpufreq device, but it has ivshmem-doorbell: a
 * PCI device whose BAR2 is host shared memory and whose BAR0 DOORBELL
 * register signals an eventfd on the host.  The bridge is the ivshmem
 * server for that device and plays the device's host half:
 *
 *   1. serves the ivshmem socket (--socket): QEMU gets the shared memory
 *      (struct vcpufreq_shm_header + one block per vCPU, vcpufreq/device.h)
 *      and an eventfd to ring for peer BRIDGE_PEER_ID, vector 0;
 *   2. asks QMP (--qmp) which host thread runs each vCPU;
 *   3. builds the register model from the host topology for each vCPU's
 *      affinity, copies the perf tables it reads back into shared memory
 *      and writes the magic last;
 *   4. registers every vCPU thread with libvcpufreq;
 *   5. on each doorbell, hands every changed set_perf to the model's
 *      SET_PERF (which converts and submits it) and refreshes cur_perf,
 *      also every --interval ms;
 *   6. when QEMU exits (either socket closes) or on SIGINT/SIGTERM,
 *      unregisters the threads and exits 0.
 *
 * Everything in shared memory may have been written by the guest: the
 * bridge reads only set_perf and seq from it, and never uses a value read
 * from it as an index or a size.  Usage: examples/qemu/README.md.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include "vcpufreq/abi.h"
#include "vcpufreq/vcpufreq.h"
#include "topology.h"
#include "guestview.h"

/* ivshmem server protocol (QEMU docs/specs/ivshmem-spec.rst) */
#define IVSHMEM_PROTOCOL_VERSION	0
#define IVSHMEM_SHM_MSG			(-1)	/* comes with the memory fd */
#define QEMU_PEER_ID			0	/* the one client we serve */
#define BRIDGE_PEER_ID			1	/* us: the guest rings this id */
#define DOORBELL_VECTOR			0
#define REFUSED_VERSION			(-1)	/* "go away", see refuse_extra_client */

/* the blocks that fit behind the header in VCPUFREQ_SHM_SIZE */
#define MAX_VCPUS ((VCPUFREQ_SHM_SIZE - VCPUFREQ_SHM_VCPU_OFFSET) / \
		   VCPUFREQ_SHM_VCPU_STRIDE)

#define QMP_WAIT_MS		10000	/* connect, greeting, each reply */
#define QMP_MAX_LINE		(1 << 20)
#define JSON_MAX_DEPTH		32
#define DEFAULT_INTERVAL_MS	50

_Static_assert(sizeof(struct vcpufreq_shm_header) <= VCPUFREQ_SHM_VCPU_OFFSET,
	       "header overlaps the first vCPU block");
_Static_assert(sizeof(struct vcpufreq_shm_vcpu) == VCPUFREQ_SHM_VCPU_STRIDE,
	       "vCPU block is not one stride");
_Static_assert(MAX_VCPUS <= VCPUFREQ_DEV_MAX_VCPUS, "model too small");

enum corrupt {
	CORRUPT_NONE,
	CORRUPT_LEN0,
	CORRUPT_LEN65,
	CORRUPT_ZERO,
	CORRUPT_UNSORTED,
	CORRUPT_DOMAIN,
	CORRUPT_NOMAGIC,
};

static const char *const corrupt_names[] = {
	[CORRUPT_LEN0] = "len0", [CORRUPT_LEN65] = "len65",
	[CORRUPT_ZERO] = "zero", [CORRUPT_UNSORTED] = "unsorted",
	[CORRUPT_DOMAIN] = "domain", [CORRUPT_NOMAGIC] = "nomagic",
};

struct options {
	const char *socket_path;
	const char *qmp_path;
	const char *affinity;	/* NULL: each vCPU thread's own */
	const char *topology;	/* override file, NULL: sysfs */
	const char *pin_dir;	/* NULL: libvcpufreq's default */
	uint32_t vm_id;
	bool vm_id_given;
	bool verbose;
	bool json;
	bool print_qemu_args;
	unsigned int interval_ms;
	enum corrupt corrupt;
};

/* the last submit the model made, for the -v line */
struct last_submit {
	bool made;
	uint32_t host_perf, guest_perf;
	int ret;
};

struct bridge {
	struct options opt;

	/* ivshmem */
	int listen_fd, client_fd;
	int lock_fd;		/* flock on PATH.lock */
	bool lock_created;
	int shm_fd;
	int doorbell_fd;	/* rung by the guest: peer BRIDGE_PEER_ID */
	int guest_irq_fd;	/* QEMU's own vector 0 (unused, see README) */
	bool socket_created;
	void *shm;
	pid_t qemu_pid;

	/* QMP */
	int qmp_fd;
	char *qmp_buf;
	size_t qmp_len;

	/* the VM */
	unsigned int nr_vcpus;
	uint32_t tid[MAX_VCPUS];
	bool registered[MAX_VCPUS];
	uint32_t seen_seq[MAX_VCPUS];
	cpu_set_t affinity[MAX_VCPUS];
	struct vcpufreq_vcpu_config view[MAX_VCPUS];
	struct vf_topology topo;
	bool host_schedutil;

	/* host side */
	struct vcpufreq *vf;
	struct vcpufreq_dev *dev;
	struct vcpufreq_dev_ops lib_ops;
	struct last_submit last;
	uint64_t forwarded;

	int signal_fd, timer_fd, epoll_fd;
	const char *stop_reason;
};

static struct bridge bridge;	/* big (topology), so not on the stack */

/* ---- messages ----------------------------------------------------------- */

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("Error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

/* progress lines: stdout, or stderr when stdout carries --json */
static void info(const struct bridge *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void info(const struct bridge *b, const char *fmt, ...)
{
	FILE *f = b->opt.json ? stderr : stdout;
	va_list ap;

	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "0-3,6" */
static void format_cpulist(const cpu_set_t *set, char *buf, size_t len)
{
	size_t off = 0;
	int cpu = 0, start;

	buf[0] = 0;
	while (cpu < CPU_SETSIZE && off < len) {
		if (!CPU_ISSET(cpu, set)) {
			cpu++;
			continue;
		}
		start = cpu;
		while (cpu + 1 < CPU_SETSIZE && CPU_ISSET(cpu + 1, set))
			cpu++;
		off += snprintf(buf + off, len - off, "%s%d", off ? "," : "",
				start);
		if (cpu > start && off < len)
			off += snprintf(buf + off, len - off, "-%d", cpu);
		cpu++;
	}
}

static void format_table(const struct vcpufreq_vcpu_config *v, char *buf,
			 size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (uint32_t i = 0; i < v->nr_perf && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%u", i ? "," : "",
				v->perf[i]);
	if (v->nr_perf == 1 && off < len)
		snprintf(buf + off, len - off, " (continuous)");
}

/* ---- the ivshmem server ------------------------------------------------- */

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
		return fail("cannot send the ivshmem setup to QEMU: %s",
			    strerror(errno));
	return 0;
}

static pid_t peer_pid(int sock)
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
		return fail("cannot create %s: %s", lock, strerror(errno));
	if (flock(b->lock_fd, LOCK_EX | LOCK_NB))
		return fail("another bridge serves %s (it holds %s); stop it or give another --socket",
			    path, lock);
	b->lock_created = true;
	/* we hold the lock: a socket file still there is a dead bridge's */
	if (lstat(path, &st))
		return errno == ENOENT ? 0 : fail("cannot stat %s: %s", path,
						  strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return fail("%s exists and is not a socket; give --socket a free path",
			    path);
	if (unlink(path))
		return fail("cannot remove the stale socket %s: %s", path,
			    strerror(errno));
	return 0;
}

static int unix_addr(const char *path, struct sockaddr_un *sa,
		     const char *what)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return fail("%s path '%s' is longer than %zu bytes; use a shorter path",
			    what, path, sizeof(sa->sun_path) - 1);
	strcpy(sa->sun_path, path);
	return 0;
}

static int listen_ivshmem(struct bridge *b)
{
	struct sockaddr_un sa;

	if (unix_addr(b->opt.socket_path, &sa, "--socket") ||
	    lock_socket_path(b))
		return -1;
	b->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (b->listen_fd < 0)
		return fail("socket: %s", strerror(errno));
	if (bind(b->listen_fd, (struct sockaddr *)&sa, sizeof(sa)))
		return fail("cannot bind %s: %s", b->opt.socket_path,
			    strerror(errno));
	b->socket_created = true;
	if (listen(b->listen_fd, 4))
		return fail("listen on %s: %s", b->opt.socket_path,
			    strerror(errno));
	return 0;
}

/*
 * One QEMU per bridge.  A later client gets a protocol version it cannot
 * handle, which the spec tells it to give up on (QEMU then fails with
 * "server sent version -1"): just closing would leave QEMU 7.2 spinning
 * on the EOF in its setup read.
 */
static void refuse_extra_client(struct bridge *b)
{
	int fd = accept4(b->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	send_msg(fd, REFUSED_VERSION, -1);
	fprintf(stderr, "Warning: refused a second ivshmem client (pid %d) on %s: this bridge serves QEMU pid %d only; start another bridge on another --socket\n",
		peer_pid(fd), b->opt.socket_path, b->qemu_pid);
	close(fd);
}

/* ---- waiting without busy polling ---------------------------------------- */

/*
 * Wait until @fd is readable, a stop signal arrives or @timeout_ms
 * (-1: none) passes.  1: readable, 0: timed out, -1: signal (stop_reason
 * set).
 */
static int wait_readable(struct bridge *b, int fd, int timeout_ms)
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
		return fail("poll: %s", strerror(errno));
	if (p[1].revents) {
		b->stop_reason = "signal";
		return -1;
	}
	return n > 0;
}

static int accept_qemu(struct bridge *b)
{
	int r = wait_readable(b, b->listen_fd, -1);

	if (r <= 0)
		return -1;
	b->client_fd = accept4(b->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (b->client_fd < 0)
		return fail("accept on %s: %s", b->opt.socket_path,
			    strerror(errno));
	b->qemu_pid = peer_pid(b->client_fd);
	info(b, "bridge: QEMU pid %d connected to %s", b->qemu_pid,
	     b->opt.socket_path);
	return greet_client(b);
}

/* ---- a small JSON scanner for QMP replies -------------------------------- */

/*
 * Enough JSON to walk a QMP reply and pick integers out of it.  Every
 * function stops at @end, checks every byte it consumes and returns -1 on
 * anything that is not JSON, so a hostile reply is an error, not a crash.
 */
struct js {
	const char *p, *end;
};

static void js_ws(struct js *j)
{
	while (j->p < j->end && *j->p && strchr(" \t\r\n", *j->p))
		j->p++;
}

static bool js_eat(struct js *j, char c)
{
	js_ws(j);
	if (j->p < j->end && *j->p == c) {
		j->p++;
		return true;
	}
	return false;
}

static bool js_at_end(struct js *j)
{
	js_ws(j);
	return j->p == j->end;
}

/* a string; @s/@n get its raw bytes between the quotes (escapes kept) */
static int js_string(struct js *j, const char **s, size_t *n)
{
	if (!js_eat(j, '"'))
		return -1;
	*s = j->p;
	while (j->p < j->end) {
		unsigned char c = *j->p;

		if (c == '"') {
			*n = (size_t)(j->p - *s);
			j->p++;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c != '\\') {
			j->p++;
			continue;
		}
		if (j->end - j->p < 2)
			return -1;
		c = j->p[1];
		if (c == 'u') {
			if (j->end - j->p < 6)
				return -1;
			for (int i = 2; i < 6; i++)
				if (!isxdigit((unsigned char)j->p[i]))
					return -1;
			j->p += 6;
		} else if (c && strchr("\"\\/bfnrt", c)) {
			j->p += 2;
		} else {
			return -1;
		}
	}
	return -1;
}

static int js_digits(struct js *j)
{
	const char *start = j->p;

	while (j->p < j->end && isdigit((unsigned char)*j->p))
		j->p++;
	return j->p > start ? 0 : -1;
}

/* a number; @integral: it has no fraction or exponent */
static int js_number(struct js *j, bool *integral)
{
	js_ws(j);
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (js_digits(j))
		return -1;
	*integral = true;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		*integral = false;
		if (js_digits(j))
			return -1;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		*integral = false;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (js_digits(j))
			return -1;
	}
	return 0;
}

/* an integer that fits in a long long */
static int js_int(struct js *j, long long *v)
{
	const char *s;
	bool integral, neg;
	long long x = 0;

	js_ws(j);
	s = j->p;
	if (js_number(j, &integral) || !integral)
		return -1;
	neg = *s == '-';
	for (s += neg; s < j->p; s++) {
		if (x > (LLONG_MAX - (*s - '0')) / 10)
			return -1;
		x = x * 10 + (*s - '0');
	}
	*v = neg ? -x : x;
	return 0;
}

static int js_literal(struct js *j, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n))
		return -1;
	j->p += n;
	return 0;
}

/*
 * Inside an object or array: 1 when another member follows (its comma
 * eaten), 0 at the closing @close (eaten), -1 on anything else.
 */
static int js_more(struct js *j, char close, bool *first)
{
	if (js_eat(j, close))
		return 0;
	if (!*first && !js_eat(j, ','))
		return -1;
	*first = false;
	return 1;
}

/* the next key of an object, its ':' eaten; 0 at '}' */
static int js_key(struct js *j, bool *first, const char **k, size_t *n)
{
	int r = js_more(j, '}', first);

	if (r <= 0)
		return r;
	if (js_string(j, k, n) || !js_eat(j, ':'))
		return -1;
	return 1;
}

static bool key_is(const char *k, size_t n, const char *name)
{
	return n == strlen(name) && !memcmp(k, name, n);
}

static int js_skip(struct js *j, int depth)
{
	bool first = true, integral;
	const char *s;
	size_t n;
	int r;

	js_ws(j);
	if (j->p >= j->end || depth > JSON_MAX_DEPTH)
		return -1;
	switch (*j->p) {
	case '"':
		return js_string(j, &s, &n);
	case '{':
		j->p++;
		while ((r = js_key(j, &first, &s, &n)) > 0)
			if (js_skip(j, depth + 1))
				return -1;
		return r;
	case '[':
		j->p++;
		while ((r = js_more(j, ']', &first)) > 0)
			if (js_skip(j, depth + 1))
				return -1;
		return r;
	case 't':
		return js_literal(j, "true");
	case 'f':
		return js_literal(j, "false");
	case 'n':
		return js_literal(j, "null");
	default:
		return js_number(j, &integral);
	}
}

/* ---- QMP ------------------------------------------------------------------ */

enum qmp_kind { QMP_OTHER, QMP_GREETING, QMP_EVENT, QMP_RETURN, QMP_ERROR };

struct qmp_msg {
	enum qmp_kind kind;
	const char *ret, *ret_end;	/* QMP_RETURN: the value's bytes */
	char desc[160];			/* QMP_ERROR: its "desc", printable */
};

static void copy_printable(char *dst, size_t len, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < len && i < n; i++)
		dst[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	dst[i] = 0;
}

static int parse_error_obj(struct js *j, struct qmp_msg *m)
{
	bool first = true;
	const char *k, *s;
	size_t kn, n;
	int r;

	if (!js_eat(j, '{'))
		return js_skip(j, 1);
	while ((r = js_key(j, &first, &k, &kn)) > 0) {
		if (key_is(k, kn, "desc")) {
			if (js_string(j, &s, &n))
				return -1;
			copy_printable(m->desc, sizeof(m->desc), s, n);
		} else if (js_skip(j, 2)) {
			return -1;
		}
	}
	return r;
}

/* one QMP line: what kind of message it is; -1 when it is not JSON */
static int parse_qmp_msg(const char *line, size_t len, struct qmp_msg *m)
{
	struct js j = { line, line + len };
	bool first = true;
	const char *k;
	size_t kn;
	int r;

	memset(m, 0, sizeof(*m));
	if (!js_eat(&j, '{'))
		return -1;
	while ((r = js_key(&j, &first, &k, &kn)) > 0) {
		if (key_is(k, kn, "return")) {
			js_ws(&j);
			m->kind = QMP_RETURN;
			m->ret = j.p;
			r = js_skip(&j, 1);
			m->ret_end = j.p;
		} else if (key_is(k, kn, "error")) {
			m->kind = QMP_ERROR;
			r = parse_error_obj(&j, m);
		} else if (key_is(k, kn, "event") || key_is(k, kn, "QMP")) {
			if (m->kind == QMP_OTHER)
				m->kind = key_is(k, kn, "QMP") ? QMP_GREETING :
					  QMP_EVENT;
			r = js_skip(&j, 1);
		} else {
			r = js_skip(&j, 1);
		}
		if (r)
			return -1;
	}
	return r < 0 || !js_at_end(&j) ? -1 : 0;
}

/*
 * The next line from QEMU's monitor.  QMP ends each message with "\r\n"
 * and never puts a raw newline inside one.
 */
static int qmp_read_line(struct bridge *b, char **line, size_t *len)
{
	int64_t deadline = now_ms() + QMP_WAIT_MS;
	char *nl;
	ssize_t n;
	int r;

	for (;;) {
		nl = memchr(b->qmp_buf, '\n', b->qmp_len);
		if (nl) {
			*line = b->qmp_buf;
			*len = (size_t)(nl - b->qmp_buf);
			return 0;
		}
		if (b->qmp_len == QMP_MAX_LINE)
			return fail("QMP sent a line longer than %d bytes; is --qmp %s a QEMU monitor?",
				    QMP_MAX_LINE, b->opt.qmp_path);
		/* never negative: poll() would wait forever */
		r = wait_readable(b, b->qmp_fd, deadline > now_ms() ?
				  (int)(deadline - now_ms()) : 0);
		if (r < 0)
			return -1;
		if (!r || deadline <= now_ms())
			return fail("QMP on %s did not answer within %d s; is another client connected to it?",
				    b->opt.qmp_path, QMP_WAIT_MS / 1000);
		n = read(b->qmp_fd, b->qmp_buf + b->qmp_len,
			 QMP_MAX_LINE - b->qmp_len);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return fail("QEMU closed QMP (%s) while the bridge was attaching: did QEMU exit? see its error output",
				    b->opt.qmp_path);
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return fail("reading QMP: %s", strerror(errno));
		if (n > 0)
			b->qmp_len += (size_t)n;
	}
}

static void qmp_consume_line(struct bridge *b, size_t len)
{
	size_t used = len + 1;	/* and its '\n' */

	memmove(b->qmp_buf, b->qmp_buf + used, b->qmp_len - used);
	b->qmp_len -= used;
}

/*
 * Next message that is not an event.  @m points into the line buffer and
 * stays valid until the next read; the caller consumes it.
 */
static int qmp_next(struct bridge *b, struct qmp_msg *m, size_t *line_len)
{
	char *line = NULL;

	for (;;) {
		if (qmp_read_line(b, &line, line_len))
			return -1;
		if (parse_qmp_msg(line, *line_len, m))
			return fail("QMP sent something that is not a QMP message; is --qmp %s a QEMU monitor (-qmp unix:PATH,server=on,wait=off)?",
				    b->opt.qmp_path);
		if (m->kind != QMP_EVENT)
			return 0;
		qmp_consume_line(b, *line_len);
	}
}

/* run QMP command @name; on success the reply is left in @m (consume it) */
static int qmp_execute(struct bridge *b, const char *name, struct qmp_msg *m,
		       size_t *line_len)
{
	char cmd[128];
	ssize_t w;
	int n;

	n = snprintf(cmd, sizeof(cmd), "{\"execute\":\"%s\"}\r\n", name);
	w = send(b->qmp_fd, cmd, (size_t)n, MSG_NOSIGNAL);
	if (w != n)
		return fail("writing to QMP: %s", w < 0 ? strerror(errno) :
			    "short write");
	if (qmp_next(b, m, line_len))
		return -1;
	if (m->kind == QMP_ERROR)
		return fail("QMP %s failed: %s", name,
			    m->desc[0] ? m->desc : "(no description)");
	if (m->kind != QMP_RETURN)
		return fail("QMP answered %s with neither return nor error",
			    name);
	return 0;
}

static int qmp_connect(struct bridge *b)
{
	int64_t deadline = now_ms() + QMP_WAIT_MS;
	struct sockaddr_un sa;
	int err;

	if (unix_addr(b->opt.qmp_path, &sa, "--qmp"))
		return -1;
	for (;;) {
		b->qmp_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (b->qmp_fd < 0)
			return fail("socket: %s", strerror(errno));
		if (!connect(b->qmp_fd, (struct sockaddr *)&sa, sizeof(sa)))
			return 0;
		err = errno;
		close(b->qmp_fd);
		b->qmp_fd = -1;
		if ((err != ENOENT && err != ECONNREFUSED) ||
		    now_ms() >= deadline)
			return fail("cannot connect to QMP at %s: %s; start QEMU with -qmp unix:%s,server=on,wait=off",
				    b->opt.qmp_path, strerror(err),
				    b->opt.qmp_path);
		/* QEMU may not have created it yet: retry every 100 ms */
		err = wait_readable(b, b->client_fd, 100);
		if (err < 0)
			return -1;
		if (err > 0)	/* QEMU never writes: this is its exit */
			return fail("QEMU went away before its QMP socket %s came up",
				    b->opt.qmp_path);
	}
}

static int parse_cpu(struct js *j, long long *index, long long *tid)
{
	bool first = true;
	const char *k;
	size_t kn;
	int r;

	*index = *tid = -1;
	if (!js_eat(j, '{'))
		return -1;
	while ((r = js_key(j, &first, &k, &kn)) > 0) {
		if (key_is(k, kn, "cpu-index"))
			r = js_int(j, index);
		else if (key_is(k, kn, "thread-id"))
			r = js_int(j, tid);
		else
			r = js_skip(j, 2);
		if (r)
			return -1;
	}
	return r;
}

/* one vCPU of query-cpus-fast, checked against those already seen */
static int take_cpu(struct bridge *b, unsigned int nth, long long index,
		    long long tid)
{
	if (index < 0 || tid <= 0)
		return fail("QMP query-cpus-fast: entry %u lacks a cpu-index or thread-id",
			    nth);
	if (index >= MAX_VCPUS)
		return fail("QMP query-cpus-fast: cpu-index %lld; the bridge serves at most %d vCPUs",
			    index, MAX_VCPUS);
	if (tid > INT_MAX)
		return fail("QMP query-cpus-fast: thread-id %lld of vCPU %lld is not a thread id",
			    tid, index);
	if (b->tid[index])
		return fail("QMP query-cpus-fast: vCPU %lld listed twice", index);
	for (unsigned int i = 0; i < MAX_VCPUS; i++)
		if (b->tid[i] == (uint32_t)tid)
			return fail("vCPUs %u and %lld share host thread %lld (single-threaded TCG?); run QEMU with KVM or -accel tcg,thread=multi",
				    i, index, tid);
	b->tid[index] = (uint32_t)tid;
	return 0;
}

static int parse_cpus(struct bridge *b, const char *s, const char *end)
{
	struct js j = { s, end };
	long long index, tid;
	unsigned int n = 0;
	bool first = true;
	int r;

	if (!js_eat(&j, '['))
		return fail("QMP query-cpus-fast did not return a list");
	while ((r = js_more(&j, ']', &first)) > 0) {
		if (parse_cpu(&j, &index, &tid))
			return fail("QMP query-cpus-fast: entry %u is malformed", n);
		if (take_cpu(b, n++, index, tid))
			return -1;
	}
	if (r < 0 || !js_at_end(&j))
		return fail("QMP query-cpus-fast returned a malformed list");
	for (unsigned int i = 0; i < n; i++)
		if (!b->tid[i])
			return fail("QMP query-cpus-fast: %u vCPUs but no cpu-index %u",
				    n, i);
	if (!n)
		return fail("QMP query-cpus-fast listed no vCPUs");
	b->nr_vcpus = n;
	return 0;
}

/* The vCPU threads must be QEMU's: a wrong --qmp must not boost others. */
static int check_threads_of_qemu(struct bridge *b)
{
	pid_t qmp_pid = peer_pid(b->qmp_fd);
	char path[64];

	if (b->qemu_pid && qmp_pid && qmp_pid != b->qemu_pid)
		return fail("--qmp %s belongs to pid %d but the ivshmem client is pid %d; give the QMP socket of the same QEMU",
			    b->opt.qmp_path, qmp_pid, b->qemu_pid);
	for (unsigned int i = 0; b->qemu_pid && i < b->nr_vcpus; i++) {
		snprintf(path, sizeof(path), "/proc/%d/task/%u", b->qemu_pid,
			 b->tid[i]);
		if (access(path, F_OK))
			return fail("vCPU %u thread %u (from QMP) is not a thread of QEMU pid %d; is QEMU in another pid namespace?",
				    i, b->tid[i], b->qemu_pid);
	}
	return 0;
}

static int qmp_query_vcpus(struct bridge *b)
{
	struct qmp_msg m;
	size_t len;
	int ret;

	b->qmp_buf = malloc(QMP_MAX_LINE);
	if (!b->qmp_buf)
		return fail("out of memory");
	if (qmp_connect(b))
		return -1;
	if (qmp_next(b, &m, &len))
		return -1;
	if (m.kind != QMP_GREETING)
		return fail("%s did not greet like QMP; start QEMU with -qmp unix:%s,server=on,wait=off",
			    b->opt.qmp_path, b->opt.qmp_path);
	qmp_consume_line(b, len);
	if (qmp_execute(b, "qmp_capabilities", &m, &len))
		return -1;
	qmp_consume_line(b, len);
	if (qmp_execute(b, "query-cpus-fast", &m, &len))
		return -1;
	ret = parse_cpus(b, m.ret, m.ret_end);
	qmp_consume_line(b, len);
	return ret ? ret : check_threads_of_qemu(b);
}

/* ---- the device: affinity, views, model --------------------------------- */

static int check_on_host(const struct vf_topology *t, const cpu_set_t *set,
			 const char *what)
{
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, set))
			continue;
		if (cpu >= t->nr_cpus || !t->cpu[cpu].present)
			return fail("%s: CPU %d is not on this host; see `vcpufreq-bpf topology`",
				    what, cpu);
	}
	return 0;
}

static int parse_list(const struct vf_topology *t, const char *s, size_t len,
		      cpu_set_t *set, const char *what)
{
	char why[256];

	if (vf_parse_cpulist(s, len, set, why, sizeof(why)) < 0)
		return fail("%s: %s; give a cpulist such as 0-3,6", what, why);
	return check_on_host(t, set, what);
}

/* --affinity: one cpulist for all vCPUs, or 'L0;L1;...' one per vCPU */
static int parse_affinity(struct bridge *b)
{
	const char *s = b->opt.affinity, *p, *semi;
	unsigned int count = 1, i;
	char what[64];

	for (p = s; (p = strchr(p, ';')); p++)
		count++;
	if (count == 1) {
		if (parse_list(&b->topo, s, strlen(s), &b->affinity[0],
			       "--affinity"))
			return -1;
		for (i = 1; i < b->nr_vcpus; i++)
			b->affinity[i] = b->affinity[0];
		return 0;
	}
	if (count != b->nr_vcpus)
		return fail("--affinity has %u ';'-separated cpulists but QEMU has %u vCPUs; give one per vCPU, or a single cpulist for all",
			    count, b->nr_vcpus);
	for (i = 0, p = s; i < b->nr_vcpus; i++, p = semi + 1) {
		semi = strchr(p, ';');
		if (!semi)
			semi = p + strlen(p);
		snprintf(what, sizeof(what), "--affinity of vCPU %u", i);
		if (parse_list(&b->topo, p, (size_t)(semi - p),
			       &b->affinity[i], what))
			return -1;
	}
	return 0;
}

/* without --affinity: where each vCPU thread may run right now */
static int read_thread_affinity(struct bridge *b)
{
	for (unsigned int i = 0; i < b->nr_vcpus; i++)
		if (sched_getaffinity((pid_t)b->tid[i], sizeof(cpu_set_t),
				      &b->affinity[i]))
			return fail("cannot read the affinity of vCPU %u thread %u: %s",
				    i, b->tid[i], strerror(errno));
	return 0;
}

/* schedutil on any CPU a vCPU may use: the model takes its margin off */
static bool runs_schedutil(const struct bridge *b)
{
	const char *dir = getenv("VCPUFREQ_SYSFS_CPU_DIR");
	char path[PATH_MAX], gov[32];
	cpu_set_t any;
	FILE *f;
	bool yes;

	CPU_ZERO(&any);
	for (unsigned int i = 0; i < b->nr_vcpus; i++)
		CPU_OR(&any, &any, &b->affinity[i]);
	for (int cpu = 0; cpu < VCPUFREQ_MAX_CPUS; cpu++) {
		if (!CPU_ISSET(cpu, &any))
			continue;
		snprintf(path, sizeof(path), "%s/cpu%d/cpufreq/scaling_governor",
			 dir && *dir ? dir : VF_SYSFS_CPU_DIR, cpu);
		f = fopen(path, "r");
		if (!f)
			continue;
		yes = fgets(gov, sizeof(gov), f) && !strncmp(gov, "schedutil", 9);
		fclose(f);
		if (yes)
			return true;
	}
	return false;
}

/* wraps libvcpufreq's submit so that -v can say what left the model */
static int submit_and_note(void *ctx, uint32_t vcpu, uint32_t tid,
			   uint32_t host_perf, uint32_t guest_perf)
{
	struct bridge *b = ctx;

	b->last = (struct last_submit){
		.made = true, .host_perf = host_perf, .guest_perf = guest_perf,
		.ret = b->lib_ops.submit(b->lib_ops.ctx, vcpu, tid, host_perf,
					 guest_perf),
	};
	return b->last.ret;
}

static uint32_t cur_perf_of_host(void *ctx, uint32_t vcpu, uint32_t tid)
{
	struct bridge *b = ctx;

	return b->lib_ops.cur_perf(b->lib_ops.ctx, vcpu, tid);
}

static int build_model(struct bridge *b)
{
	struct vcpufreq_dev_config cfg = {
		.nr_vcpus = b->nr_vcpus,
		.vm_id = b->opt.vm_id,
		.vcpus = b->view,
	};
	struct vcpufreq_dev_ops ops = {
		.submit = submit_and_note,
		.cur_perf = cur_perf_of_host,
		.ctx = b,
	};
	char what[64], why[256];

	if (b->opt.affinity ? parse_affinity(b) : read_thread_affinity(b))
		return -1;
	for (unsigned int i = 0; i < b->nr_vcpus; i++) {
		if (vf_vcpu_view(&b->topo, &b->affinity[i], &b->view[i])) {
			format_cpulist(&b->affinity[i], what, sizeof(what));
			return fail("vCPU %u may run on CPUs %s, none of which the host topology describes; see `vcpufreq-bpf topology`",
				    i, what);
		}
	}
	b->host_schedutil = runs_schedutil(b);
	cfg.host_schedutil = b->host_schedutil;
	vcpufreq_dev_ops_init(&b->lib_ops, b->vf);
	if (vcpufreq_dev_new(&cfg, &ops, &b->dev, why, sizeof(why)))
		return fail("cannot build the virtual cpufreq device: %s", why);
	return 0;
}

/* ---- shared memory --------------------------------------------------------- */

static int create_shm(struct bridge *b)
{
	b->shm_fd = memfd_create("vcpufreq-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (b->shm_fd < 0)
		return fail("memfd_create: %s", strerror(errno));
	if (ftruncate(b->shm_fd, VCPUFREQ_SHM_SIZE))
		return fail("sizing the shared memory: %s", strerror(errno));
	/* QEMU maps the whole file: nobody may shrink it under either of us */
	if (fcntl(b->shm_fd, F_ADD_SEALS,
		  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))
		return fail("sealing the shared memory: %s", strerror(errno));
	b->shm = mmap(NULL, VCPUFREQ_SHM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_SHARED, b->shm_fd, 0);
	if (b->shm == MAP_FAILED) {
		b->shm = NULL;
		return fail("mapping the shared memory: %s", strerror(errno));
	}
	return 0;
}

static struct vcpufreq_shm_header *shm_header(const struct bridge *b)
{
	return b->shm;
}

/* block @vcpu: from our constants, never from the (guest-writable) header */
static struct vcpufreq_shm_vcpu *shm_vcpu(const struct bridge *b,
					  unsigned int vcpu)
{
	return (struct vcpufreq_shm_vcpu *)((char *)b->shm +
		VCPUFREQ_SHM_VCPU_OFFSET + vcpu * VCPUFREQ_SHM_VCPU_STRIDE);
}

static void shm_store(__u32 *field, uint32_t v)
{
	__atomic_store_n(field, htole32(v), __ATOMIC_RELAXED);
}

static uint32_t shm_load(const __u32 *field)
{
	return le32toh(__atomic_load_n(field, __ATOMIC_ACQUIRE));
}

/* what the model answers through its registers, copied into block @i */
static void publish_vcpu(struct bridge *b, unsigned int i)
{
	struct vcpufreq_shm_vcpu *blk = shm_vcpu(b, i);
	uint32_t len = vcpufreq_dev_read(b->dev, i, VCPUFREQ_REG_PERFTBL_LEN);

	shm_store(&blk->perftbl_len, len);
	shm_store(&blk->perf_domain,
		  vcpufreq_dev_read(b->dev, i, VCPUFREQ_REG_PERF_DOMAIN));
	for (uint32_t k = 0; k < len && k < VCPUFREQ_PERFTBL_MAX; k++) {
		vcpufreq_dev_write(b->dev, i, VCPUFREQ_REG_PERFTBL_SEL, k);
		shm_store(&blk->perftbl[k],
			  vcpufreq_dev_read(b->dev, i, VCPUFREQ_REG_PERFTBL_RD));
	}
	shm_store(&blk->cur_perf,
		  vcpufreq_dev_read(b->dev, i, VCPUFREQ_REG_CUR_PERF));
}

/* --corrupt: break vCPU 0's table the way KIND says (guest driver tests) */
static void corrupt_table(struct bridge *b)
{
	struct vcpufreq_shm_vcpu *blk = shm_vcpu(b, 0);
	uint32_t len = b->view[0].nr_perf;	/* ours, not the guest's copy */
	uint32_t top = b->view[0].perf[len - 1];

	switch (b->opt.corrupt) {
	case CORRUPT_LEN0:
		shm_store(&blk->perftbl_len, 0);
		break;
	case CORRUPT_LEN65:
		shm_store(&blk->perftbl_len, VCPUFREQ_PERFTBL_MAX + 1);
		break;
	case CORRUPT_ZERO:
		shm_store(&blk->perftbl[0], 0);
		break;
	case CORRUPT_UNSORTED:
		/* a continuous vCPU gets a two-entry table that descends */
		shm_store(&blk->perftbl_len, len > 1 ? len : 2);
		shm_store(&blk->perftbl[0], top);
		shm_store(&blk->perftbl[1], len > 1 ? b->view[0].perf[0] :
			  top / 2);
		if (len > 1)
			shm_store(&blk->perftbl[len - 1], top / 2);
		break;
	case CORRUPT_DOMAIN:
		shm_store(&blk->perf_domain, 0xffffffff);
		break;
	default:
		break;
	}
}

/*
 * The guest trusts nothing until it sees the magic, so it goes in last,
 * after a release barrier: a guest that reads it sees complete tables.
 */
static void publish_shm(struct bridge *b)
{
	struct vcpufreq_shm_header *h = shm_header(b);
	uint64_t magic;

	__atomic_store_n((uint64_t *)h->magic, 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	memset((char *)b->shm + sizeof(h->magic), 0,
	       VCPUFREQ_SHM_SIZE - sizeof(h->magic));
	shm_store(&h->version, VCPUFREQ_SHM_VERSION);
	shm_store(&h->nr_vcpus, b->nr_vcpus);
	shm_store(&h->vcpu_offset, VCPUFREQ_SHM_VCPU_OFFSET);
	shm_store(&h->vcpu_stride, VCPUFREQ_SHM_VCPU_STRIDE);
	shm_store(&h->doorbell, BRIDGE_PEER_ID << 16 | DOORBELL_VECTOR);
	for (unsigned int i = 0; i < b->nr_vcpus; i++)
		publish_vcpu(b, i);
	if (b->opt.corrupt != CORRUPT_NONE) {
		corrupt_table(b);
		fprintf(stderr, "Warning: --corrupt %s: published a deliberately bad table (test only)\n",
			corrupt_names[b->opt.corrupt]);
	}
	if (b->opt.corrupt == CORRUPT_NOMAGIC)
		return;
	memcpy(&magic, VCPUFREQ_SHM_MAGIC, sizeof(magic));
	__atomic_store_n((uint64_t *)h->magic, magic, __ATOMIC_RELEASE);
}

/* ---- libvcpufreq ------------------------------------------------------------ */

static int open_vcpufreq(struct bridge *b)
{
	const char *dir = b->opt.pin_dir ? b->opt.pin_dir : VCPUFREQ_PIN_DIR;
	int ret = vcpufreq_open(b->opt.pin_dir, &b->vf);

	if (ret == -ENOENT)
		return fail("vcpufreq-bpf is not loaded (no maps in %s); run `vcpufreq-bpf load` first",
			    dir);
	if (ret == -EACCES || ret == -EPERM)
		return fail("no access to the vcpufreq maps in %s; run as root or `vcpufreq-bpf grant --user USER`",
			    dir);
	if (ret)
		return fail("cannot open the vcpufreq maps in %s: %s",
			    dir, strerror(-ret));
	return 0;
}

static int register_vcpus(struct bridge *b)
{
	int ret;

	for (unsigned int i = 0; i < b->nr_vcpus; i++) {
		ret = vcpufreq_register(b->vf, b->tid[i], b->opt.vm_id, i);
		if (ret)
			return fail("cannot register vCPU %u thread %u: %s",
				    i, b->tid[i], vcpufreq_strerror(ret));
		b->registered[i] = true;
		vcpufreq_dev_set_tid(b->dev, i, b->tid[i]);
	}
	return 0;
}

static void unregister_vcpus(struct bridge *b)
{
	for (unsigned int i = 0; i < b->nr_vcpus; i++) {
		if (!b->registered[i])
			continue;
		/* -ENOENT: the kernel side already dropped an exited thread */
		vcpufreq_unregister(b->vf, b->tid[i]);
		b->registered[i] = false;
	}
}

/* ---- the attach summary ----------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void print_summary_json(const struct bridge *b)
{
	char aff[512];

	printf("{\"qemu_pid\":%d,\"vm_id\":%u,\"socket\":", b->qemu_pid,
	       b->opt.vm_id);
	json_str(stdout, b->opt.socket_path);
	printf(",\"qmp\":");
	json_str(stdout, b->opt.qmp_path);
	printf(",\"peer_id\":%d,\"doorbell\":%u,\"host_schedutil\":%s,"
	       "\"corrupt\":", BRIDGE_PEER_ID,
	       BRIDGE_PEER_ID << 16 | DOORBELL_VECTOR,
	       b->host_schedutil ? "true" : "false");
	if (b->opt.corrupt)
		json_str(stdout, corrupt_names[b->opt.corrupt]);
	else
		printf("null");
	printf(",\"vcpus\":[");
	for (unsigned int i = 0; i < b->nr_vcpus; i++) {
		const struct vcpufreq_vcpu_config *v = &b->view[i];

		format_cpulist(&b->affinity[i], aff, sizeof(aff));
		printf("%s{\"vcpu\":%u,\"tid\":%u,\"affinity\":\"%s\","
		       "\"capacity\":%u,\"perf_domain\":%u,\"perftbl\":[",
		       i ? "," : "", i, b->tid[i], aff, v->capacity,
		       v->perf_domain);
		for (uint32_t k = 0; k < v->nr_perf; k++)
			printf("%s%u", k ? "," : "", v->perf[k]);
		printf("]}");
	}
	printf("]}\n");
}

static void print_summary(const struct bridge *b)
{
	char table[1024], aff[512];

	if (b->opt.json) {
		print_summary_json(b);
		return;
	}
	for (unsigned int i = 0; i < b->nr_vcpus; i++) {
		format_table(&b->view[i], table, sizeof(table));
		format_cpulist(&b->affinity[i], aff, sizeof(aff));
		printf("vcpu %u tid %u table %s domain %u capacity %u affinity %s\n",
		       i, b->tid[i], table, b->view[i].perf_domain,
		       b->view[i].capacity, aff);
	}
	info(b, "bridge: attached to QEMU pid %d: %u vCPUs, vm-id %u, doorbell 0x%x (peer %d vector %d)%s",
	     b->qemu_pid, b->nr_vcpus, b->opt.vm_id,
	     BRIDGE_PEER_ID << 16 | DOORBELL_VECTOR, BRIDGE_PEER_ID,
	     DOORBELL_VECTOR, b->host_schedutil ? ", host schedutil" : "");
}

/* ---- the event loop ---------------------------------------------------------- */

static void refresh_cur_perf(struct bridge *b, unsigned int i)
{
	shm_store(&shm_vcpu(b, i)->cur_perf,
		  vcpufreq_dev_read(b->dev, i, VCPUFREQ_REG_CUR_PERF));
}

static void log_request(struct bridge *b, unsigned int i, uint32_t seq,
			uint32_t set_perf)
{
	if (!b->opt.verbose)
		return;
	if (!b->last.made) {
		printf("request vcpu %u tid %u seq %u set_perf %u: not submitted\n",
		       i, b->tid[i], seq, set_perf);
		return;
	}
	printf("request vcpu %u tid %u seq %u set_perf %u -> guest %u host %u: %s\n",
	       i, b->tid[i], seq, set_perf, b->last.guest_perf,
	       b->last.host_perf, b->last.ret ? vcpufreq_strerror(b->last.ret) :
	       "ok");
}

/* a doorbell: every block whose seq moved carries a new set_perf */
static void forward_requests(struct bridge *b)
{
	struct vcpufreq_shm_vcpu *blk;
	uint32_t seq, set_perf;

	for (unsigned int i = 0; i < b->nr_vcpus; i++) {
		blk = shm_vcpu(b, i);
		seq = shm_load(&blk->seq);	/* acquire: set_perf before it */
		if (seq == b->seen_seq[i])
			continue;
		b->seen_seq[i] = seq;
		set_perf = shm_load(&blk->set_perf);
		b->last.made = false;
		vcpufreq_dev_write(b->dev, i, VCPUFREQ_REG_SET_PERF, set_perf);
		refresh_cur_perf(b, i);
		b->forwarded++;
		log_request(b, i, seq, set_perf);
	}
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
		return fail("epoll_ctl: %s", strerror(errno));
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
		return fail("epoll_create1: %s", strerror(errno));
	if (ms) {
		b->timer_fd = timerfd_create(CLOCK_MONOTONIC,
					     TFD_NONBLOCK | TFD_CLOEXEC);
		if (b->timer_fd < 0 || timerfd_settime(b->timer_fd, 0, &it, NULL))
			return fail("timerfd: %s", strerror(errno));
		if (watch(b, b->timer_fd))
			return -1;
	}
	fcntl(b->client_fd, F_SETFL, O_NONBLOCK);
	fcntl(b->qmp_fd, F_SETFL, O_NONBLOCK);
	return watch(b, b->doorbell_fd) || watch(b, b->client_fd) ||
	       watch(b, b->qmp_fd) || watch(b, b->signal_fd) ||
	       watch(b, b->listen_fd);
}

static void handle(struct bridge *b, int fd)
{
	if (fd == b->doorbell_fd) {
		drain(fd);
		forward_requests(b);
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

static int run_loop(struct bridge *b)
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
			return fail("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n && !b->stop_reason; i++)
			handle(b, ev[i].data.fd);
	}
	return 0;
}

/* ---- start and stop ------------------------------------------------------------ */

static int block_stop_signals(struct bridge *b)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);	/* its terminal went away */
	sigaddset(&set, SIGQUIT);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return fail("sigprocmask: %s", strerror(errno));
	b->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (b->signal_fd < 0)
		return fail("signalfd: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int load_topology(struct bridge *b)
{
	const char *dir = getenv("VCPUFREQ_SYSFS_CPU_DIR");
	char why[256];

	if (vf_topology_load(&b->topo, dir && *dir ? dir : NULL,
			     b->opt.topology, why, sizeof(why)))
		return fail("cannot read the host topology: %s%s", why,
			    b->opt.topology ? "" :
			    "; describe it with --topology FILE");
	return 0;
}

static int make_eventfds(struct bridge *b)
{
	b->doorbell_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	b->guest_irq_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (b->doorbell_fd < 0 || b->guest_irq_fd < 0)
		return fail("eventfd: %s", strerror(errno));
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void teardown(struct bridge *b)
{
	unregister_vcpus(b);
	vcpufreq_dev_free(b->dev);
	vcpufreq_close(b->vf);
	if (b->shm)
		munmap(b->shm, VCPUFREQ_SHM_SIZE);
	if (b->socket_created)
		unlink(b->opt.socket_path);
	if (b->lock_created) {
		char lock[PATH_MAX];

		snprintf(lock, sizeof(lock), "%s.lock", b->opt.socket_path);
		unlink(lock);
	}
	free(b->qmp_buf);
	close_fd(&b->listen_fd);
	close_fd(&b->client_fd);
	close_fd(&b->qmp_fd);
	close_fd(&b->shm_fd);
	close_fd(&b->doorbell_fd);
	close_fd(&b->guest_irq_fd);
	close_fd(&b->timer_fd);
	close_fd(&b->epoll_fd);
	close_fd(&b->signal_fd);
	close_fd(&b->lock_fd);
}

static int attach(struct bridge *b)
{
	if (accept_qemu(b) || qmp_query_vcpus(b))
		return -1;
	if (!b->opt.vm_id_given)
		b->opt.vm_id = (uint32_t)b->qemu_pid;
	if (build_model(b) || register_vcpus(b))
		return -1;
	publish_shm(b);
	print_summary(b);
	return 0;
}

/* ---- command line ------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
"Usage: vcpufreq-qemu-bridge --socket PATH --qmp PATH [OPTIONS]\n"
"\n"
"Serve QEMU's ivshmem-doorbell device as the virtual cpufreq device of one\n"
"VM: vCPU perf requests from the guest go to vcpufreq-bpf (load it first).\n"
"Start the bridge, then QEMU with the arguments --print-qemu-args shows.\n"
"\n"
"  --socket PATH      ivshmem server socket the bridge creates\n"
"  --qmp PATH         QEMU's QMP socket (-qmp unix:PATH,server=on,wait=off)\n"
"  --affinity LIST    host CPUs the vCPUs run on: one cpulist for all, or\n"
"                     'L0;L1;...' one per vCPU (default: each vCPU thread's\n"
"                     current affinity)\n"
"  --topology FILE    describe host CPUs with an override file\n"
"                     (default: sysfs; also VCPUFREQ_TOPOLOGY)\n"
"  --vm-id N          VM id in vcpufreq requests (default: QEMU's pid)\n"
"  --pin-dir DIR      vcpufreq-bpf pin dir (default %s)\n"
"  --interval MS      refresh cur_perf every MS ms, 0: only on requests\n"
"                     (default %d)\n"
"  --print-qemu-args  print the QEMU arguments for --socket/--qmp and exit\n"
"  -j, --json         attach summary as one JSON object on stdout\n"
"  -v, --verbose      one line per forwarded request\n"
"  --corrupt KIND     TEST ONLY: publish a bad table for vCPU 0 (len0, len65,\n"
"                     zero, unsorted, domain, nomagic)\n"
"  -h, --help         this help\n"
"\n"
"Stops, unregistering every vCPU thread, when QEMU exits or on SIGINT/SIGTERM.\n",
		VCPUFREQ_PIN_DIR, DEFAULT_INTERVAL_MS);
}

/* QEMU option values escape ',' by doubling it */
static void print_qemu_value(const char *prefix, const char *path,
			     const char *suffix)
{
	char buf[PATH_MAX * 2 + 128];
	size_t off = 0;
	bool plain = true;

	off += snprintf(buf, sizeof(buf), "%s", prefix);
	for (const char *p = path; *p && off + 2 < sizeof(buf); p++) {
		buf[off++] = *p;
		if (*p == ',')
			buf[off++] = ',';
	}
	snprintf(buf + off, sizeof(buf) - off, "%s", suffix);
	for (const char *p = buf; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_./=,:+@%", *p))
			plain = false;
	if (plain) {
		fputs(buf, stdout);
		return;
	}
	/* shell-quote: 'it'\''s' */
	putchar('\'');
	for (const char *p = buf; *p; p++)
		fputs(*p == '\'' ? "'\\''" : (char[]){ *p, 0 }, stdout);
	putchar('\'');
}

static void print_qemu_args(const struct options *o)
{
	fputs("-chardev ", stdout);
	print_qemu_value("socket,id=vcf,path=", o->socket_path, "");
	fputs(" -device ivshmem-doorbell,chardev=vcf,vectors=1 -qmp ", stdout);
	print_qemu_value("unix:", o->qmp_path, ",server=on,wait=off");
	putchar('\n');
}

static int parse_uint(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	*v = strtoul(s, &end, 10);
	return *end || errno || *v > max ? -1 : 0;
}

static int parse_corrupt(const char *s, enum corrupt *c)
{
	for (int i = CORRUPT_LEN0; i <= CORRUPT_NOMAGIC; i++)
		if (!strcmp(s, corrupt_names[i])) {
			*c = i;
			return 0;
		}
	return fail("--corrupt '%s' is not one of len0, len65, zero, unsorted, domain, nomagic",
		    s);
}

enum { OPT_SOCKET = 256, OPT_QMP, OPT_AFFINITY, OPT_TOPOLOGY, OPT_VM_ID,
       OPT_PIN_DIR, OPT_INTERVAL, OPT_PRINT, OPT_CORRUPT };

static const struct option long_opts[] = {
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "qmp", required_argument, NULL, OPT_QMP },
	{ "affinity", required_argument, NULL, OPT_AFFINITY },
	{ "topology", required_argument, NULL, OPT_TOPOLOGY },
	{ "vm-id", required_argument, NULL, OPT_VM_ID },
	{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "print-qemu-args", no_argument, NULL, OPT_PRINT },
	{ "corrupt", required_argument, NULL, OPT_CORRUPT },
	{ "json", no_argument, NULL, 'j' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 }
};

static int parse_option(struct options *o, int c, const char *arg)
{
	unsigned long v;

	switch (c) {
	case OPT_SOCKET: o->socket_path = arg; return 0;
	case OPT_QMP: o->qmp_path = arg; return 0;
	case OPT_AFFINITY: o->affinity = arg; return 0;
	case OPT_TOPOLOGY: o->topology = arg; return 0;
	case OPT_PIN_DIR: o->pin_dir = arg; return 0;
	case OPT_PRINT: o->print_qemu_args = true; return 0;
	case OPT_CORRUPT: return parse_corrupt(arg, &o->corrupt);
	case 'j': o->json = true; return 0;
	case 'v': o->verbose = true; return 0;
	case OPT_VM_ID:
		if (parse_uint(arg, UINT32_MAX, &v))
			return fail("--vm-id '%s' is not a number 0..%u", arg,
				    UINT32_MAX);
		o->vm_id = (uint32_t)v;
		o->vm_id_given = true;
		return 0;
	case OPT_INTERVAL:
		if (parse_uint(arg, 60000, &v))
			return fail("--interval '%s' is not a number of ms 0..60000",
				    arg);
		o->interval_ms = (unsigned int)v;
		return 0;
	default:
		return fail("unknown option; see vcpufreq-qemu-bridge --help");
	}
}

static int parse_args(int argc, char **argv, struct options *o)
{
	const char *env = getenv("VCPUFREQ_TOPOLOGY");
	int c;

	o->interval_ms = DEFAULT_INTERVAL_MS;
	o->topology = env && *env ? env : NULL;
	while ((c = getopt_long(argc, argv, "jvh", long_opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c == '?' || parse_option(o, c, optarg))
			return -1;
	}
	if (optind < argc)
		return fail("unexpected argument '%s'; see --help", argv[optind]);
	if (!o->socket_path || !o->qmp_path)
		return fail("--socket PATH and --qmp PATH are both required; see --help");
	if (o->affinity && !*o->affinity)
		return fail("--affinity is empty; give a cpulist such as 0-3");
	return 0;
}

int main(int argc, char **argv)
{
	struct bridge *b = &bridge;
	int ret;

	b->listen_fd = b->client_fd = b->qmp_fd = b->shm_fd = -1;
	b->doorbell_fd = b->guest_irq_fd = b->timer_fd = b->epoll_fd = -1;
	b->signal_fd = b->lock_fd = -1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (parse_args(argc, argv, &b->opt))
		return 2;
	if (b->opt.print_qemu_args) {
		print_qemu_args(&b->opt);
		return 0;
	}
	ret = block_stop_signals(b) || open_vcpufreq(b) || load_topology(b) ||
	      create_shm(b) || make_eventfds(b) || listen_ivshmem(b);
	if (!ret) {
		info(b, "bridge: waiting for QEMU on %s", b->opt.socket_path);
		ret = attach(b) || run_loop(b);
	}
	if (ret && b->stop_reason && !strcmp(b->stop_reason, "signal"))
		ret = 0;	/* interrupted while attaching: not an error */
	if (!ret)
		info(b, "bridge: stopping (%s): forwarded %llu requests, unregistered %u vCPU threads",
		     b->stop_reason ? b->stop_reason : "done",
		     (unsigned long long)b->forwarded, b->nr_vcpus);
	teardown(b);
	return ret ? 1 : 0;
}
