/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The client side of the agent's broker (see struct vcpufreq_broker_msg
 * in vcpufreq/abi.h): how a VMM that is not root registers its vCPU
 * threads and sends their requests.
 */
#ifndef VCPUFREQ_BROKERCLIENT_H
#define VCPUFREQ_BROKERCLIENT_H

#include <stddef.h>
#include <stdint.h>

/* STATE_DIR/NAME.sock for the pin dir @pin_dir (NULL: the default) */
void vf_broker_path(const char *pin_dir, char *buf, size_t len);

/* connected and greeted: an fd, or a negative errno (-EPERM: no grant) */
int vf_broker_connect(const char *pin_dir);

/* send @op for @tid and wait for its answer: 0 or a negative errno */
int vf_broker_call(int fd, uint32_t op, uint32_t tid, uint32_t vm_id,
		   uint32_t vcpu);

/* a request, not answered (the broker coalesces); 0 or -errno */
int vf_broker_request(int fd, uint32_t tid, uint32_t perf,
		      uint32_t guest_perf);

#endif
