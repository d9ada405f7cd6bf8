/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * vcpufreq-qemu-bridge: the virtual cpufreq device for one unmodified QEMU.
 *
 * QEMU 7.2 has no virtual cpufreq device, but it has ivshmem-doorbell: a
 * PCI device whose BAR2 is host shared memory and whose BAR0 DOORBELL
 * register signals an eventfd on the host.  The bridge is the ivshmem
 * server for that device and plays the device's host half:
 *
 *   1. serves the ivshmem socket (ivshmem.c): QEMU gets the shared memory
 *      (struct vcpufreq_shm_header + one block per vCPU, vcpufreq/device.h)
 *      and an eventfd to ring for peer BRIDGE_PEER_ID, vector 0;
 *   2. learns which host thread runs each vCPU (vcpus.c): over QMP
 *      (qmp.c, plain QEMU) or from libvirt's status XML (libvirt.c);
 *   3. builds the register model from the host topology for each vCPU's
 *      affinity, copies the perf tables it reads back into shared memory
 *      and writes the magic last (device.c);
 *   4. registers every vCPU thread with libvcpufreq (vcpus.c);
 *   5. on each doorbell, hands every changed set_perf to the model's
 *      SET_PERF (which converts and submits it) and refreshes cur_perf,
 *      also every --interval ms (loop.c);
 *   6. when QEMU exits (a socket closes) or on SIGINT/SIGTERM,
 *      unregisters the threads and exits 0 (main.c).
 *
 * Everything in shared memory may have been written by the guest: the
 * bridge reads only set_perf and seq from it, and never uses a value read
 * from it as an index or a size.  Built against libvcpufreq's public
 * headers only, plus the project's internal helpers in common/ (numbers,
 * --affinity lists, error output).  Usage: docs/usage.md.
 */
#ifndef VCPUFREQ_BRIDGE_H
#define VCPUFREQ_BRIDGE_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>
#include "vcpufreq/abi.h"
#include "vcpufreq/device.h"
#include "vcpufreq/vcpufreq.h"
#include "vcpufreq/host.h"
/*
 * The project's internal helpers, not libvcpufreq's API (no installed
 * header declares them): common/ in the source tree, whose objects the
 * bridge links itself (Makefile: COMMON_OBJS), since libvcpufreq does not
 * export them.
 */
#include "util.h"
#include "cpulist.h"

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
#define LIBVIRT_WAIT_MS		60000	/* libvirt lists the vCPU threads */
#define DEFAULT_INTERVAL_MS	50
#define LIBVIRT_STATUS_DIR	"/run/libvirt/qemu"

struct options {
	const char *socket_path;
	const char *qmp_path;	/* vCPU threads over QMP, or ... */
	const char *libvirt;	/* ... from this libvirt domain's status */
	const char *libvirt_dir;
	const char *affinity;	/* NULL: each vCPU thread's own */
	const char *topology;	/* override file, NULL: sysfs */
	const char *pin_dir;	/* NULL: libvcpufreq's default */
	uint32_t vm_id;
	bool vm_id_given;
	bool verbose;
	bool json;
	bool print_qemu_args;
	unsigned int interval_ms;
	uint32_t scope;		/* enum vcpufreq_dev_scope */
	int corrupt;		/* test builds only: see corrupt.c */
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
	int guest_irq_fd;	/* QEMU's own vector 0 (unused) */
	bool socket_created;
	void *shm;
	pid_t qemu_pid;

	/* QMP (plain QEMU only) */
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

	/* host side */
	struct vcpufreq *vf;
	struct vcpufreq_dev *dev;
	struct vcpufreq_dev_ops lib_ops;
	struct last_submit last;
	uint64_t forwarded;

	/* the guest's doorbell, rate limited (loop.c) */
	uint64_t rings;		/* doorbell wakeups */
	uint64_t deferred;	/* of those, handled later, coalesced */
	double ring_tokens;
	int64_t ring_last_ms;
	int defer_fd;		/* one-shot timer: doorbells allowed again */
	int64_t stats_ms;	/* SOCKET.stats last written (loop.c) */

	int signal_fd, timer_fd, epoll_fd;
	const char *stop_reason;
};

/* log.c: messages and the clock */
/* errors follow *@json (the --json option, as parsed so far) */
void log_errors_as_json(const bool *json);
/* "Error: ..." on stderr, or {"error":...} under --json (vf_verror); -1 */
int bridge_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void info(const struct bridge *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int64_t now_ms(void);	/* CLOCK_MONOTONIC, ms */

/* ivshmem.c: the ivshmem server */
int make_eventfds(struct bridge *b);
int listen_ivshmem(struct bridge *b);
int accept_qemu(struct bridge *b);
void refuse_extra_client(struct bridge *b);
pid_t peer_pid(int sock);
void remove_socket(struct bridge *b);
int unix_addr(const char *path, struct sockaddr_un *sa, const char *what);

/* loop.c: waiting and the event loop */
int block_stop_signals(struct bridge *b);
int wait_readable(struct bridge *b, int fd, int timeout_ms);
int run_loop(struct bridge *b);

/* qmp.c and libvirt.c: where the vCPU threads come from */
int qmp_query_vcpus(struct bridge *b);
int libvirt_query_vcpus(struct bridge *b);

/* vcpus.c: the vCPU threads, registered with libvcpufreq */
int take_vcpu(struct bridge *b, const char *from, long long index,
	      long long tid);
int check_vcpus(struct bridge *b, const char *from, unsigned int n);
int open_vcpufreq(struct bridge *b);
int register_vcpus(struct bridge *b);
void unregister_vcpus(struct bridge *b);

/* device.c: the register model and the shared memory */
int create_shm(struct bridge *b);
int build_model(struct bridge *b);
void publish_shm(struct bridge *b);
void forward_requests(struct bridge *b);
void refresh_cur_perf(struct bridge *b, unsigned int i);

/* corrupt.c (VCPUFREQ_BRIDGE_TESTING builds): break a published table */
#ifdef VCPUFREQ_BRIDGE_TESTING
int parse_corrupt(const char *s, int *kind);
const char *corrupt_name(int kind);
bool corrupt_table(struct bridge *b);	/* true: withhold the magic */
void shm_store(__u32 *field, uint32_t v);
struct vcpufreq_shm_vcpu *shm_vcpu(const struct bridge *b, unsigned int vcpu);
#endif

#endif
