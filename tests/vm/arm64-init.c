// SPDX-License-Identifier: GPL-2.0-only
/*
 * PID 1 of tests/vm/arm64.sh's guest: an arm64 initramfs has no userland
 * of the host's architecture to borrow, so this is the whole of it, built
 * static against the kernel's own nolibc (tools/include/nolibc).
 *
 * It mounts proc and sysfs, prints "A64-BOOTED online=LIST
 * firmware=acpi|devicetree", then runs one
 * command per console line and answers each with an "A64-" line:
 *
 *   caps          A64-CAP cpuN=CAPACITY ... (the scheduler's cpu_capacity)
 *   insmod [NAME [PARAMS]]
 *                 A64-INSMOD ok | failed ERRNO: /NAME.ko with its
 *                 module parameters (default: /vcpufreq_guest.ko)
 *   show          A64-POLICY policyN driver= cpus= min= max= gov= freqs=
 *                 cur= per policy, then A64-SHOWN
 *   hog CPU [BUSY PERIOD]
 *                 a child on CPU spinning all the time, or BUSY ms of
 *                 every PERIOD ms (a duty cycle); A64-HOG PID
 *   util          A64-UTIL N: the hog's se.avg.util_avg (/proc/PID/sched),
 *                 which frequency invariance scales by cur / max
 *   tasks         A64-TASK PID util=N STAT for each task with some
 *                 utilization, then A64-TASKS-END (to see what runs)
 *   stop          A64-STOPPED (the hog killed)
 *   rmmod         A64-RMMOD ok | failed ERRNO
 *   exec PROG [ARG...]
 *                 runs /PROG with the words after it as arguments, its
 *                 output on the console, and waits: A64-EXEC status=N
 *                 (the effect lab's real-guest runs, lab/fidelity.sh)
 *   quit          power off
 */
#include <linux/reboot.h>

#define LINE_MAX_LEN	256
#define EXEC_MAX_ARGS	32

static int hog_pid;

/* @buf = @a @n @b: 6.12's nolibc has no snprintf */
static char *path_of(char *buf, const char *a, long n, const char *b)
{
	char num[24];

	itoa_r(n, num);
	strcpy(buf, a);
	strcpy(buf + strlen(buf), num);
	strcpy(buf + strlen(buf), b);
	return buf;
}

/* ... nor strstr */
static char *find(char *s, const char *what)
{
	size_t n = strlen(what);

	for (; *s; s++)
		if (!strncmp(s, what, n))
			return s;
	return NULL;
}

/* the whole of a small file, NUL-terminated, trailing newline dropped */
static int read_file(const char *path, char *buf, int len)
{
	int fd = open(path, O_RDONLY), n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return n;
}

static void show_file(const char *label, const char *path)
{
	char buf[512];
	int i;

	if (read_file(path, buf, sizeof(buf)) < 0)
		strcpy(buf, "?");
	for (i = 0; buf[i]; i++)		/* "a b c" -> "a,b,c" */
		if (buf[i] == ' ')
			buf[i] = ',';
	printf(" %s=%s", label, buf);
}

static void caps(void)
{
	char path[96], buf[32];
	int cpu;

	printf("A64-CAP");
	for (cpu = 0; cpu < 64; cpu++) {
		path_of(path, "/sys/devices/system/cpu/cpu", cpu, "/cpu_capacity");
		if (read_file(path, buf, sizeof(buf)) < 0)
			continue;
		printf(" cpu%d=%s", cpu, buf);
	}
	printf("\n");
}

static void show(void)
{
	static const char *const fields[][2] = {
		{ "driver", "scaling_driver" }, { "cpus", "related_cpus" },
		{ "min", "cpuinfo_min_freq" }, { "max", "cpuinfo_max_freq" },
		{ "gov", "scaling_governor" },
		{ "freqs", "scaling_available_frequencies" },
		{ "cur", "cpuinfo_cur_freq" },	/* ->get: CUR_PERF */
	};
	char dir[96], path[160], buf[64];
	unsigned int i;
	int p;

	for (p = 0; p < 64; p++) {
		path_of(dir, "/sys/devices/system/cpu/cpufreq/policy", p, "/");
		strcpy(path, dir);
		strcpy(path + strlen(path), "scaling_driver");
		if (read_file(path, buf, sizeof(buf)) < 0)
			continue;
		printf("A64-POLICY policy%d", p);
		for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			strcpy(path, dir);
			strcpy(path + strlen(path), fields[i][1]);
			show_file(fields[i][0], path);
		}
		printf("\n");
	}
	printf("A64-SHOWN\n");
}

static void insmod(char *args)
{
	char path[LINE_MAX_LEN + 8] = "/", *params = "";
	int fd, ret;

	if (!*args)
		args = "vcpufreq_guest";
	params = args;
	while (*params && *params != ' ')
		params++;
	if (*params)
		*params++ = '\0';
	strcpy(path + 1, args);
	strcpy(path + strlen(path), ".ko");
	fd = open(path, O_RDONLY);
	ret = fd < 0 ? -errno : my_syscall3(__NR_finit_module, fd, params, 0);
	if (fd >= 0)
		close(fd);
	if (ret)
		printf("A64-INSMOD failed %d\n", ret);
	else
		printf("A64-INSMOD ok\n");
}

static void rmmod(void)
{
	int ret = my_syscall2(__NR_delete_module, "vcpufreq_guest", O_NONBLOCK);

	if (ret)
		printf("A64-RMMOD failed %d\n", ret);
	else
		printf("A64-RMMOD ok\n");
}

static long long now_us(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec * 1000000LL + tv.tv_usec;
}

/* spin for @busy_ms of every @period_ms (0: all the time) */
static void spin(int busy_ms, int period_ms)
{
	long long end;

	for (;;) {
		end = now_us() + busy_ms * 1000LL;
		while (!period_ms || now_us() < end)
			;
		usleep((period_ms - busy_ms) * 1000);
	}
}

static void hog(char *args)
{
	unsigned long mask[4] = { 0 };
	int cpu, busy = 0, period = 0, pid;
	char *p;

	cpu = strtol(args, &p, 10);
	if (*p)
		busy = strtol(p, &p, 10);
	if (*p)
		period = strtol(p, &p, 10);
	mask[cpu / 64] = 1UL << (cpu % 64);
	pid = fork();
	if (pid == 0) {
		my_syscall3(__NR_sched_setaffinity, 0, sizeof(mask), mask);
		spin(busy, period);
	}
	hog_pid = pid;
	printf("A64-HOG %d\n", pid);
}

/* "se.avg.util_avg   :   NNN" in /proc/PID/sched; -1: no such task */
static long util_of(int pid)
{
	char path[64], buf[4096], *p;

	path_of(path, "/proc/", pid, "/sched");
	if (read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	p = find(buf, "se.avg.util_avg");
	while (p && *p && (*p < '0' || *p > '9'))
		p++;
	return p ? strtol(p, NULL, 10) : -1;
}

static void util(void)
{
	if (!hog_pid)
		printf("A64-UTIL none\n");
	else
		printf("A64-UTIL %ld\n", util_of(hog_pid));
}

/* every task with some utilization: A64-TASK PID util= stat=(comm) */
static void tasks(void)
{
	char path[64], buf[512];
	long u;
	int pid;

	for (pid = 1; pid < 1000; pid++) {
		u = util_of(pid);
		if (u < 20)
			continue;
		path_of(path, "/proc/", pid, "/stat");
		if (read_file(path, buf, sizeof(buf)) < 0)
			continue;
		printf("A64-TASK %d util=%ld %s\n", pid, u, buf);
	}
	printf("A64-TASKS-END\n");
}

static void stop(void)
{
	int status;

	if (hog_pid) {
		kill(hog_pid, SIGKILL);
		waitpid(hog_pid, &status, 0);
		hog_pid = 0;
	}
	printf("A64-STOPPED\n");
}

/* exec PROG ARG...: split at spaces; no quoting */
static void exec_wait(char *args)
{
	char *argv[EXEC_MAX_ARGS + 1], path[LINE_MAX_LEN + 2] = "/";
	char *envp[] = { "PATH=/", NULL };
	int argc = 0, pid, status = 0;

	while (*args && argc < EXEC_MAX_ARGS) {
		while (*args == ' ')
			*args++ = '\0';
		if (!*args)
			break;
		argv[argc++] = args;
		while (*args && *args != ' ')
			args++;
	}
	argv[argc] = NULL;
	if (!argc) {
		printf("A64-EXEC status=-%d\n", EINVAL);
		return;
	}
	strcpy(path + 1, argv[0]);
	pid = fork();
	if (pid == 0) {
		execve(path, argv, envp);
		printf("A64-EXEC cannot run %s: errno %d\n", path, errno);
		exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0) {
		printf("A64-EXEC status=-%d\n", errno);
		return;
	}
	printf("A64-EXEC status=%d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

static void run(char *cmd)
{
	if (!strcmp(cmd, "caps"))
		caps();
	else if (!strcmp(cmd, "insmod"))
		insmod("");
	else if (!strncmp(cmd, "insmod ", 7))
		insmod(cmd + 7);
	else if (!strcmp(cmd, "show"))
		show();
	else if (!strncmp(cmd, "hog ", 4))
		hog(cmd + 4);
	else if (!strcmp(cmd, "util"))
		util();
	else if (!strcmp(cmd, "tasks"))
		tasks();
	else if (!strcmp(cmd, "stop"))
		stop();
	else if (!strcmp(cmd, "rmmod"))
		rmmod();
	else if (!strncmp(cmd, "exec ", 5))
		exec_wait(cmd + 5);
	else if (!strcmp(cmd, "quit"))
		reboot(LINUX_REBOOT_CMD_POWER_OFF);
	else if (cmd[0])
		printf("A64-UNKNOWN %s\n", cmd);
}

/* one line from the console, without its end; -1 at EOF */
static int read_line(char *buf, int len)
{
	int n = 0;
	char c;

	while (read(0, &c, 1) == 1) {
		if (c == '\n' || c == '\r') {
			if (!n)
				continue;
			buf[n] = '\0';
			return n;
		}
		if (n < len - 1)
			buf[n++] = c;
	}
	return -1;
}

int main(void)
{
	char line[LINE_MAX_LEN], online[64];
	int acpi;

	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	if (read_file("/sys/devices/system/cpu/online", online, sizeof(online)) < 0)
		strcpy(online, "?");
	acpi = open("/sys/firmware/acpi/tables/DSDT", O_RDONLY);
	printf("A64-BOOTED online=%s firmware=%s\n", online,
	       acpi >= 0 ? "acpi" : "devicetree");
	while (read_line(line, sizeof(line)) >= 0)
		run(line);
	reboot(LINUX_REBOOT_CMD_POWER_OFF);
	return 0;
}
