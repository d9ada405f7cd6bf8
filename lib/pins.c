// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pins.h"

int vf_pin_dir_check(const char *dir, struct stat *st)
{
	if (lstat(dir, st))
		return -errno;
	if (!S_ISDIR(st->st_mode) || st->st_uid != 0 || (st->st_mode & 077))
		return -EPERM;
	return 0;
}

void *vf_map_array(int fd, size_t size)
{
	void *mem;

	if (fd < 0)
		return NULL;
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);	/* the mapping keeps the map */
	return mem == MAP_FAILED ? NULL : mem;
}

struct vcpufreq_slot *vf_map_slots(int fd)
{
	return vf_map_array(fd, VF_SLOTS_SIZE);
}
