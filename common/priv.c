// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * priv_drop: give up root in a child process for good. Order matters:
 * groups first (needs root), then gid, then uid; setresuid from uid 0 to a
 * non-zero uid clears the permitted and effective capability sets, so the
 * child keeps nothing. no_new_privs stops set-uid programs and file
 * capabilities from giving any of it back.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "priv.h"

int priv_drop(const char *user)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	errno = 0;
	pw = getpwnam(user ? user : PRIV_USER_DEFAULT);
	if (!pw || pw->pw_uid == 0)
		return errno ? -errno : -ENOENT;
	return priv_drop_ids(pw->pw_uid, pw->pw_gid);
}

int priv_drop_ids(uid_t uid, gid_t gid)
{
	if (uid == 0)
		return -EINVAL;
	if (geteuid() != 0)
		return 0;
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* Paranoia: if root can be regained, the drop did not happen. */
	if (setuid(0) == 0 || geteuid() == 0)
		return -EPERM;
	return 0;
}
