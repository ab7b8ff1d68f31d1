/*
 * store_view.c: SELECT and EXAMINE, UNSELECT and CLOSE, UPDATES. A
 * session's view is the list of messages it has been told of, with the
 * modseq of the flags it knows and its own \Recent; it changes only when
 * the session asks (RFC 9051 7.5.1: expunges are reported only between
 * commands by sequence number, which only the session knows). UPDATES
 * diffs the view against the folder: expunges, new messages, flag
 * changes. Called from store.c's table and store_user.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "store/store_private.h"

static void store_view_push(struct store_view *v, uint32_t uid, uint64_t modseq, int recent)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 64;
		v->v = xrealloc(v->v, v->cap * sizeof(*v->v));
	}
	v->v[v->n].uid = uid;
	v->v[v->n].modseq = modseq;
	v->v[v->n].recent = (uint32_t)recent;
	v->n++;
}

int store_view_index(const struct store_session *s, unsigned i)
{
	return i < s->view.n ? mailbox_find(s->folder->mb, s->view.v[i].uid) : -1;
}

/* Whether S is the one to get \Recent for new messages (RFC 3501 2.3.2). */
static int store_view_claims_recent(const struct store_session *s)
{
	return !s->readonly && !s->pop3;
}

/* Appends the folder's messages from index FROM to the view. */
static void store_view_extend(struct store_session *s, unsigned from)
{
	struct mailbox *mb = s->folder->mb;
	uint32_t first_recent = mailbox_first_recent(mb);
	int claim = store_view_claims_recent(s);
	unsigned i, n = mailbox_count(mb);

	for (i = from; i < n; i++) {
		const struct mailbox_msg *m = mailbox_get(mb, i);
		store_view_push(&s->view, m->uid, m->modseq, claim && m->uid >= first_recent);
	}
	if (claim && n > from)
		mailbox_claim_recent(mb);
}

/* The folder index of the first message newer than the view's last. */
static unsigned store_view_first_new(const struct store_session *s)
{
	uint32_t last = store_view_max_uid(&s->view);
	unsigned lo = 0, hi = mailbox_count(s->folder->mb);

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (mailbox_get(s->folder->mb, mid)->uid <= last)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void store_view_leave(struct store_session *s, int expunge)
{
	struct store_folder *f = s->folder;
	const char *why;

	if (f == NULL)
		return;
	if (expunge && !s->readonly) {
		int n = store_expunge_deleted(f, NULL, &why);
		if (n > 0 && store_folder_commit(f, &why) == 0)
			store_folder_notify(f, s);
	}
	TAILQ_REMOVE(&f->selected, s, fentry);
	if (f->pop3 == s)
		f->pop3 = NULL;
	free(s->view.v);
	memset(&s->view, 0, sizeof(s->view));
	memset(&s->cursor, 0, sizeof(s->cursor));
	s->folder = NULL;
	s->changed_sent = 0;
	store_folder_unref(&f);
}

/* Every keyword in use, space-separated, for FLAGS. */
static void store_view_keywords(struct mailbox *mb, char *out, size_t size)
{
	unsigned i, n = mailbox_count(mb);

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		const struct mailbox_msg *m = mailbox_get(mb, i);
		char merged[PROTO_STORE_KEYWORDS_MAX];
		if (m->keywords[0] != '\0' &&
		    store_keywords_apply(STORE_FLAGS_ADD, out, m->keywords, merged,
		                         sizeof(merged)) == 0)
			strlcpy_checked(out, merged, size);
	}
}

/* The SELECT answer's counts from the session's new view. */
static void store_view_counts(const struct store_session *s, struct proto_store_select_result *res)
{
	struct mailbox *mb = s->folder->mb;
	unsigned i;

	res->exists = s->view.n;
	for (i = 0; i < s->view.n; i++) {
		const struct mailbox_msg *m = mailbox_get(mb, i);
		res->recent += s->view.v[i].recent;
		if (res->first_unseen == 0 && !(m->flags & STORE_FLAG_SEEN))
			res->first_unseen = i + 1;
	}
	res->uidvalidity = mailbox_uidvalidity(mb);
	res->uidnext = mailbox_uidnext(mb);
	res->readonly = (uint32_t)s->readonly;
	res->highestmodseq = mailbox_highestmodseq(mb);
	store_view_keywords(mb, res->keywords, sizeof(res->keywords));
}

/* One FETCH_ITEM of flags: UID, FLAGS, MODSEQ of view entry I. */
void store_view_send_flags(struct store_session *s, uint64_t id, unsigned i, int index)
{
	const struct mailbox_msg *m = mailbox_get(s->folder->mb, (unsigned)index);
	struct proto_store_item it = {.seq = i + 1, .uid = m->uid, .modseq = m->modseq};
	struct ipc_writer w;

	it.flags = m->flags | (s->view.v[i].recent ? STORE_FLAG_RECENT : 0);
	strlcpy_checked(it.keywords, m->keywords, sizeof(it.keywords));
	it.internaldate = m->internaldate == MAILBOX_DATE_UNKNOWN ? 0 : m->internaldate; /* not asked */
	it.tz_minutes = m->tz_minutes;
	it.size = m->size == MAILBOX_SIZE_UNKNOWN ? 0 : m->size; /* not asked for */
	it.file_size = m->file_size;
	it.envelope = it.bodystructure = it.body = it.headers = "";
	s->view.v[i].modseq = m->modseq;
	ipc_writer_init(&w);
	proto_store_item_encode(&it, &w);
	store_send(s->peer, IMSG_STORE_FETCH_ITEM, id, &w, -1);
}

/* The UIDs the client may know (KNOWN, or every UID below uidnext when
 * "") that are not in the folder: what a rebuilt index, having forgotten
 * its expunges, must report as vanished. */
static unsigned store_view_missing(struct mailbox *mb, const char *known, uint32_t **uids_r)
{
	struct seqset set = {0};
	uint32_t uidnext = mailbox_uidnext(mb), uid, *uids = NULL;
	unsigned n = 0, cap = 0, i;
	const char *why;

	*uids_r = NULL;
	if (seqset_parse(known[0] != '\0' ? known : "1:*", &set, &why) < 0)
		return 0;
	seqset_resolve(&set, uidnext > 1 ? uidnext - 1 : 1);
	for (i = 0; i < set.n; i++)
		for (uid = set.r[i].lo; uid <= set.r[i].hi && uid < uidnext; uid++) {
			if (mailbox_find(mb, uid) >= 0)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				uids = xrealloc(uids, cap * sizeof(*uids));
			}
			uids[n++] = uid;
		}
	seqset_free(&set);
	*uids_r = uids;
	return n;
}

unsigned store_view_vanished(struct mailbox *mb, uint64_t modseq, const char *known,
                             uint32_t **uids_r)
{
	struct seqset set = {0};
	unsigned n, i, k = 0;
	const char *why;

	if (mailbox_vanished_floor(mb) > modseq)
		return store_view_missing(mb, known, uids_r);
	n = mailbox_vanished_since(mb, modseq, uids_r);
	if (known[0] == '\0' || seqset_parse(known, &set, &why) < 0)
		return n;
	seqset_resolve(&set, UINT32_MAX);
	for (i = 0; i < n; i++)
		if (seqset_contains(&set, (*uids_r)[i]))
			(*uids_r)[k++] = (*uids_r)[i];
	seqset_free(&set);
	return k;
}

/* QRESYNC (RFC 7162 3.2.5.2): the messages changed since MODSEQ, sent
 * before the SELECT answer, and the known UIDs expunged since. */
static char *store_view_qresync(struct store_session *s, uint64_t id,
                                const struct proto_store_select *req)
{
	struct mailbox *mb = s->folder->mb;
	uint32_t *uids = NULL;
	unsigned n, i;
	char *text;

	if (req->qresync_uidvalidity == 0 || req->qresync_uidvalidity != mailbox_uidvalidity(mb))
		return xstrdup("");
	for (i = 0; i < s->view.n; i++) {
		int index = store_view_index(s, i);
		if (index >= 0 && mailbox_get(mb, (unsigned)index)->modseq > req->qresync_modseq)
			store_view_send_flags(s, id, i, index);
	}
	n = store_view_vanished(mb, req->qresync_modseq, req->qresync_known_uids, &uids);
	text = seqset_format(uids, n);
	free(uids);
	return text;
}

/* Opens NAME for S: the folder, POP3's exclusivity, the sync, the view. */
static int store_view_enter(struct store_req *r, const struct proto_store_select *req)
{
	struct store_session *s = r->session;
	char canon[PROTO_STORE_NAME_MAX], dir[STORE_PATH_MAX];
	struct store_folder *f;
	const char *why = store_folder_dir(r, req->name, canon, dir, sizeof(dir));

	if (why != NULL || !store_maildir_exists(dir)) {
		store_reply_status(r, PROTO_STORE_NO, why ? "" : "NONEXISTENT",
		                   why ? why : "No such folder");
		return -1;
	}
	if ((f = store_folder_open(r->peer->store, dir, &why)) == NULL) {
		log_error("event=store-error folder=%s reason=\"%s\"", dir, why);
		store_reply_status(r, PROTO_STORE_NO, "SERVERBUG", "Cannot open the folder");
		return -1;
	}
	if (req->pop3 && f->pop3 != NULL) {
		store_folder_unref(&f);
		store_reply_status(r, PROTO_STORE_NO, "IN-USE",
		                   "Mailbox in use by another POP3 session");
		return -1;
	}
	store_folder_sync(f, NULL);
	s->folder = f;
	s->readonly = (int)req->readonly;
	s->pop3 = (int)req->pop3;
	if (s->pop3)
		f->pop3 = s;
	TAILQ_INSERT_TAIL(&f->selected, s, fentry);
	store_view_extend(s, 0);
	s->view.synced_modseq = mailbox_highestmodseq(f->mb);
	return 0;
}

void store_view_select(struct store_req *r)
{
	struct proto_store_select *req = xmalloc(sizeof(*req));
	struct proto_store_select_result res = {.status = PROTO_STORE_OK};
	struct ipc_writer w;
	const char *why;

	if (proto_store_select_decode(req, r->data, r->len, &why) < 0) {
		free(req);
		store_reply_bad(r, why);
		return;
	}
	store_view_leave(r->session, 0); /* RFC 9051 6.3.2: even when this one fails */
	if (store_view_enter(r, req) == 0) {
		res.vanished = store_view_qresync(r->session, r->id, req);
		store_view_counts(r->session, &res);
		strlcpy_checked(res.code, res.readonly ? "READ-ONLY" : "READ-WRITE",
		                sizeof(res.code));
		strlcpy_checked(res.text, "Selected", sizeof(res.text));
		ipc_writer_init(&w);
		proto_store_select_result_encode(&res, &w);
		store_send(r->peer, IMSG_STORE_SELECT_RESULT, r->id, &w, -1);
		free(res.vanished);
	}
	free(req);
}

void store_view_unselect(struct store_req *r)
{
	struct proto_store_unselect req;
	const char *why;

	if (proto_store_unselect_decode(&req, r->data, r->len, &why) < 0) {
		store_reply_bad(r, why);
		return;
	}
	store_view_leave(r->session, (int)req.expunge);
	store_reply_result(r, PROTO_STORE_OK, "", "Unselected");
}

/* Drops the view entries whose messages are gone (when EXPUNGES), noting
 * their sequence numbers as the session must hear them (each after the
 * ones before) and their UIDs; flag changes of the others go out as
 * FETCH_ITEMs, numbered as the session's view stands before the
 * expunges. One walk, since view and folder are both in UID order. At
 * most STORE_UPDATES_EXPUNGES_MAX expunges are taken; the others stay. */
static void store_view_diff(struct store_session *s, uint64_t id, int expunges,
                            struct proto_store_updates_result *res, uint32_t **uids_r)
{
	struct mailbox *mb = s->folder->mb;
	unsigned i, j = 0, k = 0, gone = 0, count = mailbox_count(mb);

	*uids_r = xcalloc(s->view.n + 1, sizeof(uint32_t));
	res->expunged = xcalloc(s->view.n + 1, sizeof(uint32_t));
	for (i = 0; i < s->view.n; i++) {
		struct store_view_entry e = s->view.v[i];
		const struct mailbox_msg *m = NULL;
		while (k < count && (m = mailbox_get(mb, k))->uid < e.uid)
			k++;
		if (k < count && m->uid == e.uid) {
			if (m->modseq != e.modseq)
				store_view_send_flags(s, id, i, (int)k);
		} else if (expunges && res->n_expunged < STORE_UPDATES_EXPUNGES_MAX) {
			res->expunged[res->n_expunged++] = i + 1 - gone;
			(*uids_r)[gone++] = e.uid;
			continue;
		}
		s->view.v[j++] = s->view.v[i];
	}
	s->view.n = j;
}

/* Tells S that UPDATES has more for it (IMSG_STORE_CHANGED). */
static void store_view_more(struct store_session *s)
{
	struct ipc_writer w;

	s->changed_sent = 1;
	ipc_writer_init(&w);
	store_send(s->peer, IMSG_STORE_CHANGED, s->id, &w, -1);
}

void store_view_updates(struct store_req *r)
{
	struct store_session *s = r->session;
	struct proto_store_updates req;
	struct proto_store_updates_result res = {0};
	struct ipc_writer w;
	uint32_t *uids = NULL;
	const char *why;
	unsigned i;
	int capped = 0;

	if (proto_store_updates_decode(&req, r->data, r->len, &why) < 0) {
		store_reply_bad(r, why);
		return;
	}
	s->changed_sent = 0;
	if (s->folder == NULL) {
		store_reply_status(r, PROTO_STORE_OK, "", "");
		return;
	}
	store_watch_poll(r->peer->store);
	/* a folder inotify does not watch (no watch left, or none at all) is
	 * looked at every time */
	if (s->folder->dirty || r->peer->store->watch == NULL || s->folder->wd_new < 0 ||
	    s->folder->wd_cur < 0)
		store_folder_sync(s->folder, s);
	/* nothing happened since the last look: no walk over a large folder */
	if (s->view.synced_modseq != mailbox_highestmodseq(s->folder->mb) ||
	    s->view.n != mailbox_count(s->folder->mb)) {
		store_view_diff(s, r->id, (int)req.expunges, &res, &uids);
		capped = res.n_expunged == STORE_UPDATES_EXPUNGES_MAX;
		store_view_extend(s, store_view_first_new(s));
	}
	s->view.synced_modseq = mailbox_highestmodseq(s->folder->mb);
	res.exists = s->view.n;
	for (i = 0; i < s->view.n; i++)
		res.recent += s->view.v[i].recent;
	res.highestmodseq = mailbox_highestmodseq(s->folder->mb);
	res.vanished =
	    req.qresync && uids != NULL ? seqset_format(uids, res.n_expunged) : xstrdup("");
	if (req.qresync)
		res.n_expunged = 0;
	ipc_writer_init(&w);
	proto_store_updates_result_encode(&res, &w);
	store_send(r->peer, IMSG_STORE_UPDATES_RESULT, r->id, &w, -1);
	if (capped && req.expunges) /* the expunges left wait for the next UPDATES */
		store_view_more(s);
	free(res.vanished);
	free(res.expunged);
	free(uids);
}
