// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libvcpufreq: register vCPU threads and submit their requests. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "vcpufreq/abi.h"
#include "vcpufreq/vcpufreq.h"

#define VF_MAX_VCPUS 1024

struct vf_vcpu {
	uint32_t tid;
	struct vcpufreq_request req;
};

struct vcpufreq {
	int requests_fd;
	int nr_vcpus;
	struct vf_vcpu vcpus[VF_MAX_VCPUS];
};

int vcpufreq_open(const char *pin_dir, struct vcpufreq **out)
{
	char path[PATH_MAX];
	struct vcpufreq *vf;

	snprintf(path, sizeof(path), "%s/%s", pin_dir ? pin_dir :
		 VCPUFREQ_PIN_DIR, VCPUFREQ_PIN_REQUESTS);
	vf = calloc(1, sizeof(*vf));
	if (!vf)
		return -ENOMEM;
	vf->requests_fd = bpf_obj_get(path);
	if (vf->requests_fd < 0) {
		int ret = -errno;

		free(vf);
		return ret;
	}
	*out = vf;
	return 0;
}

void vcpufreq_close(struct vcpufreq *vf)
{
	if (!vf)
		return;
	close(vf->requests_fd);
	free(vf);
}

static struct vf_vcpu *find_vcpu(struct vcpufreq *vf, uint32_t tid)
{
	for (int i = 0; i < vf->nr_vcpus; i++)
		if (vf->vcpus[i].tid == tid)
			return &vf->vcpus[i];
	return NULL;
}

int vcpufreq_register(struct vcpufreq *vf, uint32_t tid, uint32_t vm_id,
		      uint32_t vcpu)
{
	struct vf_vcpu *v = find_vcpu(vf, tid);

	if (!tid)
		return -EINVAL;
	if (!v) {
		if (vf->nr_vcpus >= VF_MAX_VCPUS)
			return -ENOSPC;
		v = &vf->vcpus[vf->nr_vcpus++];
	}
	memset(v, 0, sizeof(*v));
	v->tid = tid;
	v->req.vm_id = vm_id;
	v->req.vcpu = vcpu;
	return bpf_map_update_elem(vf->requests_fd, &tid, &v->req, BPF_ANY) ?
	       -errno : 0;
}

int vcpufreq_request(struct vcpufreq *vf, uint32_t tid, uint32_t perf,
		     uint32_t guest_perf)
{
	struct vf_vcpu *v = find_vcpu(vf, tid);

	if (!v)
		return -ENOENT;
	if (perf > VCPUFREQ_PERF_MAX)
		return -ERANGE;
	v->req.perf = perf;
	v->req.guest_perf = guest_perf;
	return bpf_map_update_elem(vf->requests_fd, &tid, &v->req, BPF_ANY) ?
	       -errno : 0;
}

int vcpufreq_unregister(struct vcpufreq *vf, uint32_t tid)
{
	struct vf_vcpu *v = find_vcpu(vf, tid);

	if (!v)
		return -ENOENT;
	*v = vf->vcpus[--vf->nr_vcpus];
	if (bpf_map_delete_elem(vf->requests_fd, &tid) && errno != ENOENT)
		return -errno;
	return 0;
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
	case -EPERM:
	case -EACCES:
		return "permission denied: run as root or ask for a grant";
	default:
		return strerror(err < 0 ? -err : err);
	}
}
