// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * vmm-shell [PIN_DIR]: a VMM process whose libvcpufreq handle is driven
 * from stdin, one command per line, for tests that need a real second
 * VMM holding its handle across events:
 *   register TID [VM_ID [VCPU]] | request TID PERF | unregister TID
 * Each answers one line: "ok" or "error N: TEXT" (N: the negative errno).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "vcpufreq/vcpufreq.h"

static int run(struct vcpufreq *vf, const char *line)
{
	unsigned int tid, a = 0, b = 0;
	char cmd[32];
	int n = sscanf(line, "%31s %u %u %u", cmd, &tid, &a, &b);

	if (n >= 2 && !strcmp(cmd, "register"))
		return vcpufreq_register(vf, tid, a, b);
	if (n == 3 && !strcmp(cmd, "request"))
		return vcpufreq_request(vf, tid, a, 0);
	if (n == 2 && !strcmp(cmd, "unregister"))
		return vcpufreq_unregister(vf, tid);
	return -EINVAL;	/* an unknown command */
}

int main(int argc, char **argv)
{
	struct vcpufreq *vf;
	char line[256];
	int ret = vcpufreq_open(argc > 1 ? argv[1] : NULL, &vf);

	if (ret) {
		printf("error %d: %s\n", ret, vcpufreq_strerror(ret));
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("open\n");
	while (fgets(line, sizeof(line), stdin)) {
		ret = run(vf, line);
		if (ret)
			printf("error %d: %s\n", ret, vcpufreq_strerror(ret));
		else
			printf("ok\n");
	}
	vcpufreq_close(vf);
	return 0;
}
