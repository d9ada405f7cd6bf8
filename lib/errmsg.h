/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* One-line error reasons for callers that pass an (err, err_len) buffer. */
#ifndef VCPUFREQ_ERRMSG_H
#define VCPUFREQ_ERRMSG_H

#include <stddef.h>

/* Format into @err (when not NULL/0 length) and return @ret. */
int vf_err(char *err, size_t err_len, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
