/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Is a pin dir the one `vcpufreq-bpf load` made?  On a bpffs mounted 1777
 * any user could create the directory (and pin maps of their own in it)
 * before root does; root must then never use it.
 */
#ifndef VCPUFREQ_PINS_H
#define VCPUFREQ_PINS_H

#include <sys/stat.h>

#include "vcpufreq/abi.h"

/*
 * 0 when @dir is a directory (not a symlink) owned by root that no one
 * else may enter (load makes it 0700), else -EPERM with what it is in @st
 * (-errno when it cannot be inspected, -ENOENT when missing).
 */
int vf_pin_dir_check(const char *dir, struct stat *st);

/*
 * The pinned BPF_F_MMAPABLE array behind @fd, @size bytes mapped shared
 * and writable; @fd is closed (the mapping keeps the map).  NULL when
 * @fd < 0 or the mapping fails.
 */
void *vf_map_array(int fd, size_t size);

/* the whole fast-path slots array (vcpufreq/abi.h) */
#define VF_SLOTS_SIZE	(VCPUFREQ_MAX_SLOTS * sizeof(struct vcpufreq_slot))

/* vf_map_array() of the pinned slots map (munmap VF_SLOTS_SIZE) */
struct vcpufreq_slot *vf_map_slots(int fd);

#endif
