// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * grant --user U | --group G [--cgroup CG] [--max-vcpus N] | --revoke:
 * let a VMM that is not root steer the vCPU threads of its own VM, through
 * the agent's broker (broker.c).  A grant never opens a map or a pin to
 * anyone: every map stays root-only, so no user can write, freeze or fill
 * one.  Grants live in a root-only file of the state dir; the agent reads
 * it again at once (SIGHUP: no broker connection needed, so users who
 * hold the broker's connections cannot delay a revocation), closing the
 * connections and dropping the registrations of a revoked user.  unload
 * removes them.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "cli.h"
#include "grants.h"

#define RELOAD_WAIT_MS	5000

/* tell the agent; it takes the new grants in before we return */
static int reload_agent(void)
{
	struct vcpufreq_config cfg;
	struct vcpufreq_stats st;
	__u64 before;

	if (read_settings(&cfg) || read_stats(&st) ||
	    !agent_running(cfg.agent_pid) || kill(cfg.agent_pid, SIGHUP))
		return err("the grants are saved, but the agent did not take "
			   "them in: it is not running (see 'vcpufreq-bpf "
			   "status')");
	before = st.grants_reloaded;
	for (int ms = 0; ms < RELOAD_WAIT_MS; ms += 5) {
		usleep(5000);
		if (!read_stats(&st) && st.grants_reloaded != before)
			return 0;
	}
	return err("the grants are saved, but the agent did not take them "
		   "in within %d s (see its log, %s)", RELOAD_WAIT_MS / 1000,
		   VF_STATE_AGENT_LOG);
}

static int lookup_id(const char *name, bool group, __u32 *id)
{
	if (!vf_parse_u32(name, id))
		return 0;
	if (group) {
		struct group *g = getgrnam(name);

		if (g)
			*id = g->gr_gid;
		return g ? 0 : err("no group '%s' on this host", name);
	}
	struct passwd *pw = getpwnam(name);

	if (pw)
		*id = pw->pw_uid;
	return pw ? 0 : err("no user '%s' on this host", name);
}

/* the cgroup as the broker compares it: below the cgroup2 mount */
static int grant_cgroup(const char *arg, char *out, size_t len)
{
	char path[PATH_MAX];
	const char *mnt = cgroup2_mount();
	size_t n = strlen(mnt);
	__u64 id;

	if (cgroup_resolve(arg, path, sizeof(path), &id))
		return -1;
	if (strncmp(path, mnt, n) || (path[n] && path[n] != '/'))
		return err("cgroup %s is not below the cgroup2 mount %s",
			   path, mnt);
	if (!path[n])
		return err("--cgroup %s is the root cgroup: that would grant "
			   "every thread on the host; give the VM's own cgroup",
			   arg);
	for (const char *c = path + n; *c; c++)
		if (*c <= ' ' || *c == 0x7f)	/* the grants file is by words */
			return err("--cgroup %s has a space or control character; "
				   "a granted cgroup's name may not", path);
	if (strlen(path + n) >= len)
		return err("--cgroup %s is longer than the %zu bytes a grant "
			   "holds", path, len - 1);
	snprintf(out, len, "%s", path + n);
	return 0;
}

struct grant_args {
	bool revoke;
	int nr;			/* users and groups named */
	struct grant who[2];	/* --user, --group */
	char cgroup[256];
	__u32 max_vcpus;
	char names[128];
};

enum { OPT_USER = 256, OPT_GROUP, OPT_CGROUP, OPT_MAX_VCPUS, OPT_REVOKE };

static const struct option grant_options[] = {
	{ "user",	required_argument,	NULL, OPT_USER },
	{ "group",	required_argument,	NULL, OPT_GROUP },
	{ "cgroup",	required_argument,	NULL, OPT_CGROUP },
	{ "max-vcpus",	required_argument,	NULL, OPT_MAX_VCPUS },
	{ "revoke",	no_argument,		NULL, OPT_REVOKE },
	{ 0 }
};

static int unexpected(const char *arg)
{
	return err("grant: unexpected '%s'; use --user USER and/or --group "
		   "GROUP [--cgroup CGROUP] [--max-vcpus N], or --revoke "
		   "[--user USER]", arg);
}

/* --user USER or --group GROUP: one of each at most */
static int add_grantee(struct grant_args *a, const char *name, bool group)
{
	struct grant *g = &a->who[a->nr];

	if (a->nr == 2)
		return err("grant: one --user and one --group at most");
	if (lookup_id(name, group, &g->id))
		return -1;
	g->group = group;
	a->nr++;
	snprintf(a->names + strlen(a->names), sizeof(a->names) -
		 strlen(a->names), "%s%s %s", *a->names ? " and " : "",
		 group ? "group" : "user", name);
	return 0;
}

static int parse_option(int opt, char **argv, struct grant_args *a)
{
	switch (opt) {
	case OPT_REVOKE:
		a->revoke = true;
		return 0;
	case OPT_USER:
	case OPT_GROUP:
		return add_grantee(a, optarg, opt == OPT_GROUP);
	case OPT_CGROUP:
		return grant_cgroup(optarg, a->cgroup, sizeof(a->cgroup));
	case OPT_MAX_VCPUS:
		if (vf_parse_u32(optarg, &a->max_vcpus) || !a->max_vcpus ||
		    a->max_vcpus > 4096)
			return err("--max-vcpus takes 1..4096");
		return 0;
	default:
		return unexpected(refused_option(argv));
	}
}

static int parse_args(int argc, char **argv, struct grant_args *a)
{
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, ":", grant_options, NULL)) != -1)
		if (parse_option(opt, argv, a))
			return -1;
	if (optind < argc)
		return unexpected(argv[optind]);
	if (!a->revoke && !a->nr)
		return err("grant: give --user USER and/or --group GROUP, or "
			   "--revoke");
	if (a->revoke && (*a->cgroup || a->max_vcpus))
		return err("grant --revoke takes only --user/--group (none: "
			   "every grant)");
	return 0;
}

static bool same_grantee(const struct grant *a, const struct grant *b)
{
	return a->group == b->group && a->id == b->id;
}

int cmd_grant(int argc, char **argv)
{
	struct grant g[VCPUFREQ_MAX_GRANTS];
	struct grant_args a = { 0 };
	int n, kept = 0;

	if (parse_args(argc, argv, &a))
		return -1;
	if (!is_loaded())
		return err("vcpufreq-bpf is not loaded; run 'vcpufreq-bpf load' "
			   "first (a grant lasts until unload)");
	n = grants_load(g, VCPUFREQ_MAX_GRANTS);
	if (n < 0)
		return err("cannot read the grants: %s", strerror(errno));
	for (int i = 0; i < n; i++) {
		bool named = !a.nr;

		for (int k = 0; k < a.nr; k++)
			named |= same_grantee(&g[i], &a.who[k]);
		/* revoke: drop what was named; grant: the same grant again */
		if (a.revoke ? !named : !(named && !strcmp(g[i].cgroup,
							   a.cgroup)))
			g[kept++] = g[i];
	}
	for (int k = 0; !a.revoke && k < a.nr; k++) {
		if (kept == VCPUFREQ_MAX_GRANTS)
			return err("too many grants (%d); revoke some first",
				   VCPUFREQ_MAX_GRANTS);
		g[kept] = a.who[k];
		g[kept].max_vcpus = a.max_vcpus ? a.max_vcpus :
				    VCPUFREQ_GRANT_DEFAULT_VCPUS;
		snprintf(g[kept].cgroup, sizeof(g[kept].cgroup), "%s", a.cgroup);
		kept++;
	}
	if (grants_save(g, kept) || reload_agent())
		return -1;
	if (a.revoke)
		note("revoked %s: connections closed, their requests dropped",
		     a.nr ? a.names : "every grant");
	else
		note("granted %s: the vCPU threads of %s, at most %u at once, "
		     "through the broker", a.names, *a.cgroup ? a.cgroup :
		     "its own VMM process", g[kept - 1].max_vcpus);
	return 0;
}
