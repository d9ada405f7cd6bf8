// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The device: each vCPU's view of the host (libvcpufreq's topology), the
 * register model that turns SET_PERF into a request for the vCPU's
 * thread, and the shared memory the guest driver reads the model from.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include "bridge.h"

/* --affinity: one cpulist for all vCPUs, or 'L0;L1;...' one per vCPU */
static int parse_affinity(struct bridge *b)
{
	char why[1536];

	if (vf_parse_affinity(b->opt.affinity, b->nr_vcpus, b->affinity, NULL,
			      NULL, why, sizeof(why)))
		return bridge_err("%s", why);
	return 0;
}

/* without --affinity: where each vCPU thread may run right now */
static int read_thread_affinity(struct bridge *b)
{
	for (unsigned int i = 0; i < b->nr_vcpus; i++)
		if (sched_getaffinity((pid_t)b->tid[i], sizeof(cpu_set_t),
				      &b->affinity[i]))
			return bridge_err("cannot read the affinity of vCPU %u thread %u: %s",
					  i, b->tid[i], strerror(errno));
	return 0;
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

int build_model(struct bridge *b)
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
	char why[256];

	if (b->opt.affinity ? parse_affinity(b) : read_thread_affinity(b))
		return -1;
	if (vcpufreq_vcpu_views(b->opt.topology, b->nr_vcpus, b->affinity,
				b->view, why, sizeof(why)))
		return bridge_err("cannot describe the host to the guest: %s%s", why,
				  b->opt.topology ? "" :
				  "; describe the host CPUs with --topology FILE");
	/* requests as vcpufreq/abi.h defines them: no crosvm 20% cut */
	cfg.host_schedutil = 0;
	cfg.scope = b->opt.scope;
	vcpufreq_dev_ops_init(&b->lib_ops, b->vf);
	if (vcpufreq_dev_new(&cfg, &ops, &b->dev, why, sizeof(why)))
		return bridge_err("cannot build the virtual cpufreq device: %s", why);
	return 0;
}

int create_shm(struct bridge *b)
{
	b->shm_fd = memfd_create("vcpufreq-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (b->shm_fd < 0)
		return bridge_err("memfd_create: %s", strerror(errno));
	if (ftruncate(b->shm_fd, VCPUFREQ_SHM_SIZE))
		return bridge_err("sizing the shared memory: %s", strerror(errno));
	/* QEMU maps the whole file: nobody may shrink it under either of us */
	if (fcntl(b->shm_fd, F_ADD_SEALS,
		  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))
		return bridge_err("sealing the shared memory: %s", strerror(errno));
	b->shm = mmap(NULL, VCPUFREQ_SHM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_SHARED, b->shm_fd, 0);
	if (b->shm == MAP_FAILED) {
		b->shm = NULL;
		return bridge_err("mapping the shared memory: %s", strerror(errno));
	}
	return 0;
}

static struct vcpufreq_shm_header *shm_header(const struct bridge *b)
{
	return b->shm;
}

/* block @vcpu: from our constants, never from the (guest-writable) header */
struct vcpufreq_shm_vcpu *shm_vcpu(const struct bridge *b,
					  unsigned int vcpu)
{
	return (struct vcpufreq_shm_vcpu *)((char *)b->shm +
		VCPUFREQ_SHM_VCPU_OFFSET + vcpu * VCPUFREQ_SHM_VCPU_STRIDE);
}

void shm_store(__u32 *field, uint32_t v)
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

/*
 * The guest trusts nothing until it sees the magic, so it goes in last,
 * after a release barrier: a guest that reads it sees complete tables.
 */
void publish_shm(struct bridge *b)
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
#ifdef VCPUFREQ_BRIDGE_TESTING
	if (b->opt.corrupt && corrupt_table(b))
		return;		/* the magic withheld */
#endif
	memcpy(&magic, VCPUFREQ_SHM_MAGIC, sizeof(magic));
	__atomic_store_n((uint64_t *)h->magic, magic, __ATOMIC_RELEASE);
}

void refresh_cur_perf(struct bridge *b, unsigned int i)
{
	shm_store(&shm_vcpu(b, i)->cur_perf,
		  vcpufreq_dev_read(b->dev, i, VCPUFREQ_REG_CUR_PERF));
}

/* @writer as the guest names it: vCPU + 1, 0 when not known ("-") */
static void log_request(struct bridge *b, unsigned int i, uint32_t seq,
			uint32_t set_perf, uint32_t writer)
{
	char w[16] = "-";

	if (!b->opt.verbose)
		return;
	if (writer)
		snprintf(w, sizeof(w), "%u", writer - 1);
	if (!b->last.made) {
		printf("request vcpu %u tid %u seq %u set_perf %u writer %s: not submitted\n",
		       i, b->tid[i], seq, set_perf, w);
		return;
	}
	printf("request vcpu %u tid %u seq %u set_perf %u writer %s -> guest %u host %u: %s\n",
	       i, b->tid[i], seq, set_perf, w, b->last.guest_perf,
	       b->last.host_perf, b->last.ret ? vcpufreq_strerror(b->last.ret) :
	       "ok");
}

/*
 * A doorbell: every block whose seq moved carries a new set_perf, written
 * by the vCPU the guest names in writer (what an MMIO exit would tell).
 * A request may be for other vCPUs than the block's (--scope), so every
 * cur_perf is refreshed after it.
 */
void forward_requests(struct bridge *b)
{
	struct vcpufreq_shm_vcpu *blk;
	uint32_t seq, set_perf, writer;
	unsigned int i, forwarded = 0;

	for (i = 0; i < b->nr_vcpus; i++) {
		blk = shm_vcpu(b, i);
		seq = shm_load(&blk->seq);	/* acquire: the rest before it */
		if (seq == b->seen_seq[i])
			continue;
		b->seen_seq[i] = seq;
		set_perf = shm_load(&blk->set_perf);
		writer = shm_load(&blk->writer);
		b->last.made = false;
		vcpufreq_dev_write_from(b->dev, writer ? writer - 1 :
					VCPUFREQ_DEV_NO_WRITER, i,
					VCPUFREQ_REG_SET_PERF, set_perf);
		forwarded++;
		log_request(b, i, seq, set_perf, writer);
	}
	for (i = 0; forwarded && i < b->nr_vcpus; i++)
		refresh_cur_perf(b, i);
	b->forwarded += forwarded;
}
