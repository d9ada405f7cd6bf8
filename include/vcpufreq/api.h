/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What libvcpufreq exports.  The library is compiled with
 * -fvisibility=hidden and only the functions declared VCPUFREQ_API in
 * these headers stay global in libvcpufreq.a (the build checks it:
 * scripts/check-exports.sh).
 */
#ifndef VCPUFREQ_API_H
#define VCPUFREQ_API_H

#define VCPUFREQ_API	__attribute__((visibility("default")))

#endif
