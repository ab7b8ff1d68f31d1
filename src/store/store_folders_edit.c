/*
 * store_folders_edit.c: CREATE, DELETE, RENAME, SUBSCRIBE and UNSUBSCRIBE
 * (IMSG_STORE_MAILBOX). CREATE makes the missing levels above too (RFC
 * 9051 6.3.4); DELETE refuses INBOX, a folder with children ([HASCHILDREN])
 * and one a session has open ([INUSE]), and first renames the directory
 * out of the folder namespace so a crash never leaves half a folder;
 * RENAME moves the children with it, and RENAME INBOX moves INBOX's
 * messages into the new folder (RFC 9051 6.3.6). Called from store.c's
 * table through store_folders_mailbox().
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "store/store_private.h"

/* Removes the files of DIR, then DIR (no deeper levels). */
static void store_remove_flat(const char *dir)
{
	char path[STORE_PATH_MAX + 300];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
}

/* Removes the Maildir DIR, moved aside first. */
static int store_maildir_remove(const struct store_user *u, const char *dir, const char **error_r)
{
	static const char *const subdirs[] = {"cur", "new", "tmp"};
	char trash[STORE_PATH_MAX], path[STORE_PATH_MAX + 8];
	uint64_t tag;
	size_t i;

	random_bytes(&tag, sizeof(tag));
	snprintf(trash, sizeof(trash), "%s/..deleted-%016" PRIx64, u->dir, tag);
	if (rename(dir, trash) < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", trash, subdirs[i]);
		store_remove_flat(path);
	}
	store_remove_flat(trash);
	return 0;
}

/* Whether folder CANON has children in L (sorted by store_folders_read). */
static int store_has_children(const struct proto_store_list_result *l, const char *canon)
{
	size_t len = strlen(canon);
	unsigned i;

	for (i = 0; i < l->n_folders; i++)
		if (strncmp(l->folders[i].name, canon, len) == 0 && l->folders[i].name[len] == '/')
			return 1;
	return 0;
}

/* Whether a session has CANON or one of its children open. */
static int store_tree_open(struct store *s, const struct store_user *u, const char *canon)
{
	char dir[STORE_PATH_MAX];
	size_t len;
	struct store_folder *f;

	if (store_name_dir(u->dir, canon, dir, sizeof(dir)) < 0)
		return 0;
	len = strlen(dir);
	LIST_FOREACH(f, &s->folders, entry)
	if (strncmp(f->dir, dir, len) == 0 && (f->dir[len] == '\0' || f->dir[len] == '.'))
		return 1;
	return 0;
}

static void store_create(struct store_req *r, const char *canon)
{
	const struct store_user *u = r->session->user;
	struct proto_store_list_result l;
	char level[PROTO_STORE_NAME_MAX], dir[STORE_PATH_MAX];
	const char *why;
	size_t i, len = strlen(canon);

	if (store_folders_read(u, &l) < 0 || l.n_folders >= STORE_FOLDERS_MAX) {
		free(l.folders);
		store_reply_result(r, PROTO_STORE_NO, "LIMIT", "Too many folders");
		return;
	}
	free(l.folders);
	store_name_dir(u->dir, canon, dir, sizeof(dir));
	if (strcmp(canon, "INBOX") == 0 || store_maildir_exists(dir)) {
		store_reply_result(r, PROTO_STORE_NO, "ALREADYEXISTS", "Folder exists");
		return;
	}
	for (i = 0; i <= len; i++) { /* the levels above, then the folder */
		if (i < len && canon[i] != '/')
			continue;
		memcpy(level, canon, i);
		level[i] = '\0';
		if (strcmp(level, "INBOX") == 0 ||
		    store_name_dir(u->dir, level, dir, sizeof(dir)) < 0)
			continue;
		if (store_maildir_make(dir, 1, &why) < 0) {
			log_error("event=store-error folder=%s reason=\"create: %s\"", dir, why);
			store_reply_result(r, PROTO_STORE_NO, "SERVERBUG",
			                   "Cannot create the folder");
			return;
		}
	}
	store_reply_result(r, PROTO_STORE_OK, "", "Created");
}

static void store_delete(struct store_req *r, const char *canon, const char *dir)
{
	const struct store_user *u = r->session->user;
	struct proto_store_list_result l;
	const char *why;
	int children;

	if (strcmp(canon, "INBOX") == 0) {
		store_reply_result(r, PROTO_STORE_NO, "CANNOT", "INBOX cannot be deleted");
		return;
	}
	if (store_folders_read(u, &l) < 0) {
		store_reply_result(r, PROTO_STORE_NO, "SERVERBUG", "Cannot read the folders");
		return;
	}
	children = store_has_children(&l, canon);
	free(l.folders);
	if (!store_maildir_exists(dir))
		store_reply_result(r, PROTO_STORE_NO, "NONEXISTENT", "No such folder");
	else if (children)
		store_reply_result(r, PROTO_STORE_NO, "HASCHILDREN", "Delete its children first");
	else if (store_folder_lookup(r->peer->store, dir) != NULL)
		store_reply_result(r, PROTO_STORE_NO, "INUSE", "The folder is in use");
	else if (store_maildir_remove(u, dir, &why) < 0) {
		log_error("event=store-error folder=%s reason=\"delete: %s\"", dir, why);
		store_reply_result(r, PROTO_STORE_NO, "SERVERBUG", "Cannot delete the folder");
	} else
		store_reply_result(r, PROTO_STORE_OK, "", "Deleted");
}

/* Renames the directory of FROM and of each child to TO's. A first pass
 * moves nothing: every new name must fit and be free (a child of TO that
 * exists already would stop the renames half-way, and rename(2) would
 * put an empty directory's place to a folder of FROM). */
static int store_rename_tree(const struct store_user *u, const struct proto_store_list_result *l,
                             const char *from, const char *to, const char **error_r)
{
	char name[2 * PROTO_STORE_NAME_MAX], a[STORE_PATH_MAX], b[STORE_PATH_MAX];
	size_t len = strlen(from);
	unsigned i, pass;

	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < l->n_folders; i++) {
			const char *n = l->folders[i].name;
			if (strncmp(n, from, len) != 0 || (n[len] != '\0' && n[len] != '/'))
				continue;
			snprintf(name, sizeof(name), "%s%s", to, n + len);
			if (strlen(name) >= PROTO_STORE_NAME_MAX ||
			    store_name_dir(u->dir, n, a, sizeof(a)) < 0 ||
			    store_name_dir(u->dir, name, b, sizeof(b)) < 0) {
				*error_r = "name too long";
				return -1;
			}
			if (pass == 0 && access(b, F_OK) == 0) {
				*error_r = "a new name exists";
				return -1;
			}
			if (pass == 1 && rename(a, b) < 0) {
				*error_r = strerror(errno);
				return -1;
			}
		}
	return fsync_dir(u->dir) < 0 ? (*error_r = strerror(errno), -1) : 0;
}

/* The refusals RENAME may get before anything moves; NULL when it may go. */
static const char *store_rename_check(struct store_req *r, const char *from, const char *to,
                                      const char **code_r)
{
	const struct store_user *u = r->session->user;
	char a[STORE_PATH_MAX], b[STORE_PATH_MAX];
	size_t len = strlen(from);

	*code_r = "";
	if (store_name_dir(u->dir, from, a, sizeof(a)) < 0 ||
	    store_name_dir(u->dir, to, b, sizeof(b)) < 0)
		return "Folder name too long";
	if (!store_maildir_exists(a))
		return *code_r = "NONEXISTENT", "No such folder";
	if (strcmp(to, "INBOX") == 0 || store_maildir_exists(b))
		return *code_r = "ALREADYEXISTS", "The new name exists";
	if (strncmp(to, from, len) == 0 && to[len] == '/')
		return *code_r = "CANNOT", "A folder cannot become its own child";
	if (strcmp(from, "INBOX") != 0 && store_tree_open(r->peer->store, u, from))
		return *code_r = "INUSE", "The folder is in use";
	return NULL;
}

/* RENAME INBOX: a new folder TO gets INBOX's messages. */
static int store_rename_inbox(struct store_req *r, const char *to, const char **error_r)
{
	struct store *s = r->peer->store;
	char dir[STORE_PATH_MAX];
	struct store_folder *in, *out;
	unsigned n;

	store_name_dir(r->session->user->dir, to, dir, sizeof(dir));
	if (store_maildir_make(dir, 1, error_r) < 0)
		return -1;
	if ((in = store_folder_open(s, r->session->user->dir, error_r)) == NULL)
		return -1;
	if ((out = store_folder_open(s, dir, error_r)) == NULL) {
		store_folder_unref(&in);
		return -1;
	}
	for (n = mailbox_count(in->mb); n > 0; n--) {
		uint32_t uid;
		if (mailbox_copy(in->mb, 0, out->mb, &uid, error_r) < 0 ||
		    mailbox_expunge(in->mb, 0, error_r) < 0)
			break;
	}
	if (store_folder_commit(out, error_r) < 0 || store_folder_commit(in, error_r) < 0)
		n = 1;
	store_folder_notify(in, NULL);
	store_folder_unref(&out);
	store_folder_unref(&in);
	return n == 0 ? 0 : -1;
}

static void store_rename(struct store_req *r, const char *from, const char *to)
{
	const struct store_user *u = r->session->user;
	struct proto_store_list_result l;
	const char *code, *why = store_rename_check(r, from, to, &code);
	int ok;

	if (why != NULL) {
		store_reply_result(r, PROTO_STORE_NO, code, why);
		return;
	}
	if (strcmp(from, "INBOX") == 0) {
		ok = store_rename_inbox(r, to, &why) == 0;
	} else {
		ok = store_folders_read(u, &l) == 0;
		why = "cannot read the folders";
		ok = ok && store_rename_tree(u, &l, from, to, &why) == 0;
		free(l.folders);
	}
	if (!ok) {
		log_error("event=store-error folder=%s reason=\"rename: %s\"", from, why);
		store_reply_result(r, PROTO_STORE_NO, "SERVERBUG", "Cannot rename the folder");
		return;
	}
	store_reply_result(r, PROTO_STORE_OK, "", "Renamed");
}

static void store_subscribe(struct store_req *r, const char *canon, int add)
{
	const char *why;

	if (store_subs_change(r->session->user, canon, add, &why) < 0) {
		log_error("event=store-error reason=\"subscriptions: %s\"", why);
		store_reply_result(r, PROTO_STORE_NO, "SERVERBUG",
		                   "Cannot change the subscriptions");
		return;
	}
	store_reply_result(r, PROTO_STORE_OK, "", add ? "Subscribed" : "Unsubscribed");
}

void store_folders_mailbox(struct store_req *r)
{
	struct proto_store_mailbox req;
	char canon[PROTO_STORE_NAME_MAX], dir[STORE_PATH_MAX], to[PROTO_STORE_NAME_MAX];
	const char *why;
	size_t len;

	if (proto_store_mailbox_decode(&req, r->data, r->len, &why) < 0) {
		store_reply_bad(r, why);
		return;
	}
	len = strlen(req.name);
	if (req.op == STORE_MAILBOX_CREATE && len > 1 && req.name[len - 1] == '/')
		req.name[len - 1] = '\0'; /* RFC 9051 6.3.4: "foo/" creates foo */
	if ((why = store_folder_dir(r, req.name, canon, dir, sizeof(dir))) != NULL ||
	    (req.op == STORE_MAILBOX_RENAME &&
	     (why = store_name_check(req.new_name, to, sizeof(to))) != NULL)) {
		store_reply_result(r, PROTO_STORE_NO, "CANNOT", why);
		return;
	}
	if (req.op != STORE_MAILBOX_SUBSCRIBE && req.op != STORE_MAILBOX_UNSUBSCRIBE)
		store_folders_close_idle(r->peer->store); /* no index kept under a moved name */
	if (req.op == STORE_MAILBOX_CREATE)
		store_create(r, canon);
	else if (req.op == STORE_MAILBOX_DELETE)
		store_delete(r, canon, dir);
	else if (req.op == STORE_MAILBOX_RENAME)
		store_rename(r, canon, to);
	else if (req.op == STORE_MAILBOX_SUBSCRIBE || req.op == STORE_MAILBOX_UNSUBSCRIBE)
		store_subscribe(r, canon, req.op == STORE_MAILBOX_SUBSCRIBE);
	else
		store_reply_bad(r, "unknown folder operation");
}
