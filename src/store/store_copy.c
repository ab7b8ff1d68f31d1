/*
 * store_copy.c: COPY and MOVE (RFC 4315 COPYUID, RFC 6851), APPEND (the
 * message arrives as a file descriptor; APPENDUID; TRYCREATE when the
 * folder is missing, RFC 9051 6.3.12) and EXPUNGE / UID EXPUNGE (RFC 4315
 * 2.1). Every change is committed (on stable storage) before its answer,
 * and the other sessions with the folder selected hear CHANGED; the
 * session itself learns of its expunges by asking UPDATES. Called from
 * store.c's table; store_expunge_deleted() also by store_view.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "store/store_private.h"

int store_expunge_deleted(struct store_folder *f, const struct seqset *uids, const char **error_r)
{
	unsigned i, k = 0, count = mailbox_count(f->mb);
	uint32_t *gone = xcalloc(count + 1, sizeof(uint32_t));
	int n;

	for (i = 0; i < count; i++) {
		const struct mailbox_msg *m = mailbox_get(f->mb, i);
		if ((m->flags & STORE_FLAG_DELETED) &&
		    (uids == NULL || seqset_contains(uids, m->uid)))
			gone[k++] = m->uid;
	}
	n = k > 0 ? mailbox_expunge_uids(f->mb, gone, k, error_r) : 0;
	free(gone);
	return n;
}

void store_expunge_handle(struct store_req *r)
{
	struct proto_store_expunge *req = xmalloc(sizeof(*req));
	struct store_session *s = r->session;
	struct seqset set = {0};
	const char *why;
	int n;

	if (proto_store_expunge_decode(req, r->data, r->len, &why) < 0) {
		free(req);
		store_reply_bad(r, why);
		return;
	}
	if (s->readonly) {
		store_reply_result(r, PROTO_STORE_NO, "READ-ONLY", "The folder is read-only");
	} else if (req->uid_only && seqset_parse(req->uids, &set, &why) < 0) {
		store_reply_result(r, PROTO_STORE_BAD, "", why);
	} else {
		if (req->uid_only)
			seqset_resolve(&set, store_view_max_uid(&s->view));
		n = store_expunge_deleted(s->folder, req->uid_only ? &set : NULL, &why);
		if (n >= 0 && (n == 0 || store_folder_commit(s->folder, &why) == 0)) {
			if (n > 0)
				store_folder_notify(s->folder, s);
			store_reply_result(r, PROTO_STORE_OK, "", "Expunged");
		} else {
			log_error("event=store-error folder=%s reason=\"expunge: %s\"",
			          s->folder->dir, why);
			store_reply_result(r, PROTO_STORE_NO, "SERVERBUG", "Cannot expunge");
		}
	}
	seqset_free(&set);
	free(req);
}

/* The destination of a COPY or APPEND: opened, or answered NO
 * ([TRYCREATE] when it does not exist). */
static struct store_folder *store_copy_target(struct store_req *r, const char *name)
{
	char canon[PROTO_STORE_NAME_MAX], dir[STORE_PATH_MAX];
	struct store_folder *f;
	const char *why = store_folder_dir(r, name, canon, dir, sizeof(dir));

	if (why != NULL) {
		store_reply_result(r, PROTO_STORE_NO, "", why);
		return NULL;
	}
	if (!store_maildir_exists(dir)) {
		store_reply_result(r, PROTO_STORE_NO, "TRYCREATE", "No such folder");
		return NULL;
	}
	if ((f = store_folder_open(r->peer->store, dir, &why)) == NULL) {
		log_error("event=store-error folder=%s reason=\"%s\"", dir, why);
		store_reply_result(r, PROTO_STORE_NO, "SERVERBUG", "Cannot open the folder");
	}
	return f;
}

/* A COPY or MOVE under way. */
struct store_copy {
	struct store_req *r;
	struct store_folder *dst;
	uint32_t *src_uids, *dst_uids;
	unsigned n;
};

/* Copies each message of the matches, committed; -1 with *error_r and
 * the destination as it was (RFC 9051 6.4.7: a failed COPY copies
 * nothing; the copies made before the failure were committed with the
 * destination's next commit and showed up after the NO). */
static int store_copy_run(struct store_copy *c, const struct store_matches *m, const char **error_r)
{
	struct store_session *s = c->r->session;
	struct store_match_iter it;
	struct mailbox_mark mark;
	unsigned i;

	c->src_uids = xcalloc(m->total + 1, sizeof(uint32_t));
	c->dst_uids = xcalloc(m->total + 1, sizeof(uint32_t));
	mailbox_mark(c->dst->mb, &mark);
	store_match_seek(&it, m, 0);
	while (store_match_next(&it, &i)) {
		int index = store_view_index(s, i);
		uint32_t uid;
		if (index < 0)
			continue;
		if (mailbox_copy(s->folder->mb, (unsigned)index, c->dst->mb, &uid, error_r) < 0)
			goto fail;
		c->src_uids[c->n] = s->view.v[i].uid;
		c->dst_uids[c->n++] = uid;
	}
	if (store_folder_commit(c->dst, error_r) == 0)
		return 0;
fail:
	mailbox_rollback(c->dst->mb, &mark);
	c->n = 0;
	return -1;
}

/* MOVE: the copied messages leave the source (RFC 6851 3.3). */
static int store_move_expunge(struct store_copy *c, const char **error_r)
{
	struct store_folder *f = c->r->session->folder;

	if (c->n == 0)
		return 0;
	if (mailbox_expunge_uids(f->mb, c->src_uids, c->n, error_r) < 0)
		return -1;
	return store_folder_commit(f, error_r);
}

/* The answer: OK [COPYUID uidvalidity src dst]. */
static void store_copy_answer(struct store_copy *c)
{
	char code[PROTO_STORE_CODE_MAX];
	char *src = seqset_format(c->src_uids, c->n), *dst = seqset_format(c->dst_uids, c->n);
	int fits = snprintf(code, sizeof(code), "COPYUID %u %s %s", mailbox_uidvalidity(c->dst->mb),
	                    src, dst) < (int)sizeof(code);

	/* a COPYUID too long for the code is left out, as RFC 4315 allows */
	store_reply_result(c->r, PROTO_STORE_OK, c->n > 0 && fits ? code : "",
	                   c->n > 0 ? "Done" : "No messages");
	free(src);
	free(dst);
}

void store_copy_handle(struct store_req *r)
{
	struct proto_store_copy *req = xmalloc(sizeof(*req));
	struct store_copy c = {.r = r};
	struct store_session *s = r->session;
	struct store_matches m = {0};
	const char *why;

	if (proto_store_copy_decode(req, r->data, r->len, &why) < 0) {
		free(req);
		store_reply_bad(r, why);
		return;
	}
	if (req->move && s->readonly)
		store_reply_result(r, PROTO_STORE_NO, "READ-ONLY", "The folder is read-only");
	else if (store_set_resolve(&s->view, req->set, (int)req->uid, &m, &why) < 0)
		store_reply_result(r, PROTO_STORE_BAD, "", why);
	else if ((c.dst = store_copy_target(r, req->destination)) != NULL) {
		if (store_copy_run(&c, &m, &why) < 0 ||
		    (req->move && store_move_expunge(&c, &why) < 0)) {
			log_error("event=store-error folder=%s reason=\"copy: %s\"", c.dst->dir,
			          why);
			store_reply_result(r, PROTO_STORE_NO, "SERVERBUG", "Cannot copy");
		} else {
			store_copy_answer(&c);
		}
		if (c.n > 0)
			store_folder_notify(c.dst, s);
		if (c.n > 0 && req->move)
			store_folder_notify(s->folder, s);
		store_folder_unref(&c.dst);
	}
	store_matches_free(&m);
	free(c.src_uids);
	free(c.dst_uids);
	free(req);
}

void store_append_handle(struct store_req *r)
{
	struct proto_store_append req;
	struct store_folder *f;
	char code[PROTO_STORE_CODE_MAX];
	const char *why;
	uint32_t uid;

	if (proto_store_append_decode(&req, r->data, r->len, &why) < 0 || r->fd < 0) {
		if (r->fd >= 0)
			close(r->fd);
		store_reply_bad(r, r->fd < 0 ? "APPEND without a file" : why);
		return;
	}
	if ((f = store_copy_target(r, req.mailbox)) == NULL) {
		close(r->fd);
		return;
	}
	if (req.internaldate == 0)
		req.internaldate = (int64_t)time(NULL);
	if (mailbox_append(f->mb, r->fd, req.size, req.flags & STORE_FLAGS_SETTABLE, req.keywords,
	                   req.internaldate, req.tz_minutes, &uid, &why) < 0 ||
	    store_folder_commit(f, &why) < 0) {
		log_error("event=store-error folder=%s reason=\"append: %s\"", f->dir, why);
		store_reply_result(r, PROTO_STORE_NO, "SERVERBUG", "Cannot store the message");
	} else {
		snprintf(code, sizeof(code), "APPENDUID %u %u", mailbox_uidvalidity(f->mb), uid);
		store_reply_result(r, PROTO_STORE_OK, code, "Appended");
		store_folder_notify(f, r->session);
	}
	close(r->fd);
	store_folder_unref(&f);
}
