// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * common/'s helpers (numbers, cpulists, Error: output), compiled into the
 * bridge: libvcpufreq exports only its public API (vcpufreq/api.h), so
 * the bridge carries its own copy, built from the source tree as it
 * builds its other files.
 */
#define _GNU_SOURCE
#include "../common/util.c"
#include "../common/cpulist.c"
