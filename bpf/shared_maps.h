/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Maps both BPF objects define: the sched_ext scheduler (vcpufreq_scx)
 * is loaded with the tracking programs' pinned instances of these
 * (bpf_map__reuse_fd), which needs the definitions to be identical.
 */
#ifndef VCPUFREQ_SHARED_MAPS_H
#define VCPUFREQ_SHARED_MAPS_H

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct vcpufreq_vcpu);
} vcpu_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} events SEC(".maps");

#endif /* VCPUFREQ_SHARED_MAPS_H */
