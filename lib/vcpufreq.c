// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libvcpufreq: register vCPU threads and submit their requests.
 *
 * As root, registration writes requests[TID] (a bpf() call, which the
 * kernel side notices at once) and claims a slot of the mmapped `slots`
 * array; from then on a request is two plain stores into that slot, no
 * syscall.  A VMM that is not root cannot open any map: its handle talks
 * to the agent's broker instead (brokerclient.c), which registers only
 * threads of the VMM's own VM and applies its requests.  A request the
 * broker's socket has no room for never blocks the vCPU thread: it is
 * kept as that thread's latest unsent one (a later request replaces it)
 * and a sender thread, started the first time, delivers it when there is
 * room, so the latest request of every thread always reaches the agent.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include "vcpufreq/abi.h"
#include "vcpufreq/vcpufreq.h"
#include "topology.h"
#include "procstat.h"
#include "brokerclient.h"
#include "tidindex.h"
#include "pins.h"

#define VF_MAX_VCPUS	1024
#define VF_BUCKETS	2048	/* power of two, > VF_MAX_VCPUS */

struct vcpu_thread {
	uint32_t tid;
	uint32_t gen;			/* the slot's generation when claimed */
	struct vcpufreq_slot *slot;	/* NULL: syscall path */
	struct vcpufreq_request req;
	bool unsent;			/* broker: unsent_* wait for room */
	uint32_t unsent_perf, unsent_guest_perf;
};

struct vcpufreq {
	int requests_fd;		/* -1 when talking to the broker */
	int broker_fd;			/* -1 when root (direct) */
	struct vcpufreq_slot *slots;	/* mmapped slots map, or NULL */
	int nr_vcpus;
	struct vcpu_thread vcpus[VF_MAX_VCPUS];
	uint16_t bucket[VF_BUCKETS];	/* TID hash -> index + 1 */
	struct vf_tid_table tids;	/* vcpus by TID, over bucket */
	/* broker: the sender thread and what it shares with the callers */
	pthread_mutex_t lock;		/* unsent requests; vcpus[] vs the sender */
	pthread_cond_t wake;
	pthread_t sender;
	bool sender_started, closing;
	int nr_unsent;
};

static struct vcpufreq_slot *map_slots(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, VCPUFREQ_PIN_SLOTS);
	return vf_map_slots(bpf_obj_get(path));
}

int vcpufreq_open(const char *pin_dir, struct vcpufreq **out)
{
	const char *dir = pin_dir ? pin_dir : VCPUFREQ_PIN_DIR;
	char path[PATH_MAX];
	struct vcpufreq *vf;
	struct stat st;
	int ret;

	if (!out)
		return -EINVAL;
	vf = calloc(1, sizeof(*vf));
	if (!vf)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/%s", dir, VCPUFREQ_PIN_REQUESTS);
	vf->broker_fd = -1;
	pthread_mutex_init(&vf->lock, NULL);
	pthread_cond_init(&vf->wake, NULL);
	vf->tids = (struct vf_tid_table){
		.entries = vf->vcpus, .stride = sizeof(vf->vcpus[0]),
		.count = &vf->nr_vcpus, .index = vf->bucket,
		.nbuckets = VF_BUCKETS,
	};
	/* root never uses maps someone else planted */
	if (geteuid() == 0 && (ret = vf_pin_dir_check(dir, &st)) &&
	    ret != -ENOENT) {
		free(vf);
		return ret;
	}
	vf->requests_fd = bpf_obj_get(path);
	if (vf->requests_fd >= 0) {
		vf->slots = map_slots(dir);
		*out = vf;
		return 0;
	}
	ret = -errno;
	/* not root: the maps are closed to us, the broker decides */
	if (ret == -EACCES || ret == -EPERM) {
		vf->broker_fd = vf_broker_connect(dir);
		if (vf->broker_fd >= 0) {
			*out = vf;
			return 0;
		}
		/* no agent listening: still a matter of permission */
		if (vf->broker_fd != -ENOENT && vf->broker_fd != -ECONNREFUSED)
			ret = vf->broker_fd;
	}
	free(vf);
	return ret;
}

void vcpufreq_close(struct vcpufreq *vf)
{
	if (!vf)
		return;
	while (vf->nr_vcpus)
		vcpufreq_unregister(vf, vf->vcpus[0].tid);
	if (vf->sender_started) {
		pthread_mutex_lock(&vf->lock);
		vf->closing = true;
		pthread_cond_signal(&vf->wake);
		pthread_mutex_unlock(&vf->lock);
		pthread_join(vf->sender, NULL);
	}
	if (vf->slots)
		munmap(vf->slots, VF_SLOTS_SIZE);
	if (vf->requests_fd >= 0)
		close(vf->requests_fd);
	if (vf->broker_fd >= 0)
		close(vf->broker_fd);
	pthread_cond_destroy(&vf->wake);
	pthread_mutex_destroy(&vf->lock);
	free(vf);
}

int vcpufreq_fast_path(const struct vcpufreq *vf)
{
	return vf && vf->slots != NULL;
}

static void forget_vcpu(struct vcpufreq *vf, struct vcpu_thread *v)
{
	pthread_mutex_lock(&vf->lock);	/* the sender walks vcpus[] */
	if (v->unsent)
		vf->nr_unsent--;
	vf_tid_remove(&vf->tids, v);
	pthread_mutex_unlock(&vf->lock);
}

/*
 * The sender: every unsent request goes out as soon as the broker's socket
 * has room, each thread's latest only.  It holds the lock while it sends,
 * so a caller that finds its thread's request sent sends the next one
 * after it, never before.
 */
static void *send_unsent(void *arg)
{
	struct vcpufreq *vf = arg;
	struct pollfd room = { .fd = vf->broker_fd, .events = POLLOUT };

	pthread_mutex_lock(&vf->lock);
	while (!vf->closing) {
		if (!vf->nr_unsent) {
			pthread_cond_wait(&vf->wake, &vf->lock);
			continue;
		}
		pthread_mutex_unlock(&vf->lock);
		poll(&room, 1, 100);
		pthread_mutex_lock(&vf->lock);
		for (int i = 0; i < vf->nr_vcpus && vf->nr_unsent; i++) {
			struct vcpu_thread *v = &vf->vcpus[i];

			if (!v->unsent)
				continue;
			if (vf_broker_request(vf->broker_fd, v->tid, v->unsent_perf,
					      v->unsent_guest_perf) == -EAGAIN)
				break;
			/* sent, or refused (the broker answers a refusal) */
			__atomic_store_n(&v->unsent, false, __ATOMIC_RELEASE);
			vf->nr_unsent--;
		}
	}
	pthread_mutex_unlock(&vf->lock);
	return NULL;
}

/* keep @perf as @v's latest unsent request, for the sender */
static int park_request(struct vcpufreq *vf, struct vcpu_thread *v,
			uint32_t perf, uint32_t guest_perf)
{
	int ret = 0;

	pthread_mutex_lock(&vf->lock);
	if (!vf->sender_started &&
	    !pthread_create(&vf->sender, NULL, send_unsent, vf))
		vf->sender_started = true;
	if (!vf->sender_started) {
		ret = -EAGAIN;
	} else {
		v->unsent_perf = perf;
		v->unsent_guest_perf = guest_perf;
		if (!v->unsent)
			vf->nr_unsent++;
		__atomic_store_n(&v->unsent, true, __ATOMIC_RELEASE);
		pthread_cond_signal(&vf->wake);
	}
	pthread_mutex_unlock(&vf->lock);
	return ret;
}

/* a request through the broker: sent now, or kept for the sender */
static int broker_request(struct vcpufreq *vf, struct vcpu_thread *v,
			  uint32_t perf, uint32_t guest_perf)
{
	int ret;

	/* one waits already: this one replaces it, in order */
	if (__atomic_load_n(&v->unsent, __ATOMIC_ACQUIRE))
		return park_request(vf, v, perf, guest_perf);
	ret = vf_broker_request(vf->broker_fd, v->tid, perf, guest_perf);
	return ret == -EAGAIN ? park_request(vf, v, perf, guest_perf) : ret;
}

/* A free slot (tid 0) becomes ours with one compare-and-swap. */
static struct vcpufreq_slot *claim_slot(struct vcpufreq *vf, uint32_t tid)
{
	if (!vf->slots)
		return NULL;
	for (int i = 0; i < VCPUFREQ_MAX_SLOTS; i++)
		if (__atomic_load_n(&vf->slots[i].tid, __ATOMIC_RELAXED) == tid)
			return &vf->slots[i];
	for (int i = 0; i < VCPUFREQ_MAX_SLOTS; i++) {
		uint32_t free_tid = 0;

		if (__atomic_compare_exchange_n(&vf->slots[i].tid, &free_tid,
						tid, false, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			return &vf->slots[i];
	}
	return NULL;	/* all taken: this vCPU uses the syscall path */
}

int vcpufreq_register(struct vcpufreq *vf, uint32_t tid, uint32_t vm_id,
		      uint32_t vcpu)
{
	struct vcpu_thread *v;

	if (!vf || !tid || tid > INT_MAX)
		return -EINVAL;
	v = vf_tid_find(&vf->tids, tid);
	if (!v) {
		if (vf->nr_vcpus >= VF_MAX_VCPUS)
			return -ENOSPC;
		pthread_mutex_lock(&vf->lock);	/* the sender walks vcpus[] */
		v = vf_tid_add(&vf->tids, tid);
		pthread_mutex_unlock(&vf->lock);
	}
	if (v->unsent) {	/* registered again: what waited is old */
		pthread_mutex_lock(&vf->lock);
		v->unsent = false;
		vf->nr_unsent--;
		pthread_mutex_unlock(&vf->lock);
	}
	memset(&v->req, 0, sizeof(v->req));
	v->req.vm_id = vm_id;
	v->req.vcpu = vcpu;
	if (vf->broker_fd >= 0) {
		int ret = vf_broker_call(vf->broker_fd, VCPUFREQ_BROKER_REGISTER,
					 tid, vm_id, vcpu);

		v->slot = NULL;
		if (ret)
			forget_vcpu(vf, v);
		return ret;
	}
	v->slot = claim_slot(vf, tid);
	if (v->slot) {
		v->gen = __atomic_load_n(&v->slot->gen, __ATOMIC_ACQUIRE);
		v->slot->perf = 0;
		v->slot->guest_perf = 0;
		v->req.slot = v->slot - vf->slots + 1;
	}
	if (bpf_map_update_elem(vf->requests_fd, &tid, &v->req, BPF_ANY)) {
		int ret = -errno;

		vcpufreq_unregister(vf, tid);
		return ret;
	}
	return 0;
}

int vcpufreq_request(struct vcpufreq *vf, uint32_t tid, uint32_t perf,
		     uint32_t guest_perf)
{
	struct vcpu_thread *v = vf_tid_find(&vf->tids, tid);

	if (!v)
		return -ENOENT;
	if (perf > VCPUFREQ_PERF_MAX)
		return -ERANGE;
	if (vf->broker_fd >= 0)
		return broker_request(vf, v, perf, guest_perf);
	if (v->slot) {
		/*
		 * the kernel frees the slot of a thread that exited: another
		 * VMM may have claimed it since for a thread with the same TID
		 */
		if (__atomic_load_n(&v->slot->tid, __ATOMIC_ACQUIRE) != tid ||
		    __atomic_load_n(&v->slot->gen, __ATOMIC_RELAXED) != v->gen)
			return -ESRCH;
		__atomic_store_n(&v->slot->guest_perf, guest_perf,
				 __ATOMIC_RELAXED);
		__atomic_store_n(&v->slot->perf, perf, __ATOMIC_RELEASE);
		return 0;
	}
	v->req.perf = perf;
	v->req.guest_perf = guest_perf;
	return bpf_map_update_elem(vf->requests_fd, &tid, &v->req, BPF_ANY) ?
	       -errno : 0;
}

int vcpufreq_unregister(struct vcpufreq *vf, uint32_t tid)
{
	struct vcpu_thread *v = vf ? vf_tid_find(&vf->tids, tid) : NULL;
	int ret = 0;

	if (!v)
		return -ENOENT;
	if (vf->broker_fd >= 0) {
		ret = vf_broker_call(vf->broker_fd, VCPUFREQ_BROKER_UNREGISTER,
				     tid, 0, 0);
		if (ret == -ENOENT)
			ret = 0;	/* the thread exited: already gone */
	} else if (bpf_map_delete_elem(vf->requests_fd, &tid) &&
		   errno != ENOENT) {
		ret = -errno;
	}
	/* only if still ours: after the thread exited it may be another's */
	if (v->slot && __atomic_load_n(&v->slot->gen, __ATOMIC_ACQUIRE) == v->gen)
		__atomic_compare_exchange_n(&v->slot->tid, &tid, 0, false,
					    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
	forget_vcpu(vf, v);
	return ret;
}

/*
 * The host's current perf for a vCPU thread, in capacity units: the CPU it
 * last ran on, at its current frequency relative to its maximum.  0 when
 * the host has no cpufreq information (the model then answers the last
 * request).
 */
uint32_t vcpufreq_host_cur_perf(uint32_t tid)
{
	const char *dir = getenv("VCPUFREQ_SYSFS_CPU_DIR");
	char path[PATH_MAX];
	unsigned int cap, cur, max;
	int cpu = vf_thread_stat_field(tid, VF_STAT_PROCESSOR);

	if (cpu < 0)
		return 0;
	if (!dir || !*dir)
		dir = VF_SYSFS_CPU_DIR;
	snprintf(path, sizeof(path), "%s/cpu%d/cpufreq/scaling_cur_freq", dir, cpu);
	if (vf_read_uint(path, &cur))
		cur = 0;
	snprintf(path, sizeof(path), "%s/cpu%d/cpufreq/cpuinfo_max_freq", dir, cpu);
	if (vf_read_uint(path, &max))
		max = 0;
	snprintf(path, sizeof(path), "%s/cpu%d/cpu_capacity", dir, cpu);
	if (vf_read_uint(path, &cap) || !cap)
		cap = VCPUFREQ_PERF_MAX;
	if (!cur || !max)
		return 0;
	return cur >= max ? cap : (uint64_t)cap * cur / max;
}

static uint32_t cur_perf_of_host(void *ctx, uint32_t vcpu, uint32_t tid)
{
	return tid ? vcpufreq_host_cur_perf(tid) : 0;
}

static int submit_to_host(void *ctx, uint32_t vcpu, uint32_t tid,
			  uint32_t host_perf, uint32_t guest_perf)
{
	return vcpufreq_request(ctx, tid, host_perf, guest_perf);
}

void vcpufreq_dev_ops_init(struct vcpufreq_dev_ops *ops, struct vcpufreq *vf)
{
	memset(ops, 0, sizeof(*ops));
	ops->submit = submit_to_host;
	ops->cur_perf = cur_perf_of_host;
	ops->ctx = vf;
}

int vcpufreq_refresh(const char *pin_dir)
{
	char path[PATH_MAX], buf[64];
	int link_fd, iter_fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s/refresh_all",
		 pin_dir ? pin_dir : VCPUFREQ_PIN_DIR, VCPUFREQ_PIN_LINKS);
	link_fd = bpf_obj_get(path);
	if (link_fd < 0)
		return -errno;
	iter_fd = bpf_iter_create(link_fd);
	close(link_fd);
	if (iter_fd < 0)
		return -errno;
	while ((n = read(iter_fd, buf, sizeof(buf))) > 0)
		;
	close(iter_fd);
	return n < 0 ? -errno : 0;
}

const char *vcpufreq_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -ENOENT:
		return "not registered, or vcpufreq-bpf is not loaded";
	case -ERANGE:
		return "perf out of range 0..1024";
	case -ENOSPC:
		return "too many vCPUs registered";
	case -EINVAL:
		return "invalid argument (TID 0, or no handle)";
	case -ESRCH:
		return "the vCPU thread has exited";
	case -EPERM:
	case -EACCES:
		return "permission denied: not a thread of your VM (your own "
		       "process, or a cgroup granted to you), or no grant: run "
		       "as root or ask the admin for 'vcpufreq-bpf grant'";
	case -EBUSY:
		return "the thread is registered by another VMM";
	case -EDQUOT:
		return "your grant's quota of vCPU threads is used up";
	case -EAGAIN:
		return "the agent is busy: request dropped, send the next one";
	default:
		return strerror(err < 0 ? -err : err);
	}
}
