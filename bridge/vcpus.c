// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The vCPU threads of the one QEMU this bridge serves, wherever their ids
 * came from (QMP or libvirt), checked before any of them is registered:
 * a wrong source must not boost threads that are not QEMU's vCPUs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "bridge.h"

/* one vCPU from @from, checked against those already seen */
int take_vcpu(struct bridge *b, const char *from, long long index,
	      long long tid)
{
	if (index < 0 || index >= MAX_VCPUS)
		return bridge_err("%s: vCPU index %lld; the bridge serves vCPUs 0..%d",
				  from, index, MAX_VCPUS - 1);
	if (tid <= 0 || tid > INT_MAX)
		return bridge_err("%s: vCPU %lld has no valid thread id (%lld)",
				  from, index, tid);
	if (b->tid[index])
		return bridge_err("%s: vCPU %lld listed twice", from, index);
	for (unsigned int i = 0; i < MAX_VCPUS; i++)
		if (b->tid[i] == (uint32_t)tid)
			return bridge_err("vCPUs %u and %lld share host thread %lld (single-threaded TCG?); run QEMU with KVM or -accel tcg,thread=multi",
					  i, index, tid);
	b->tid[index] = (uint32_t)tid;
	return 0;
}

/* @n vCPUs taken: indexes 0..n-1, each a thread of the ivshmem client */
int check_vcpus(struct bridge *b, const char *from, unsigned int n)
{
	char path[64];

	if (!n)
		return bridge_err("%s listed no vCPUs", from);
	for (unsigned int i = 0; i < n; i++)
		if (!b->tid[i])
			return bridge_err("%s: %u vCPUs but no vCPU %u", from, n, i);
	b->nr_vcpus = n;
	for (unsigned int i = 0; b->qemu_pid && i < n; i++) {
		snprintf(path, sizeof(path), "/proc/%d/task/%u", b->qemu_pid,
			 b->tid[i]);
		if (access(path, F_OK))
			return bridge_err("vCPU %u thread %u (from %s) is not a thread of QEMU pid %d; is QEMU in another pid namespace?",
					  i, b->tid[i], from, b->qemu_pid);
	}
	return 0;
}

int open_vcpufreq(struct bridge *b)
{
	const char *dir = b->opt.pin_dir ? b->opt.pin_dir : VCPUFREQ_PIN_DIR;
	int ret = vcpufreq_open(b->opt.pin_dir, &b->vf);

	if (ret == -ENOENT)
		return bridge_err("vcpufreq-bpf is not loaded (no maps in %s); run `vcpufreq-bpf load` first",
				  dir);
	if (ret == -EACCES || ret == -EPERM)
		return bridge_err("no access to the vcpufreq maps in %s; run as root or `vcpufreq-bpf grant --user USER --cgroup QEMU_CGROUP`",
				  dir);
	if (ret)
		return bridge_err("cannot open the vcpufreq maps in %s: %s",
				  dir, strerror(-ret));
	return 0;
}

int register_vcpus(struct bridge *b)
{
	int ret;

	for (unsigned int i = 0; i < b->nr_vcpus; i++) {
		ret = vcpufreq_register(b->vf, b->tid[i], b->opt.vm_id, i);
		if (ret)
			return bridge_err("cannot register vCPU %u thread %u: %s",
					  i, b->tid[i], vcpufreq_strerror(ret));
		b->registered[i] = true;
		vcpufreq_dev_set_tid(b->dev, i, b->tid[i]);
	}
	return 0;
}

void unregister_vcpus(struct bridge *b)
{
	for (unsigned int i = 0; i < b->nr_vcpus; i++) {
		if (!b->registered[i])
			continue;
		/* -ENOENT: the kernel side already dropped an exited thread */
		vcpufreq_unregister(b->vf, b->tid[i]);
		b->registered[i] = false;
	}
}
