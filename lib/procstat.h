/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Small readers: a thread's /proc stat fields, a line or a number from a file. */
#ifndef VCPUFREQ_PROCSTAT_H
#define VCPUFREQ_PROCSTAT_H

#include <stddef.h>
#include <stdint.h>

#define VF_STAT_STARTTIME	22	/* clock ticks after boot */
#define VF_STAT_PROCESSOR	39	/* CPU it last ran on */

/* the field's value, or -1 when the thread or the field is not there */
long long vf_thread_stat_field(uint32_t tid, int field);

/* a file's first line, without its newline, in @buf ("" on error): 0 or -1 */
int vf_read_line(const char *path, char *buf, size_t len);

/* the unsigned number a (sysfs) file starts with: 0, or -1 */
int vf_read_uint(const char *path, unsigned int *v);

#endif
