// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Talking to the agent's broker: one SOCK_SEQPACKET message per operation.
 * REGISTER/UNREGISTER/HELLO wait for their answer; a refused REQUEST is
 * answered too (the broker does not wait for us to read it), so an
 * answer we were not waiting for is skipped.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "vcpufreq/abi.h"
#include "brokerclient.h"
#include "util.h"

void vf_broker_path(const char *pin_dir, char *buf, size_t len)
{
	vf_instance_file(pin_dir, ".sock", buf, len);
}

static int send_msg(int fd, const struct vcpufreq_broker_msg *m, int flags)
{
	ssize_t n = send(fd, m, sizeof(*m), MSG_NOSIGNAL | flags);

	if (n == (ssize_t)sizeof(*m))
		return 0;
	return n < 0 ? -errno : -EIO;
}

int vf_broker_call(int fd, uint32_t op, uint32_t tid, uint32_t vm_id,
		   uint32_t vcpu)
{
	struct vcpufreq_broker_msg m = {
		.op = op, .tid = tid, .vm_id = vm_id, .vcpu = vcpu,
	};
	struct vcpufreq_broker_reply r;
	int ret = send_msg(fd, &m, 0);

	/*
	 * The broker answers a user without a grant before it reads anything
	 * and closes: our send then fails, but its answer is there to read
	 */
	if (ret == -EPIPE || ret == -ECONNRESET) {
		if (recv(fd, &r, sizeof(r), MSG_DONTWAIT) == (ssize_t)sizeof(r))
			return r.error;
		return ret;
	}
	while (!ret) {
		ssize_t n = recv(fd, &r, sizeof(r), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(r))
			return n < 0 ? -errno : -ECONNRESET;
		if (r.op == op && r.tid == tid)
			return r.error;
	}
	return ret;
}

int vf_broker_request(int fd, uint32_t tid, uint32_t perf,
		      uint32_t guest_perf)
{
	struct vcpufreq_broker_msg m = {
		.op = VCPUFREQ_BROKER_REQUEST, .tid = tid, .perf = perf,
		.guest_perf = guest_perf,
	};

	/* never block a vCPU thread on a busy agent: the next one wins */
	return send_msg(fd, &m, MSG_DONTWAIT);
}

int vf_broker_connect(const char *pin_dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	vf_broker_path(pin_dir, sa.sun_path, sizeof(sa.sun_path));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		close(fd);
		return ret;
	}
	ret = vf_broker_call(fd, VCPUFREQ_BROKER_HELLO, VCPUFREQ_BROKER_VERSION,
			     0, 0);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}
