/*
 * store_user.c: LOGIN and LOGOUT. A session is keyed by its dispatcher's
 * channel and its handle; it belongs to a user, who is kept while it has
 * sessions, bounded by [imap] sessions_per_user (NO [LIMIT]). The first
 * login of a user creates the Maildir and the special folders. Called from
 * store.c's table; store_session_free() also from store_peer_free().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "mail/maildir_name.h"
#include "store/store_private.h"

static unsigned store_bucket(uint64_t id)
{
	return (unsigned)((id ^ (id >> 17) ^ (id >> 31)) % STORE_SESSION_BUCKETS);
}

struct store_session *store_session_find(struct store_peer *p, uint64_t id)
{
	struct store_session *s;

	LIST_FOREACH(s, &p->buckets[store_bucket(id)], entry)
	if (s->id == id)
		return s;
	return NULL;
}

static struct store_user *store_user_get(struct store *st, const char *name)
{
	struct store_user *u;

	LIST_FOREACH(u, &st->users, entry)
	if (strcmp(u->name, name) == 0)
		return u;
	u = xcalloc(1, sizeof(*u));
	strlcpy_checked(u->name, name, sizeof(u->name));
	if (maildir_path_for(name, u->dir, sizeof(u->dir)) < 0) {
		free(u);
		return NULL;
	}
	LIST_INSERT_HEAD(&st->users, u, entry);
	return u;
}

static void store_user_unref(struct store_user *u)
{
	if (u->sessions > 0)
		return;
	LIST_REMOVE(u, entry);
	free(u);
}

void store_session_free(struct store_session *s)
{
	store_view_leave(s, 0);
	LIST_REMOVE(s, entry);
	s->user->sessions--;
	store_user_unref(s->user);
	free(s);
}

/* The user's INBOX exists; the first time, with the special folders. */
static int store_user_prepare(const struct store_user *u, const char **error_r)
{
	char path[STORE_PATH_MAX + 32];
	int fresh;

	if (store_maildir_make(u->dir, 0, error_r) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/subscriptions", u->dir);
	fresh = access(path, F_OK) < 0 && errno == ENOENT;
	return fresh ? store_user_specials(u, error_r) : 0;
}

void store_user_login(struct store_req *r)
{
	struct proto_store_login req;
	struct store_session *s;
	struct store_user *u;
	const char *why;
	char v[ENVELOPE_ADDR_MAX + 8];

	if (proto_store_login_decode(&req, r->data, r->len, &why) < 0) {
		store_reply_bad(r, why);
		return;
	}
	if (r->session != NULL) {
		store_reply_result(r, PROTO_STORE_BAD, "", "Already logged in");
		return;
	}
	str_lower(req.user);
	if ((u = store_user_get(r->peer->store, req.user)) == NULL) {
		store_reply_result(r, PROTO_STORE_NO, "", "This user cannot have a mailbox");
		return;
	}
	if (u->sessions >= r->peer->store->sessions_per_user) {
		log_info("event=store-limit user=%s sessions=%u", log_value(u->name, v, sizeof(v)),
		         u->sessions);
		store_reply_result(r, PROTO_STORE_NO, "LIMIT", "Too many sessions for this user");
		store_user_unref(u);
		return;
	}
	if (store_user_prepare(u, &why) < 0) {
		log_error("event=store-error user=%s reason=\"%s\"",
		          log_value(u->name, v, sizeof(v)), why);
		store_reply_result(r, PROTO_STORE_NO, "SERVERBUG", "Cannot open the mailbox");
		store_user_unref(u);
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->peer = r->peer;
	s->id = r->id;
	s->user = u;
	s->service = req.service;
	u->sessions++;
	LIST_INSERT_HEAD(&r->peer->buckets[store_bucket(r->id)], s, entry);
	store_reply_result(r, PROTO_STORE_OK, "", "Logged in");
}

void store_user_logout(struct store_req *r)
{
	const char *why;

	if (proto_empty_decode(r->len, "LOGOUT with a payload", &why) < 0)
		log_error("event=ipc-error reason=\"%s\"", why);
	store_session_free(r->session);
}
