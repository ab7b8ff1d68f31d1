/*
 * store_folders.c: LIST and STATUS, and the mapping of a request's folder
 * name to its directory. LIST returns every folder (pattern matching is
 * the session's), INBOX first, then in an order that puts each folder's
 * children right after it, with the attributes of RFC 9051 7.3.1 (CHILDREN,
 * RFC 5258 SUBSCRIBED and NONEXISTENT, RFC 6154 special use). A level
 * that exists only as the parent of others is listed \Noselect
 * \NonExistent. Called from store.c's table; CREATE, DELETE, RENAME and
 * the subscriptions are in store_folders_edit.c.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "store/store_private.h"

const char *store_folder_dir(const struct store_req *r, const char *name, char *canon, char *dir,
                             size_t size)
{
	const char *why = store_name_check(name, canon, PROTO_STORE_NAME_MAX);

	if (why != NULL)
		return why;
	if (store_name_dir(r->session->user->dir, canon, dir, size) < 0)
		return "Folder name too long";
	return NULL;
}

/* INBOX and its children first (so they stay together), then strcmp
 * with '/' lowest, so that "A/B" sorts right after "A" (before "A-x"). */
static int store_name_cmp(const char *a, const char *b)
{
	int ra = strncmp(a, "INBOX", 5) == 0 && (a[5] == '\0' || a[5] == '/');
	int rb = strncmp(b, "INBOX", 5) == 0 && (b[5] == '\0' || b[5] == '/');

	if (ra != rb)
		return ra ? -1 : 1;
	for (; *a != '\0' && *a == *b; a++, b++)
		;
	if (*a == '/' || *b == '/')
		return *a == '/' ? (*b == '\0' ? 1 : -1) : (*a == '\0' ? -1 : 1);
	return (unsigned char)*a - (unsigned char)*b;
}

static int store_folder_cmp(const void *a, const void *b)
{
	return store_name_cmp(((const struct proto_store_folder *)a)->name,
	                      ((const struct proto_store_folder *)b)->name);
}

/* Adds NAME to L; past STORE_LIST_MAX names (deep parent-only levels
 * above many folders) it is left out, so the answer stays decodable. */
static void store_list_add(struct proto_store_list_result *l, unsigned *cap, const char *name,
                           uint32_t attrs)
{
	if (l->n_folders >= STORE_LIST_MAX)
		return;
	if (l->n_folders == *cap) {
		*cap = *cap ? *cap * 2 : 32;
		l->folders = xrealloc(l->folders, *cap * sizeof(*l->folders));
	}
	strlcpy_checked(l->folders[l->n_folders].name, name, PROTO_STORE_NAME_MAX);
	l->folders[l->n_folders].attrs = attrs;
	l->n_folders++;
}

/* NAME among the first N (sorted) folders of L. */
static const struct proto_store_folder *store_list_find(const struct proto_store_list_result *l,
                                                        unsigned n, const char *name)
{
	struct proto_store_folder key;

	strlcpy_checked(key.name, name, sizeof(key.name));
	return bsearch(&key, l->folders, n, sizeof(key), store_folder_cmp);
}

/* Every folder on disk of U, INBOX first, sorted. */
int store_folders_read(const struct store_user *u, struct proto_store_list_result *l)
{
	char name[PROTO_STORE_NAME_MAX], dir[STORE_PATH_MAX];
	struct dirent *de;
	unsigned cap = 0;
	DIR *d;

	memset(l, 0, sizeof(*l));
	store_list_add(l, &cap, "INBOX", 0);
	if ((d = opendir(u->dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL && l->n_folders < STORE_FOLDERS_MAX) {
		if (store_dir_name(de->d_name, name, sizeof(name)) < 0)
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", u->dir, de->d_name);
		if (store_maildir_exists(dir))
			store_list_add(l, &cap, name, 0);
	}
	closedir(d);
	qsort(l->folders, l->n_folders, sizeof(*l->folders), store_folder_cmp);
	return 0;
}

/* The levels above each folder that are no folder themselves. */
static void store_list_parents(struct proto_store_list_result *l, unsigned *cap)
{
	unsigned i, j, n = l->n_folders;
	char parent[PROTO_STORE_NAME_MAX], *slash;

	for (i = 0; i < n; i++) {
		strlcpy_checked(parent, l->folders[i].name, sizeof(parent));
		while ((slash = strrchr(parent, '/')) != NULL) {
			*slash = '\0';
			if (store_list_find(l, n, parent) != NULL)
				break;
			store_list_add(l, cap, parent,
			               STORE_ATTR_NOSELECT | STORE_ATTR_NONEXISTENT);
		}
	}
	if (l->n_folders == n)
		return;
	qsort(l->folders, l->n_folders, sizeof(*l->folders), store_folder_cmp);
	for (i = j = 1; i < l->n_folders; i++) /* a parent of several is added once each */
		if (strcmp(l->folders[i].name, l->folders[j - 1].name) != 0)
			l->folders[j++] = l->folders[i];
	l->n_folders = j;
}

/* CHILDREN, special use and SUBSCRIBED of each folder. */
static void store_list_attrs(struct proto_store_list_result *l, char **subs, unsigned n_subs)
{
	unsigned i, j;

	for (i = 0; i < l->n_folders; i++) {
		struct proto_store_folder *f = &l->folders[i];
		size_t len = strlen(f->name);
		int children = i + 1 < l->n_folders &&
		               strncmp(l->folders[i + 1].name, f->name, len) == 0 &&
		               l->folders[i + 1].name[len] == '/';
		f->attrs |= children ? STORE_ATTR_HASCHILDREN : STORE_ATTR_HASNOCHILDREN;
		f->attrs |= store_name_special(f->name);
		for (j = 0; j < n_subs; j++)
			if (strcmp(subs[j], f->name) == 0)
				f->attrs |= STORE_ATTR_SUBSCRIBED;
	}
}

/* LSUB and LIST (SUBSCRIBED): the subscriptions, those gone \NonExistent. */
static void store_list_subscribed(struct proto_store_list_result *all, char **subs, unsigned n_subs,
                                  struct proto_store_list_result *out)
{
	unsigned cap = 0, i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < n_subs; i++) {
		const struct proto_store_folder *f = store_list_find(all, all->n_folders, subs[i]);
		uint32_t attrs =
		    f != NULL ? f->attrs : STORE_ATTR_NONEXISTENT | STORE_ATTR_NOSELECT;
		store_list_add(out, &cap, subs[i], attrs | STORE_ATTR_SUBSCRIBED);
	}
	if (out->n_folders > 0)
		qsort(out->folders, out->n_folders, sizeof(*out->folders), store_folder_cmp);
}

void store_folders_list(struct store_req *r)
{
	struct proto_store_list req;
	struct proto_store_list_result all, sub, *res = &all;
	struct ipc_writer w;
	char **subs = NULL;
	unsigned n_subs = 0, cap;
	const char *why;

	if (proto_store_list_decode(&req, r->data, r->len, &why) < 0) {
		store_reply_bad(r, why);
		return;
	}
	if (store_folders_read(r->session->user, &all) < 0 ||
	    store_subs_read(r->session->user, &subs, &n_subs) < 0) {
		free(all.folders);
		store_reply_status(r, PROTO_STORE_NO, "SERVERBUG", "Cannot read the folders");
		return;
	}
	cap = all.n_folders;
	store_list_parents(&all, &cap);
	store_list_attrs(&all, subs, n_subs);
	if (req.subscribed_only) {
		store_list_subscribed(&all, subs, n_subs, &sub);
		res = &sub;
	}
	res->status = PROTO_STORE_OK;
	strlcpy_checked(res->text, "Listed", sizeof(res->text));
	ipc_writer_init(&w);
	proto_store_list_result_encode(res, &w);
	store_send(r->peer, IMSG_STORE_LIST_RESULT, r->id, &w, -1);
	if (req.subscribed_only)
		free(sub.folders);
	free(all.folders);
	store_subs_free(subs, n_subs);
}

/* STATUS counts of folder F (RFC 9051 6.3.11, RFC 8438 SIZE). */
static void store_status_count(struct store_folder *f, struct proto_store_status_result *res)
{
	struct mailbox *mb = f->mb;
	uint32_t first_recent = mailbox_first_recent(mb);
	unsigned i, n = mailbox_count(mb);

	res->messages = n;
	for (i = 0; i < n; i++) {
		const struct mailbox_msg *m = mailbox_get(mb, i);
		res->recent += m->uid >= first_recent;
		res->unseen += !(m->flags & STORE_FLAG_SEEN);
		res->deleted += (m->flags & STORE_FLAG_DELETED) != 0;
		res->size += mailbox_msg_size(mb, i);
	}
	res->uidnext = mailbox_uidnext(mb);
	res->uidvalidity = mailbox_uidvalidity(mb);
	res->highestmodseq = mailbox_highestmodseq(mb);
}

void store_folders_status(struct store_req *r)
{
	struct proto_store_status req;
	struct proto_store_status_result res = {.status = PROTO_STORE_OK};
	char canon[PROTO_STORE_NAME_MAX], dir[STORE_PATH_MAX];
	struct store_folder *f;
	struct ipc_writer w;
	const char *why;

	if (proto_store_status_decode(&req, r->data, r->len, &why) < 0) {
		store_reply_bad(r, why);
		return;
	}
	if ((why = store_folder_dir(r, req.name, canon, dir, sizeof(dir))) != NULL ||
	    !store_maildir_exists(dir)) {
		store_reply_status(r, PROTO_STORE_NO, why ? "" : "NONEXISTENT",
		                   why ? why : "No such folder");
		return;
	}
	if ((f = store_folder_open(r->peer->store, dir, &why)) == NULL) {
		log_error("event=store-error folder=%s reason=\"%s\"", dir, why);
		store_reply_status(r, PROTO_STORE_NO, "SERVERBUG", "Cannot open the folder");
		return;
	}
	if (f->dirty)
		store_folder_sync(f, NULL);
	store_status_count(f, &res);
	store_folder_unref(&f);
	strlcpy_checked(res.text, "Status", sizeof(res.text));
	ipc_writer_init(&w);
	proto_store_status_result_encode(&res, &w);
	store_send(r->peer, IMSG_STORE_STATUS_RESULT, r->id, &w, -1);
}
