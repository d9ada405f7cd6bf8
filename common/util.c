// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Numbers, error messages, JSON strings, state paths: see util.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vcpufreq/abi.h"
#include "util.h"

/* ---- numbers ------------------------------------------------------------ */

int vf_parse_dec(const char *s, size_t n, unsigned long long max,
		 unsigned long long *val)
{
	unsigned long long v = 0;
	bool too_big = false;
	size_t i;

	if (!n)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		/* stop accumulating once past max: no overflow to wrap back */
		if (!too_big) {
			v = v * 10 + (unsigned int)(s[i] - '0');
			too_big = v > max;
		}
	}
	if (too_big)
		return -ERANGE;
	*val = v;
	return 0;
}

int vf_parse_uint(const char *s, unsigned long long max,
		  unsigned long long *val)
{
	return s ? vf_parse_dec(s, strlen(s), max, val) : -EINVAL;
}

int vf_parse_u32(const char *s, uint32_t *val)
{
	unsigned long long v;
	int ret = vf_parse_uint(s, UINT32_MAX, &v);

	if (!ret)
		*val = (uint32_t)v;
	return ret;
}

int vf_parse_perf(const char *s, unsigned int *perf)
{
	unsigned long long v;
	int ret = vf_parse_uint(s, VCPUFREQ_PERF_MAX, &v);

	if (!ret)
		*perf = (unsigned int)v;
	return ret;
}

/* ---- errors ------------------------------------------------------------- */

int vf_err(char *err, size_t err_len, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && err_len) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return ret;
}

void vf_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

int vf_verror(bool json, bool pretty, const char *fmt, va_list ap)
{
	char msg[4096];

	if (!json) {
		fputs("Error: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		return -1;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	fputs(pretty ? "{\n    \"error\": " : "{\"error\":", stdout);
	vf_json_string(stdout, msg);
	fputs(pretty ? "\n}\n" : "}\n", stdout);
	fflush(stdout);
	return -1;
}

/* ---- the state dir ------------------------------------------------------ */

const char *vf_state_dir(void)
{
	const char *dir = getenv("VCPUFREQ_STATE_DIR");

	return dir && *dir ? dir : VCPUFREQ_STATE_DIR;
}

void vf_state_file(const char *dir, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

void vf_instance_file(const char *pin_dir, const char *suffix, char *buf,
		      size_t len)
{
	const char *dir = pin_dir && *pin_dir ? pin_dir : VCPUFREQ_PIN_DIR;
	const char *name = strrchr(dir, '/');

	name = name && name[1] ? name + 1 : dir;
	snprintf(buf, len, "%s/%s%s", vf_state_dir(), name, suffix);
}
