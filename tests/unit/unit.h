/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A tiny test harness: TEST(name) defines a case, CHECK(cond) records a
 * failure without stopping the case, and main() from RUN_TESTS prints one
 * line per case and a closing "N passed, N failed" line.  Exit code 1 when
 * anything failed.
 */
#ifndef VCPUFREQ_UNIT_H
#define VCPUFREQ_UNIT_H

#include <stdio.h>
#include <string.h>

struct unit_case {
	const char *name;
	void (*fn)(void);
};

extern int unit_failures;

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "    %s:%d: CHECK(%s) failed\n",\
				__FILE__, __LINE__, #cond);		\
			unit_failures++;				\
		}							\
	} while (0)

#define CHECK_EQ(a, b)							\
	do {								\
		long long __a = (long long)(a), __b = (long long)(b);	\
		if (__a != __b) {					\
			fprintf(stderr, "    %s:%d: %s == %lld, want %lld\n",\
				__FILE__, __LINE__, #a, __a, __b);	\
			unit_failures++;				\
		}							\
	} while (0)

#define TEST(name) static void name(void)

#define RUN_TESTS(...)							\
	int unit_failures;						\
	int main(void)							\
	{								\
		struct unit_case cases[] = { __VA_ARGS__ };		\
		int n = sizeof(cases) / sizeof(cases[0]);		\
		int passed = 0, failed = 0;				\
		for (int i = 0; i < n; i++) {				\
			int before = unit_failures;			\
			cases[i].fn();					\
			if (unit_failures == before) {			\
				passed++;				\
				printf("ok   %s\n", cases[i].name);	\
			} else {					\
				failed++;				\
				printf("FAIL %s\n", cases[i].name);	\
			}						\
		}							\
		printf("%d passed, %d failed\n", passed, failed);	\
		return failed ? 1 : 0;					\
	}

#define CASE(fn) { #fn, fn }

#endif
