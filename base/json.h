/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A small streaming JSON writer for -j / -p output. */
#ifndef VCPUFREQ_JSON_H
#define VCPUFREQ_JSON_H

#include <stdbool.h>
#include <stdio.h>

struct json;

struct json *json_new(FILE *f, bool pretty);
void json_free(struct json *j);	/* ends the output with a newline */

void json_obj_open(struct json *j);
void json_obj_close(struct json *j);
void json_arr_open(struct json *j);
void json_arr_close(struct json *j);
void json_key(struct json *j, const char *key);
void json_str(struct json *j, const char *s);
void json_uint(struct json *j, unsigned long long v);
void json_int(struct json *j, long long v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);

/* key + value in one call */
void json_kstr(struct json *j, const char *key, const char *s);
void json_kuint(struct json *j, const char *key, unsigned long long v);
void json_kint(struct json *j, const char *key, long long v);
void json_kbool(struct json *j, const char *key, bool v);

#endif
