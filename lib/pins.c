// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include "pins.h"

int vf_pin_dir_check(const char *dir, struct stat *st)
{
	if (lstat(dir, st))
		return -errno;
	if (!S_ISDIR(st->st_mode) || st->st_uid != 0 || (st->st_mode & 077))
		return -EPERM;
	return 0;
}
