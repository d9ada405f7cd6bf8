/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Short names for the device's registers, for tests that spell out accesses */
#ifndef VCPUFREQ_TEST_REGS_H
#define VCPUFREQ_TEST_REGS_H

#include "vcpufreq/abi.h"

#define CUR	VCPUFREQ_REG_CUR_PERF
#define SET	VCPUFREQ_REG_SET_PERF
#define LEN	VCPUFREQ_REG_PERFTBL_LEN
#define SEL	VCPUFREQ_REG_PERFTBL_SEL
#define RD	VCPUFREQ_REG_PERFTBL_RD
#define DOM	VCPUFREQ_REG_PERF_DOMAIN

#endif
