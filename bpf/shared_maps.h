/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Maps both BPF objects define: the sched_ext scheduler (vcpufreq_scx)
 * is loaded with the tracking programs' pinned instances of these
 * (bpf_map__reuse_fd), which needs the definitions to be identical.  The
 * scheduler takes a woken vCPU's request in itself (refresh_thread.h), so
 * it shares every map that needs.
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

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VCPUFREQ_MAX_THREADS);
	__type(key, __u32);
	__type(value, struct vcpufreq_request);
} requests SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VCPUFREQ_MAX_CGROUPS);
	__type(key, __u64);
	__type(value, struct vcpufreq_cgroup);
} cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vcpufreq_stats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, VCPUFREQ_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct vcpufreq_slot);
} slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VCPUFREQ_TID_BITS_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} tid_bits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vcpufreq_config);
} settings SEC(".maps");

#endif /* VCPUFREQ_SHARED_MAPS_H */
