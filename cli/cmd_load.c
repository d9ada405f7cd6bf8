// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * load / unload / agent.  `load` leaves nothing half-done: any failure
 * after the first pin removes every pin again.  `unload` stops the agent,
 * restores whatever the actions map says was changed (so it also cleans
 * up after an agent that crashed), then removes every pin.  A `load`
 * that finds the pins of an agent that died restores what it applied and
 * starts a new agent on the same pins: programs, requests and the VMMs'
 * handles carry on.
 *
 * One agent per pin dir: `load` and `unload` first take the instance
 * lock (instance_lock(), an flock in the state dir), and the agent holds
 * it for as long as it runs, so a crash releases it.  A second `load`
 * started while the first runs finds it held and refuses; `unload` finds
 * the agent by the pid in the lock file, not by the settings pin (which
 * may have been removed), and goes on only once it holds the lock.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "agent.h"
#include "cli.h"
#include "grants.h"
#include "metrics.h"
#include "procstat.h"
#include "vcpufreq.skel.h"

static __u64 realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static bool on_bpffs(const char *path)
{
	struct statfs sf;

	return !statfs(path, &sf) && sf.f_type == BPF_FS_MAGIC;
}

/*
 * The pin directory's parent must be a bpffs.  Only for the default
 * location do we mount one ourselves (as bpftool does); a --pin-dir the
 * user chose is never mounted over.
 */
static int ensure_bpffs(void)
{
	char parent[PATH_MAX];

	if (pin_parent(parent, sizeof(parent)))
		return err("--pin-dir %s: give a directory below a bpffs mount, "
			   "e.g. /sys/fs/bpf/vcpufreq", opts.pin_dir);
	if (on_bpffs(parent))
		return 0;
	if (!strcmp(opts.pin_dir, VCPUFREQ_PIN_DIR)) {
		if (!mount("bpf", parent, "bpf", 0, "mode=0700")) {
			note("mounted bpffs at %s", parent);
			return 0;
		}
		return err("no BPF filesystem at %s and mounting one failed: %s; "
			   "mount it with 'mount -t bpf bpf %s'", parent,
			   strerror(errno), parent);
	}
	return err("--pin-dir %s is not on a BPF filesystem (bpffs): %s is %s; "
		   "pick a directory under a bpffs mount such as /sys/fs/bpf, or "
		   "mount one there with 'mount -t bpf bpf DIR'", opts.pin_dir,
		   parent, access(parent, F_OK) ? "missing" : "not bpffs");
}

/*
 * libbpf finds the syscalls/sys_exit_bpf tracepoint through tracefs; mount
 * it where it belongs when nothing is there yet.
 */
static int ensure_tracefs(void)
{
	const char *dir = "/sys/kernel/tracing";

	if (!access("/sys/kernel/tracing/events", F_OK) ||
	    !access("/sys/kernel/debug/tracing/events", F_OK))
		return 0;
	if (!mount("tracefs", dir, "tracefs", 0, NULL))
		return 0;
	return err("no tracefs at %s and mounting one failed: %s; mount it "
		   "with 'mount -t tracefs tracefs %s'", dir, strerror(errno),
		   dir);
}

/* the instance lock while this process holds it (the agent inherits it) */
static int lock_fd = -1;

static int lock_or_refuse(void)
{
	char path[PATH_MAX];
	int fd = instance_lock(), pid;

	if (fd >= 0) {
		lock_fd = fd;
		return 0;
	}
	if (fd != -EAGAIN)
		return -1;
	pid = instance_lock_holder();
	vf_instance_file(opts.pin_dir, ".lock", path, sizeof(path));
	return err("vcpufreq-bpf is already loaded or being loaded for %s "
		   "(pid %d holds %s); run 'vcpufreq-bpf unload' first",
		   opts.pin_dir, pid, path);
}

static void remove_dir_entries(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) && errno == EISDIR)
			rmdir(path);
	}
	closedir(d);
}

static void remove_pins(void)
{
	char links[PATH_MAX];

	snprintf(links, sizeof(links), "%s/%s", opts.pin_dir, VCPUFREQ_PIN_LINKS);
	remove_dir_entries(links);
	rmdir(links);
	remove_dir_entries(opts.pin_dir);
	rmdir(opts.pin_dir);
}

static int pin_all(struct vcpufreq_bpf *skel)
{
	struct bpf_program *prog;
	struct bpf_map *map;
	char path[PATH_MAX];

	/* an exclusive mkdir: of two concurrent loads, only one goes on */
	if (mkdir(opts.pin_dir, 0700))
		return errno != EEXIST ?
		       err("cannot create %s: %s", opts.pin_dir, strerror(errno)) :
		       pin_dir_ours() ? -1 :
		       err("%s exists: vcpufreq-bpf is already loaded or being "
			   "loaded; run 'vcpufreq-bpf unload' first", opts.pin_dir);
	snprintf(path, sizeof(path), "%s/%s", opts.pin_dir, VCPUFREQ_PIN_LINKS);
	if (mkdir(path, 0700)) {
		err("cannot create %s: %s", path, strerror(errno));
		remove_pins();
		return -1;
	}
	bpf_object__for_each_map(map, skel->obj) {
		if (!bpf_map__is_internal(map)) {
			pin_path(path, sizeof(path), bpf_map__name(map));
			if (bpf_map__pin(map, path)) {
				err("cannot pin %s: %s", path, strerror(errno));
				remove_pins();
				return -1;
			}
		}
	}
	bpf_object__for_each_program(prog, skel->obj) {
		struct bpf_link *link = NULL;

		/* the skeleton keeps each program's link next to it */
		for (int i = 0; i < skel->skeleton->prog_cnt; i++)
			if (*skel->skeleton->progs[i].prog == prog)
				link = *skel->skeleton->progs[i].link;
		snprintf(path, sizeof(path), "%s/%s/%s", opts.pin_dir,
			 VCPUFREQ_PIN_LINKS, bpf_program__name(prog));
		if (!link || bpf_link__pin(link, path)) {
			err("cannot pin link %s: %s", path, strerror(errno));
			remove_pins();
			return -1;
		}
	}
	return 0;
}

static void topology_copy_path(char *buf, size_t len)
{
	vf_instance_file(opts.pin_dir, ".topology", buf, len);
}

static int write_all(int fd, const char *buf, size_t n)
{
	while (n) {
		ssize_t w = write(fd, buf, n);

		if (w <= 0)
			return -1;
		buf += w;
		n -= w;
	}
	return 0;
}

/*
 * What is saved is what was checked: the --topology file's contents as
 * load read them, kept in the state dir (written aside, renamed in).  The
 * agent, status and unload read this copy, so the file given may move,
 * change or go away, and its path may be relative or of any length.
 */
static int save_topology(void)
{
	static char saved[PATH_MAX];
	char tmp[PATH_MAX + 8], *text = malloc(TOPOLOGY_MAX_BYTES + 1);
	size_t n;
	int fd, ret = -1;

	if (!text)
		return err("out of memory");
	if (topology_checked(text, &n))
		goto out;
	topology_copy_path(saved, sizeof(saved));
	if (strlen(saved) >= sizeof(((struct vcpufreq_config *)0)->topology)) {
		err("the state dir's path is too long to record the topology "
		    "copy %s; set VCPUFREQ_STATE_DIR to a shorter one", saved);
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s.new", saved);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0644);
	if (fd < 0 || write_all(fd, text, n) | close(fd) || rename(tmp, saved)) {
		err("cannot keep a copy of the topology in %s: %s", saved,
		    strerror(errno));
		unlink(tmp);
		goto out;
	}
	opts.topology = saved;
	ret = 0;
out:
	free(text);
	return ret;
}

static int write_load_settings(__u32 backend, __u32 agent_pid, __u32 power)
{
	struct vcpufreq_config cfg = {
		.backend = backend,
		.agent_pid = agent_pid,
		.loaded_ns = realtime_ns(),
		.power = power,
	};

	if (opts.topology)
		snprintf(cfg.topology, sizeof(cfg.topology), "%s", opts.topology);
	return write_settings(&cfg);
}

static int load_programs(void)
{
	struct vcpufreq_bpf *skel;
	int ret;

	if (!getenv("VCPUFREQ_DEBUG"))
		libbpf_set_print(NULL);
	skel = vcpufreq_bpf__open_and_load();
	if (!skel)
		return err("cannot load the BPF programs: %s (needs root and a "
			   "kernel with BTF, tp_btf, task storage, BPF iterators "
			   "and syscall tracepoints; run with VCPUFREQ_DEBUG=1 for "
			   "the verifier log)", strerror(errno));
	ret = vcpufreq_bpf__attach(skel);
	if (ret)
		err("cannot attach the BPF programs: %s", strerror(-ret));
	else
		ret = pin_all(skel);	/* removes what it pinned on failure */
	/* pinned links and maps outlive the skeleton */
	vcpufreq_bpf__destroy(skel);
	return ret ? -1 : 0;
}

static const struct actuator *pick_backend(const char *name,
					   const struct act_env *env)
{
	const struct actuator *act;
	char why[256];
	int id;

	if (!strcmp(name, "auto"))
		return actuator_auto(env);
	id = backend_from_name(name);
	act = id >= 0 ? actuator_for(id) : NULL;
	if (!act) {
		err("unknown backend '%s'; choose auto, scx, uclamp, affinity, "
		    "cpufreq or observe", name);
		return NULL;
	}
	if (act->probe(env, why, sizeof(why))) {
		err("backend %s is unavailable here: %s; use --backend auto to "
		    "pick the strongest one this host supports", name, why);
		return NULL;
	}
	return act;
}

/* fork the agent; returns its pid once it listens, or -1 */
static void stop_agent(pid_t pid);

/*
 * The agent outlives whoever ran `load`: it must not keep what that
 * caller had open.  Ours are all close-on-exec; one that is not was
 * inherited (a lock held by a `flock` wrapper, a pipe a script reads to
 * its end), and holding it would keep the lock or the pipe forever.
 */
static void close_inherited_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (fd > STDERR_FILENO && fd != dirfd(d) &&
		    !(fcntl(fd, F_GETFD) & FD_CLOEXEC))
			close(fd);
	}
	closedir(d);
}

static pid_t start_agent(const struct actuator **act, struct act_env *env,
			 bool try_next)
{
	int ready[2];
	char log[PATH_MAX], c;
	pid_t pid;

	if (state_dir_check(env->state_dir))
		return -1;
	if (pipe2(ready, O_CLOEXEC))
		return err("pipe: %s", strerror(errno));
	vf_state_file(env->state_dir, VF_STATE_AGENT_LOG, log, sizeof(log));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return err("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
			      O_NOFOLLOW, 0644);

		close(ready[0]);
		close_inherited_fds();	/* not lock_fd: ours, close-on-exec */
		setsid();
		/* the agent holds the lock from now on: unload finds it here */
		instance_lock_set_pid(lock_fd, getpid());
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, STDIN_FILENO);
		_exit(agent_run(*act, env, ready[1], try_next) ? 1 : 0);
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1) {
		char last[512] = "";
		FILE *f = fopen(log, "r");

		close(ready[0]);
		waitpid(pid, NULL, 0);
		while (f && fgets(last, sizeof(last), f))
			;
		if (f)
			fclose(f);
		last[strcspn(last, "\n")] = 0;
		return err("the agent failed to start%s%s (log: %s)",
			   *last ? ": " : "", last, log);
	}
	close(ready[0]);
	if (actuator_for(c))
		*act = actuator_for(c);	/* auto moved on to the next one */
	return pid;
}

/*
 * Put back everything the actions map records (the agent is gone or
 * stopped); restoring needs no topology, so a vanished override file is
 * no reason to skip it.
 */
static int restore_recorded(const struct vcpufreq_config *cfg,
			    int stopped_agent)
{
	char path[PATH_MAX];
	struct act_env env;
	bool restored;

	/* an override file that is gone: sysfs will do (and say nothing) */
	act_env_init(&env, *cfg->topology && !access(cfg->topology, R_OK) ?
		     cfg->topology : NULL);
	pin_path(path, sizeof(path), VCPUFREQ_PIN_ACTIONS);
	if (access(path, F_OK)) {
		/* what threads share (a cpufreq floor) is restored all the same */
		env.actions_fd = -1;
		restore_all_actions(&env);
		if (stopped_agent)
			return 0;	/* it restored from its own fd */
		return err("%s was removed and no agent was running: what the "
			   "agent applied to threads (affinity, uclamp_min, "
			   "policy) cannot be restored from it; check the vCPU "
			   "threads by hand", path);
	}
	env.actions_fd = open_pinned_map(VCPUFREQ_PIN_ACTIONS);
	if (env.actions_fd < 0)
		return -1;
	restored = !restore_all_actions(&env);
	close(env.actions_fd);
	return restored ? 0 :
	       err("some settings could not be restored (listed above); "
		   "the pins stay so that 'vcpufreq-bpf unload' can try again");
}

/*
 * Pins are there: refused while their agent runs; after it died, what it
 * applied is restored and we go on with these pins (*adopt).
 */
static int take_over_pins(bool *adopt)
{
	struct vcpufreq_config cfg = { 0 };
	char missing[256];

	*adopt = false;
	if (!is_loaded())
		return 0;
	if (pin_dir_ours())
		return -1;
	if (missing_pins(missing, sizeof(missing)))
		return err("the pins under %s are incomplete (missing: %s); run "
			   "'vcpufreq-bpf unload' to put the host back, then "
			   "load", opts.pin_dir, missing);
	if (read_settings(&cfg))
		return -1;
	/* we hold the lock: this is an agent of an older load, without it */
	if (agent_running(cfg.agent_pid) && cfg.agent_pid != (__u32)getpid())
		return err("vcpufreq-bpf is already loaded (pins under %s, agent "
			   "pid %u); run 'vcpufreq-bpf unload' first",
			   opts.pin_dir, cfg.agent_pid);
	if (restore_recorded(&cfg, 0))
		return -1;
	note("the agent of the earlier load (pid %u) had stopped: restored "
	     "what it applied; starting a new one on the same pins",
	     cfg.agent_pid);
	*adopt = true;
	return 0;
}

enum { OPT_BACKEND = 256, OPT_FOREGROUND, OPT_METRICS, OPT_POWER };

static const struct option load_options[] = {
	{ "backend",	required_argument,	NULL, OPT_BACKEND },
	{ "foreground",	no_argument,		NULL, OPT_FOREGROUND },
	{ "metrics",	required_argument,	NULL, OPT_METRICS },
	{ "power",	required_argument,	NULL, OPT_POWER },
	{ 0 }
};

static int unexpected(const char *arg)
{
	return err("load: unexpected argument '%s'; see 'vcpufreq-bpf load "
		   "--help'", arg);
}

/* "balanced" or "performance": enum vcpufreq_power, or -1 with Error: */
static int parse_power(const char *name, __u32 *power)
{
	if (!strcmp(name, "balanced"))
		*power = VCPUFREQ_POWER_BALANCED;
	else if (!strcmp(name, "performance"))
		*power = VCPUFREQ_POWER_PERFORMANCE;
	else
		return err("load: unknown power mode '%s'; choose balanced "
			   "(a request served up to the efficiency knee) or "
			   "performance (in full)", name);
	return 0;
}

/*
 * load [--backend NAME] [--foreground] [--metrics DIR] [--power MODE];
 * 0, or -1 with Error:
 */
static int parse_load_args(int argc, char **argv, const char **backend,
			   bool *foreground, __u32 *power)
{
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, ":", load_options, NULL)) != -1) {
		if (opt == OPT_BACKEND)
			*backend = optarg;
		else if (opt == OPT_FOREGROUND)
			*foreground = true;
		else if (opt == OPT_METRICS) {
			if (metrics_configure(optarg))
				return -1;
		} else if (opt == OPT_POWER) {
			if (parse_power(optarg, power))
				return -1;
		} else
			return unexpected(refused_option(argv));
	}
	if (optind < argc)
		return unexpected(argv[optind]);
	return 0;
}

int cmd_load(int argc, char **argv)
{
	const char *backend = "auto";
	const struct actuator *act;
	struct act_env env;
	bool foreground = false, auto_pick, adopt;
	__u32 power = VCPUFREQ_POWER_BALANCED;
	pid_t pid;

	if (parse_load_args(argc, argv, &backend, &foreground, &power))
		return -1;
	if (lock_or_refuse() || take_over_pins(&adopt) ||
	    (opts.topology && save_topology()))
		return -1;
	if (act_env_init(&env, opts.topology))
		return -1;
	act_env_set_power(&env, power);
	act = pick_backend(backend, &env);
	if (!act || (!adopt && (ensure_bpffs() || ensure_tracefs() ||
				load_programs())))
		return -1;
	/* even observe needs the agent: it takes in requests right away */
	auto_pick = !strcmp(backend, "auto");
	pid = foreground ? getpid() : start_agent(&act, &env, auto_pick);
	if (pid < 0 || write_load_settings(act->backend, pid, power)) {
		if (pid > 0 && !foreground)
			stop_agent(pid);
		if (!adopt)
			remove_pins();
		return -1;
	}
	note("loaded: backend %s, agent pid %d, pins under %s", act->name,
	     pid, opts.pin_dir);
	if (!foreground)
		return 0;
	fflush(stdout);
	agent_run(act, &env, -1, auto_pick);
	return cmd_unload(1, (char *[]){ "unload", NULL });
}

static bool is_our_process(pid_t pid)
{
	char path[64], comm[32];

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	return !vf_read_line(path, comm, sizeof(comm)) &&
	       !strncmp(comm, "vcpufreq-bpf", 12);
}

/* SIGTERM, then wait on a pidfd (no polling loop); SIGKILL after 10 s */
static void stop_agent(pid_t pid)
{
	struct pollfd p = { .events = POLLIN };

	if (pid <= 0 || pid == getpid() || !is_our_process(pid))
		return;
	p.fd = syscall(SYS_pidfd_open, pid, 0);
	if (kill(pid, SIGTERM) || p.fd < 0)
		goto out;
	if (poll(&p, 1, 10000) == 0) {
		err("the agent (pid %d) did not stop in 10 s; killing it", pid);
		kill(pid, SIGKILL);
		poll(&p, 1, 5000);
	}
out:
	if (p.fd >= 0)
		close(p.fd);
}

/*
 * unload --restore-only: after the agent died, put the host back now and
 * keep the pins for the next load (the systemd unit's ExecStopPost).
 */
static int restore_only(const struct vcpufreq_config *cfg)
{
	if (agent_running(cfg->agent_pid) && cfg->agent_pid != (__u32)getpid())
		return err("the agent (pid %u) is running: it restores on its "
			   "own; use 'vcpufreq-bpf unload'", cfg->agent_pid);
	if (restore_recorded(cfg, 0))
		return -1;
	note("restored every setting; the pins under %s stay for the next "
	     "load", opts.pin_dir);
	return 0;
}

static const struct option unload_options[] = {
	{ "restore-only", no_argument, NULL, 'r' },
	{ 0 }
};

#define UNLOAD_LOCK_WAIT_MS	20000

/*
 * Take the instance lock, stopping the agent that holds it (found by the
 * pid in the lock file); *stopped: its pid.  With --restore-only a
 * running agent is left alone and refused.  0 once we hold the lock (or
 * when the state dir cannot hold one: then settings name the agent).
 */
static int stop_lock_holder(bool only_restore, int *stopped)
{
	char path[PATH_MAX];
	int pid = 0;

	*stopped = 0;
	vf_instance_file(opts.pin_dir, ".lock", path, sizeof(path));
	for (int ms = 0;; ms += 50) {
		int fd = instance_lock();

		if (fd >= 0) {
			lock_fd = fd;
			return 0;
		}
		if (fd != -EAGAIN) {
			note("going on without the lock %s", path);
			return 0;
		}
		pid = instance_lock_holder();
		if (only_restore)
			return err("the agent (pid %d) is running: it restores on "
				   "its own; use 'vcpufreq-bpf unload'", pid);
		if (pid > 0 && pid != *stopped && is_our_process(pid)) {
			stop_agent(pid);
			*stopped = pid;
			continue;
		}
		if (ms >= UNLOAD_LOCK_WAIT_MS)
			break;
		usleep(50000);
	}
	return err("pid %d still holds %s after %d s: the agent of %s is still "
		   "running; stop it ('kill %d') and unload again", pid, path,
		   UNLOAD_LOCK_WAIT_MS / 1000, opts.pin_dir, pid);
}

static bool settings_pinned(void)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), VCPUFREQ_PIN_SETTINGS);
	return !access(path, F_OK);
}

int cmd_unload(int argc, char **argv)
{
	struct vcpufreq_config cfg = { 0 };
	bool only_restore = false;
	int opt, stopped = 0, ret = 0;
	char path[PATH_MAX];

	optind = 0;
	while ((opt = getopt_long(argc, argv, ":", unload_options, NULL)) != -1) {
		if (opt != 'r')
			return err("unload takes no arguments but --restore-only");
		only_restore = true;
	}
	if (optind < argc)
		return err("unload takes no arguments but --restore-only");
	if (is_loaded() && pin_dir_ours())
		return -1;	/* never remove what someone else put there */
	if (lock_fd < 0 && stop_lock_holder(only_restore, &stopped))
		return -1;
	if (!is_loaded()) {
		if (!stopped)
			return err("vcpufreq-bpf is not loaded (no pins under %s); "
				   "nothing to unload", opts.pin_dir);
		grants_remove();
		note("unloaded: the agent (pid %d) stopped and restored what it "
		     "applied; the pins under %s had been removed", stopped,
		     opts.pin_dir);
		return 0;
	}
	if (settings_pinned())
		read_settings(&cfg);
	if (only_restore)
		return restore_only(&cfg);
	/* an agent of a load before the lock, named by the settings alone */
	if (cfg.agent_pid != (__u32)stopped)
		stop_agent(cfg.agent_pid);
	/* whatever the agent could not restore (it crashed) is restored here */
	ret = restore_recorded(&cfg, stopped);
	if (ret && access(opts.pin_dir, F_OK) == 0 &&
	    !missing_pins((char[256]){ 0 }, 256))
		return -1;	/* complete pins: kept, so unload can retry */
	remove_pins();
	grants_remove();
	topology_copy_path(path, sizeof(path));
	unlink(path);
	if (is_loaded())
		return err("could not remove every pin under %s", opts.pin_dir);
	if (ret)
		return -1;
	note("unloaded: every setting restored, pins under %s removed",
	     opts.pin_dir);
	return 0;
}
