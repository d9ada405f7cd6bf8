/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libvcpufreq: the VMM side of vcpufreq-bpf.  A VMM registers each vCPU
 * thread (host TID), then submits requests in host capacity units
 * (0..1024) as its guest asks for performance.  Plain C types only, errors
 * as negative errno, so it is easy to call through FFI.
 */
#ifndef VCPUFREQ_H
#define VCPUFREQ_H

#include <stdint.h>
#include "vcpufreq/api.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vcpufreq;

/* Open the maps pinned by `vcpufreq-bpf load` (NULL: /sys/fs/bpf/vcpufreq) */
VCPUFREQ_API int vcpufreq_open(const char *pin_dir, struct vcpufreq **out);
VCPUFREQ_API void vcpufreq_close(struct vcpufreq *vf);

/* 1 when requests are plain stores into a mapped slot, 0: bpf() per request */
VCPUFREQ_API int vcpufreq_fast_path(const struct vcpufreq *vf);

/*
 * Register vCPU @vcpu of VM @vm_id running on host thread @tid (root pid
 * namespace).  Claims the thread's fast-path slot when there is one.
 */
VCPUFREQ_API int vcpufreq_register(struct vcpufreq *vf, uint32_t tid,
				   uint32_t vm_id, uint32_t vcpu);
/*
 * Request @perf (0..1024) for a registered thread; @guest_perf: the raw
 * value the guest wrote.  Fast path: no syscall.  Requests for different
 * vCPUs may run concurrently; register/unregister must not run at the
 * same time as any call on the same handle (serialize them, e.g. at vCPU
 * creation and teardown).  -ESRCH: the thread has exited.
 */
VCPUFREQ_API int vcpufreq_request(struct vcpufreq *vf, uint32_t tid,
				  uint32_t perf, uint32_t guest_perf);
VCPUFREQ_API int vcpufreq_unregister(struct vcpufreq *vf, uint32_t tid);

/*
 * Take every written request in now, rather than at each thread's next
 * wakeup (runs the kernel side's task iterator; root, as the agent does).
 */
VCPUFREQ_API int vcpufreq_refresh(const char *pin_dir);

VCPUFREQ_API const char *vcpufreq_strerror(int err);

#include "vcpufreq/regmodel.h"

/*
 * Register-model ops that submit SET_PERF through @vf (each vCPU's thread
 * must be registered with vcpufreq_register and given to the model with
 * vcpufreq_dev_set_tid) and answer CUR_PERF with vcpufreq_host_cur_perf().
 */
VCPUFREQ_API void vcpufreq_dev_ops_init(struct vcpufreq_dev_ops *ops,
					struct vcpufreq *vf);

/*
 * The host's current perf (capacity units) for thread @tid of this
 * process: the CPU it last ran on, scaling_cur_freq / cpuinfo_max_freq x
 * cpu_capacity.  0 when the host has no cpufreq driver.
 */
VCPUFREQ_API uint32_t vcpufreq_host_cur_perf(uint32_t tid);

#ifdef __cplusplus
}
#endif

#endif
