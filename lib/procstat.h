/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Fields of a thread's /proc stat line (proc(5) numbering). */
#ifndef VCPUFREQ_PROCSTAT_H
#define VCPUFREQ_PROCSTAT_H

#include <stdint.h>

#define VF_STAT_STARTTIME	22	/* clock ticks after boot */
#define VF_STAT_PROCESSOR	39	/* CPU it last ran on */

/* the field's value, or -1 when the thread or the field is not there */
long long vf_thread_stat_field(uint32_t tid, int field);

#endif
