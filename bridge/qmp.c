// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The QMP client of a plain QEMU (-qmp unix:PATH,server=on,wait=off): asks
 * query-cpus-fast for each vCPU's host thread, then stays connected so
 * that QEMU's exit closes it.  Under libvirt the monitor is libvirt's and
 * libvirt.c is used instead.  Replies are parsed with jansson: QMP may be
 * any process that answers on the socket, so every field is checked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <jansson.h>
#include "bridge.h"

#define QMP_MAX_LINE		(1 << 20)

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
			return bridge_err("QMP sent a line longer than %d bytes; is --qmp %s a QEMU monitor?",
					  QMP_MAX_LINE, b->opt.qmp_path);
		/* never negative: poll() would wait forever */
		r = wait_readable(b, b->qmp_fd, deadline > now_ms() ?
				  (int)(deadline - now_ms()) : 0);
		if (r < 0)
			return -1;
		if (!r || deadline <= now_ms())
			return bridge_err("QMP on %s did not answer within %d s; is another client connected to it?",
					  b->opt.qmp_path, QMP_WAIT_MS / 1000);
		n = read(b->qmp_fd, b->qmp_buf + b->qmp_len,
			 QMP_MAX_LINE - b->qmp_len);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return bridge_err("QEMU closed QMP (%s) while the bridge was attaching: did QEMU exit? see its error output",
					  b->opt.qmp_path);
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return bridge_err("reading QMP: %s", strerror(errno));
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

/* the next message that is not an event, parsed; NULL on error */
static json_t *qmp_next(struct bridge *b)
{
	json_error_t jerr;
	char *line = NULL;
	size_t len = 0;
	json_t *m;

	for (;;) {
		if (qmp_read_line(b, &line, &len))
			return NULL;
		m = json_loadb(line, len, 0, &jerr);
		qmp_consume_line(b, len);
		if (!json_is_object(m)) {
			json_decref(m);
			bridge_err("QMP sent something that is not a QMP message; is --qmp %s a QEMU monitor (-qmp unix:PATH,server=on,wait=off)?",
				   b->opt.qmp_path);
			return NULL;
		}
		if (!json_object_get(m, "event"))
			return m;
		json_decref(m);
	}
}

/* run QMP command @name; its "return" value (json_decref it), or NULL */
static json_t *qmp_execute(struct bridge *b, const char *name)
{
	const char *desc = "(no description)";
	json_t *m, *ret, *err;
	char cmd[128];
	ssize_t w;
	int n;

	n = snprintf(cmd, sizeof(cmd), "{\"execute\":\"%s\"}\r\n", name);
	w = send(b->qmp_fd, cmd, (size_t)n, MSG_NOSIGNAL);
	if (w != n) {
		bridge_err("writing to QMP: %s", w < 0 ? strerror(errno) :
			   "short write");
		return NULL;
	}
	m = qmp_next(b);
	if (!m)
		return NULL;
	ret = json_incref(json_object_get(m, "return"));
	err = json_object_get(m, "error");
	if (!ret && json_is_string(json_object_get(err, "desc")))
		desc = json_string_value(json_object_get(err, "desc"));
	if (!ret && err)
		bridge_err("QMP %s failed: %s", name, desc);
	else if (!ret)
		bridge_err("QMP answered %s with neither return nor error", name);
	json_decref(m);
	return ret;
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
			return bridge_err("socket: %s", strerror(errno));
		if (!connect(b->qmp_fd, (struct sockaddr *)&sa, sizeof(sa)))
			return 0;
		err = errno;
		close(b->qmp_fd);
		b->qmp_fd = -1;
		if ((err != ENOENT && err != ECONNREFUSED) ||
		    now_ms() >= deadline)
			return bridge_err("cannot connect to QMP at %s: %s; start QEMU with -qmp unix:%s,server=on,wait=off",
					  b->opt.qmp_path, strerror(err),
					  b->opt.qmp_path);
		/* QEMU may not have created it yet: retry every 100 ms */
		err = wait_readable(b, b->client_fd, 100);
		if (err < 0)
			return -1;
		if (err > 0)	/* QEMU never writes: this is its exit */
			return bridge_err("QEMU went away before its QMP socket %s came up",
					  b->opt.qmp_path);
	}
}

/* query-cpus-fast: [{"cpu-index": N, "thread-id": TID, ...}, ...] */
static int take_cpus(struct bridge *b, const json_t *cpus)
{
	const char *from = "QMP query-cpus-fast";
	json_t *cpu, *index, *tid;
	size_t i;

	if (!json_is_array(cpus))
		return bridge_err("%s did not return a list", from);
	json_array_foreach(cpus, i, cpu) {
		index = json_object_get(cpu, "cpu-index");
		tid = json_object_get(cpu, "thread-id");
		if (!json_is_integer(index) || !json_is_integer(tid))
			return bridge_err("%s: entry %zu lacks a cpu-index or thread-id",
					  from, i);
		if (take_vcpu(b, from, json_integer_value(index),
			      json_integer_value(tid)))
			return -1;
	}
	return check_vcpus(b, from, (unsigned int)json_array_size(cpus));
}

/* QMP must be the ivshmem client's: a wrong --qmp must not boost others */
static int check_same_qemu(struct bridge *b)
{
	pid_t qmp_pid = peer_pid(b->qmp_fd);

	if (b->qemu_pid && qmp_pid && qmp_pid != b->qemu_pid)
		return bridge_err("--qmp %s belongs to pid %d but the ivshmem client is pid %d; give the QMP socket of the same QEMU",
				  b->opt.qmp_path, qmp_pid, b->qemu_pid);
	return 0;
}

int qmp_query_vcpus(struct bridge *b)
{
	json_t *m, *cpus;
	int ret;

	b->qmp_buf = malloc(QMP_MAX_LINE);
	if (!b->qmp_buf)
		return bridge_err("out of memory");
	if (qmp_connect(b) || check_same_qemu(b))
		return -1;
	m = qmp_next(b);
	if (!m)
		return -1;
	ret = json_object_get(m, "QMP") ? 0 :
	      bridge_err("%s did not greet like QMP; start QEMU with -qmp unix:%s,server=on,wait=off",
			 b->opt.qmp_path, b->opt.qmp_path);
	json_decref(m);
	if (ret)
		return -1;
	m = qmp_execute(b, "qmp_capabilities");
	if (!m)
		return -1;
	json_decref(m);
	cpus = qmp_execute(b, "query-cpus-fast");
	if (!cpus)
		return -1;
	ret = take_cpus(b, cpus);
	json_decref(cpus);
	return ret;
}
