/*
 * store_subs.c: a user's subscriptions, in the Maildir's "subscriptions"
 * file, one folder name per line as Dovecot keeps it, replaced whole
 * (written to a temporary file, fsynced, renamed); and the special folders
 * (RFC 6154) a new user gets, subscribed. Called by store_folders.c and, for
 * a first login, store_user.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"
#include "store/store_private.h"

#define STORE_SUBS_FILE_MAX (4 * 1024 * 1024)

static const char *const store_special_names[] = {"Sent", "Drafts", "Trash", "Junk", "Archive"};

void store_subs_free(char **names, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int store_subs_read(const struct store_user *u, char ***names_r, unsigned *n_r)
{
	char path[STORE_PATH_MAX + 32], *text, *line, *save = NULL;
	char **names = NULL;
	unsigned n = 0, cap = 0;
	size_t len;

	*names_r = NULL;
	*n_r = 0;
	snprintf(path, sizeof(path), "%s/subscriptions", u->dir);
	if ((text = read_file(path, STORE_SUBS_FILE_MAX, &len)) == NULL)
		return errno == ENOENT ? 0 : -1;
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '\0' || strlen(line) >= PROTO_STORE_NAME_MAX ||
		    n >= STORE_FOLDERS_MAX)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = xstrdup(line);
	}
	free(text);
	*names_r = names;
	*n_r = n;
	return 0;
}

int store_subs_write(const struct store_user *u, char **names, unsigned n, const char **error_r)
{
	char path[STORE_PATH_MAX + 32], tmp[STORE_PATH_MAX + 32];
	unsigned i;
	int fd, ok;

	snprintf(path, sizeof(path), "%s/subscriptions", u->dir);
	snprintf(tmp, sizeof(tmp), "%s/subscriptions.tmp", u->dir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ok = fd >= 0;
	for (i = 0; ok && i < n; i++)
		ok = write_all(fd, names[i], strlen(names[i])) == 0 && write_all(fd, "\n", 1) == 0;
	ok = ok && fsync(fd) == 0;
	if (fd >= 0 && close(fd) < 0)
		ok = 0;
	ok = ok && rename(tmp, path) == 0 && fsync_dir(u->dir) == 0;
	if (!ok) {
		*error_r = strerror(errno);
		unlink(tmp);
		return -1;
	}
	return 0;
}

int store_subs_change(const struct store_user *u, const char *name, int add, const char **error_r)
{
	char **names;
	unsigned n, i, j;
	int found = 0, r;

	if (store_subs_read(u, &names, &n) < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	for (i = j = 0; i < n; i++) {
		if (strcmp(names[i], name) == 0 && (found++ > 0 || !add)) {
			free(names[i]);
			continue;
		}
		names[j++] = names[i];
	}
	n = j;
	if (add && !found) {
		names = xrealloc(names, (n + 1) * sizeof(*names));
		names[n++] = xstrdup(name);
	}
	r = store_subs_write(u, names, n, error_r);
	store_subs_free(names, n);
	return r;
}

int store_user_specials(const struct store_user *u, const char **error_r)
{
	char dir[STORE_PATH_MAX];
	char *names[6];
	unsigned i, n = 0;

	names[n++] = "INBOX";
	for (i = 0; i < sizeof(store_special_names) / sizeof(store_special_names[0]); i++) {
		if (store_name_dir(u->dir, store_special_names[i], dir, sizeof(dir)) < 0) {
			*error_r = "the user's directory name is too long";
			return -1;
		}
		if (store_maildir_make(dir, 1, error_r) < 0)
			return -1;
		names[n++] = (char *)store_special_names[i];
	}
	return store_subs_write(u, names, n, error_r);
}
