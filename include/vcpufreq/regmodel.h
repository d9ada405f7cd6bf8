/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The virtual cpufreq device ("qemu,virtual-cpufreq", Linux 6.13) as a
 * register model a VMM calls from its MMIO handler.  Register offsets are
 * in vcpufreq/abi.h.  Bad accesses behave like hardware and never crash:
 * unaligned/unknown offsets and out-of-range vCPUs read 0, writes to them
 * are ignored, and both are counted.  How it compares with Linux's driver
 * and crosvm's device, register by register: docs/compatibility.md.
 */
#ifndef VCPUFREQ_REGMODEL_H
#define VCPUFREQ_REGMODEL_H

#include <stddef.h>
#include <stdint.h>
#include "vcpufreq/abi.h"	/* VCPUFREQ_REG_* offsets */
#include "vcpufreq/api.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VCPUFREQ_DEV_MAX_VCPUS	1024

/* the writer of an access is not known (vcpufreq_dev_write()) */
#define VCPUFREQ_DEV_NO_WRITER	UINT32_MAX

/*
 * Whose host thread a SET_PERF is for.  Linux's driver writes SET_PERF
 * only into policy->cpu's block, from whichever CPU of the policy runs the
 * update, and counts on the VMM to boost the vCPU that trapped.
 */
enum vcpufreq_dev_scope {
	/*
	 * The vCPU that wrote (crosvm), at the scale of the block written;
	 * the block's own vCPU when the writer is not known.
	 */
	VCPUFREQ_DEV_SCOPE_WRITER = 0,
	/*
	 * Every vCPU of the written block's perf domain: a domain has one
	 * frequency, so each of its vCPU threads gets it, whichever CPU of
	 * the policy wrote.
	 */
	VCPUFREQ_DEV_SCOPE_DOMAIN = 1,
};

struct vcpufreq_vcpu_config {
	uint32_t tid;		/* host thread id (0: not known yet) */
	uint32_t perf_domain;	/* PERF_DOMAIN: equal ids share a policy */
	uint32_t capacity;	/* host capacity this vCPU maps to, 1..1024 */
	uint32_t nr_perf;	/* 1: continuous (perf[0] is the max), 2..64 */
	uint32_t perf[64];	/* guest perf values (kHz), ascending, nonzero */
};

struct vcpufreq_dev_config {
	uint32_t nr_vcpus;	/* 1..VCPUFREQ_DEV_MAX_VCPUS */
	uint32_t vm_id;
	/*
	 * crosvm compatibility: take 20% off every request, as crosvm does
	 * before its uclamp_min on schedutil hosts (kernels before 6.8 added
	 * 25% to uclamp_min).  vcpufreq's backends translate requests
	 * themselves (vcpufreq/abi.h): leave it 0 for them.
	 */
	int host_schedutil;
	uint32_t scope;		/* enum vcpufreq_dev_scope */
	const struct vcpufreq_vcpu_config *vcpus;	/* nr_vcpus entries */
};

/*
 * Where SET_PERF goes and where CUR_PERF comes from.  submit() gets the
 * request already in host capacity units (0..1024); cur_perf() returns the
 * host's current perf for the vCPU in capacity units, 0 when unknown (the
 * model then answers the vCPU's last nonzero request, or its fmax).
 * Either may be NULL.  submit() runs for each vCPU a SET_PERF is for
 * (enum vcpufreq_dev_scope), with that vCPU's thread.
 */
struct vcpufreq_dev_ops {
	int (*submit)(void *ctx, uint32_t vcpu, uint32_t tid,
		      uint32_t host_perf, uint32_t guest_perf);
	uint32_t (*cur_perf)(void *ctx, uint32_t vcpu, uint32_t tid);
	void *ctx;
};

struct vcpufreq_dev_stats {
	uint64_t reads, writes;
	uint64_t bad_reads, bad_writes;	/* bad offset, alignment or vCPU */
	uint64_t requests;		/* SET_PERF writes accepted */
	uint64_t clamped;		/* SET_PERF values above fmax */
	uint64_t foreign;		/* SET_PERF from another vCPU's thread */
	/* SET_PERF from a vCPU of another perf domain, taken as unknown */
	uint64_t outside_domain;
};

struct vcpufreq_dev;

/*
 * Validate @cfg (copied) and create the model.  Refuses, with a one-line
 * reason in @err: no vCPUs or too many, a table of 0 or > 64 entries, a
 * zero or unsorted entry, a capacity of 0 or > 1024, an unknown scope.
 * -EINVAL / -ENOMEM.
 */
VCPUFREQ_API int vcpufreq_dev_new(const struct vcpufreq_dev_config *cfg,
				  const struct vcpufreq_dev_ops *ops,
				  struct vcpufreq_dev **out, char *err,
				  size_t err_len);
VCPUFREQ_API void vcpufreq_dev_free(struct vcpufreq_dev *dev);

/*
 * The vCPU's host thread became known (or changed): a request the guest
 * already made is submitted for it at once.
 */
VCPUFREQ_API int vcpufreq_dev_set_tid(struct vcpufreq_dev *dev, uint32_t vcpu,
				      uint32_t tid);

/*
 * One 32-bit access to register @offset of @vcpu's block (an MMIO handler
 * at device offset X passes vcpu = X / VCPUFREQ_REG_STRIDE and offset =
 * X % VCPUFREQ_REG_STRIDE).
 */
VCPUFREQ_API uint32_t vcpufreq_dev_read(struct vcpufreq_dev *dev, uint32_t vcpu,
					uint32_t offset);
/*
 * A write by vCPU @writer, the one whose exit the VMM is handling (an
 * MMIO exit runs on the trapping vCPU's thread), into @vcpu's block.
 * @writer decides whose thread a SET_PERF boosts under
 * VCPUFREQ_DEV_SCOPE_WRITER; VCPUFREQ_DEV_NO_WRITER, any value not a
 * vCPU of the device and a vCPU of another perf domain than @vcpu's
 * (counted in stats.outside_domain) stand for the block's own vCPU.
 */
VCPUFREQ_API void vcpufreq_dev_write_from(struct vcpufreq_dev *dev,
					  uint32_t writer, uint32_t vcpu,
					  uint32_t offset, uint32_t value);
/* the same with the writer unknown */
VCPUFREQ_API void vcpufreq_dev_write(struct vcpufreq_dev *dev, uint32_t vcpu,
				     uint32_t offset, uint32_t value);

/* guest perf -> host capacity units, as SET_PERF converts it */
VCPUFREQ_API uint32_t vcpufreq_dev_to_host(const struct vcpufreq_dev *dev,
					   uint32_t vcpu, uint32_t guest_perf);

VCPUFREQ_API void vcpufreq_dev_get_stats(const struct vcpufreq_dev *dev,
					 struct vcpufreq_dev_stats *st);

#ifdef __cplusplus
}
#endif

#endif
