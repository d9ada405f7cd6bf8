/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Small jobs the library, the vcpufreq-bpf CLI and the QEMU bridge all do,
 * written once: plain decimal numbers, error messages (into a caller's
 * buffer, or printed the way bpftool prints them), JSON strings and the
 * state dir's paths.  cpulists and --affinity lists: cpulist.h.
 *
 * Internal: not installed and not declared in include/vcpufreq/.  The
 * library uses it, so it is inside libvcpufreq.a (hence the vf_ prefix);
 * the bridge, which otherwise sees only the public headers as any VMM
 * would, links these objects itself (Makefile: COMMON_OBJS).
 */
#ifndef VCPUFREQ_COMMON_UTIL_H
#define VCPUFREQ_COMMON_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- numbers ------------------------------------------------------------ */

/*
 * The @n bytes at @s as a plain decimal number, at most @max: no sign,
 * blanks, base prefix or suffix.  0, -EINVAL (not a number, or empty) or
 * -ERANGE (above @max); -ERANGE only once every character is a digit, so
 * "99999x" is "not a number" rather than "too big".
 */
int vf_parse_dec(const char *s, size_t n, unsigned long long max,
		 unsigned long long *val);
/* the same for a NUL-terminated @s; NULL is -EINVAL */
int vf_parse_uint(const char *s, unsigned long long max,
		  unsigned long long *val);
int vf_parse_u32(const char *s, uint32_t *val);
/* a perf argument: 0..VCPUFREQ_PERF_MAX (capacity units) */
int vf_parse_perf(const char *s, unsigned int *perf);

/* ---- errors ------------------------------------------------------------- */

/* Format into @err (when not NULL/0 length) and return @ret. */
int vf_err(char *err, size_t err_len, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* the same for input refused as invalid: returns -EINVAL */
#define vf_einval(err, err_len, ...) vf_err(err, err_len, -EINVAL, __VA_ARGS__)

/*
 * An error for the user, as bpftool reports one: "Error: MESSAGE" on
 * stderr; with @json (-j), {"error":"MESSAGE"} on stdout instead, where
 * the JSON output goes (@pretty: indented, as -p).  Returns -1, so that
 * callers can `return err(...)`.
 */
int vf_verror(bool json, bool pretty, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* @s as a JSON string, quotes included: '"', '\\' and controls escaped */
void vf_json_string(FILE *f, const char *s);

/* ---- the state dir (abi.h: VCPUFREQ_STATE_DIR) -------------------------- */

/* files the agent keeps there */
#define VF_STATE_SCX_EXIT	"scx-exit"	/* why sched_ext last detached */
#define VF_STATE_AGENT_LOG	"agent.log"

/* $VCPUFREQ_STATE_DIR when set and not empty, else VCPUFREQ_STATE_DIR */
const char *vf_state_dir(void);

/* @dir/@name into @buf */
void vf_state_file(const char *dir, const char *name, char *buf, size_t len);

/*
 * A file of one vcpufreq-bpf instance: vf_state_dir()/NAME@suffix, NAME
 * the last component of @pin_dir (NULL or "": VCPUFREQ_PIN_DIR), so
 * instances with other pin dirs do not share it (".sock": the broker's
 * socket, ".grants": its grants).
 */
void vf_instance_file(const char *pin_dir, const char *suffix, char *buf,
		      size_t len);

#endif
