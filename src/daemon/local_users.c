/*
 * local_users.c: uid -> login name for local submissions; see
 * local_users.h. Called by parent.c (the snapshot, in a dispatcher before
 * its chroot) and dispatcher.c (each local submission).
 */
#include "daemon/local_users.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

struct local_user {
	uid_t uid;
	char *name;
};

static struct local_user *local_users; /* sorted by uid; NULL: no copy taken */
static size_t n_local_users;

static int local_user_cmp(const void *a, const void *b)
{
	const struct local_user *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

void local_users_snapshot(void)
{
	size_t cap = 64;
	struct passwd *pw;

	if (local_users != NULL)
		return;
	local_users = xmalloc(cap * sizeof(*local_users));
	setpwent();
	while (n_local_users < LOCAL_USERS_MAX && (pw = getpwent()) != NULL) {
		if (n_local_users == cap) {
			cap *= 2;
			local_users = xrealloc(local_users, cap * sizeof(*local_users));
		}
		local_users[n_local_users].uid = pw->pw_uid;
		local_users[n_local_users++].name = xstrdup(pw->pw_name);
	}
	endpwent();
	/* two entries of one uid: either may be found */
	qsort(local_users, n_local_users, sizeof(*local_users), local_user_cmp);
}

int local_users_name(uid_t uid, char *buf, size_t size)
{
	struct local_user key = {.uid = uid}, *u;
	struct passwd pw, *found = NULL;
	char tmp[4096];

	buf[0] = '\0';
	if (local_users != NULL) {
		u = bsearch(&key, local_users, n_local_users, sizeof(*u), local_user_cmp);
		if (u == NULL)
			return -1;
		return strlcpy_checked(buf, u->name, size);
	}
	if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &found) != 0 || found == NULL)
		return -1;
	return strlcpy_checked(buf, pw.pw_name, size);
}
