// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * grant --user U | --group G | --revoke: let an unprivileged VMM use
 * libvcpufreq.  A map fd from BPF_OBJ_GET follows the pinned file's
 * permissions, so exactly the two maps a VMM writes -- `requests` and the
 * fast-path `slots` -- get read/write for that user or group; the pin dir
 * becomes traversable (not listable).  Every other map stays root-only,
 * so such a VMM cannot enroll cgroups, and its requests still only act on
 * threads in enrolled cgroups.  unload removes the pins, and the grant.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"

static const char *const vmm_maps[] = {
	VCPUFREQ_PIN_REQUESTS, VCPUFREQ_PIN_SLOTS,
};

static int lookup_id(const char *name, bool group, unsigned int *id)
{
	__u32 v;

	if (!parse_u32(name, &v)) {
		*id = v;
		return 0;
	}
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

/* Put back the bpffs mode `grant` widened (see cmd_grant.c), if it did. */
static int restore_bpffs_mode(const char *saved, const char *dir)
{
	unsigned int mode;
	FILE *f = fopen(saved, "r");
	int ok;

	if (!f)
		return 0;
	ok = fscanf(f, "%o", &mode) == 1;
	fclose(f);
	unlink(saved);
	if (ok && chmod(dir, mode))
		return err("cannot restore the mode of %s: %s", dir,
			   strerror(errno));
	return 0;
}

/*
 * bpffs is usually mounted 0700: a granted user must be able to traverse
 * it.  The mode we found is kept in the state dir; unload puts it back.
 */
static int open_parent(bool revoke)
{
	char parent[PATH_MAX], saved[PATH_MAX];
	const char *state = getenv("VCPUFREQ_STATE_DIR");
	struct stat st;
	FILE *f;

	if (pin_parent(parent, sizeof(parent)))
		return 0;
	snprintf(saved, sizeof(saved), "%s/bpffs-mode.saved",
		 state && *state ? state : "/run/vcpufreq");
	if (revoke)
		return restore_bpffs_mode(saved, parent);
	if (stat(parent, &st))
		return err("cannot inspect %s: %s", parent, strerror(errno));
	if ((st.st_mode & 0111) == 0111)
		return 0;
	mkdir(state && *state ? state : "/run/vcpufreq", 0755);
	f = fopen(saved, "wx");	/* keep the first original */
	if (f) {
		fprintf(f, "%o\n", st.st_mode & 07777);
		if (fclose(f))
			return err("cannot save the mode of %s in %s", parent, saved);
	} else if (errno != EEXIST) {
		return err("cannot save the mode of %s in %s: %s; nothing "
			   "changed", parent, saved, strerror(errno));
	}
	if (chmod(parent, (st.st_mode & 07777) | 0111))
		return err("cannot make %s traversable: %s", parent,
			   strerror(errno));
	return 0;
}

int grant_restore_bpffs(void)
{
	return open_parent(true);
}

static int set_owner(const char *name, uid_t uid, gid_t gid, mode_t mode)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), name);
	if (chown(path, uid, gid) || chmod(path, mode))
		return err("cannot change %s: %s", path, strerror(errno));
	return 0;
}

int cmd_grant(int argc, char **argv)
{
	unsigned int uid = 0, gid = 0;
	bool user = false, group = false, revoke = false;
	char who[128] = "";
	mode_t mode;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--revoke")) {
			revoke = true;
		} else if (!strcmp(argv[i], "--user") && i + 1 < argc) {
			if (lookup_id(argv[++i], false, &uid))
				return -1;
			user = true;
			snprintf(who, sizeof(who), "user %s", argv[i]);
		} else if (!strcmp(argv[i], "--group") && i + 1 < argc) {
			if (lookup_id(argv[++i], true, &gid))
				return -1;
			group = true;
			snprintf(who + strlen(who), sizeof(who) - strlen(who),
				 "%sgroup %s", *who ? " and " : "", argv[i]);
		} else {
			return err("grant: unexpected '%s'; use --user USER, "
				   "--group GROUP or --revoke", argv[i]);
		}
	}
	if (revoke == (user || group))
		return err("grant: give --user USER and/or --group GROUP, or "
			   "--revoke alone");
	if (!is_loaded())
		return err("vcpufreq-bpf is not loaded; run 'vcpufreq-bpf load' "
			   "first (a grant lasts until unload)");
	mode = revoke ? 0600 : group ? 0660 : 0600;
	for (size_t i = 0; i < sizeof(vmm_maps) / sizeof(vmm_maps[0]); i++)
		if (set_owner(vmm_maps[i], user ? uid : 0, group ? gid : 0, mode))
			return -1;
	if (chmod(cli.pin_dir, revoke ? 0700 : 0711))
		return err("cannot change %s: %s", cli.pin_dir, strerror(errno));
	if (open_parent(revoke))
		return -1;
	if (revoke)
		note("revoked: only root can use %s", cli.pin_dir);
	else
		note("granted %s read/write on %s/{%s,%s}", who, cli.pin_dir,
		     VCPUFREQ_PIN_REQUESTS, VCPUFREQ_PIN_SLOTS);
	return 0;
}
