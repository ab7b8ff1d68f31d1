/*
 * store_fetch.c: FETCH in batches. The set is resolved against the
 * session's view; each batch sends at most `max` FETCH_ITEMs (the session
 * asks for the next when its output drained), each with what the session
 * asked for: index fields always, the cached texts when wanted, and the
 * message file's descriptor with STORE_WANT_FILE (one per message, as
 * ipc_send carries one), or with STORE_WANT_FILE_UNLESS_HEADERS when no
 * header block could be sent. BODY[] without PEEK sets \Seen (not on EXAMINE);
 * CHANGEDSINCE (RFC 7162 3.1.4.1) skips older messages and VANISHED
 * reports the expunged UIDs of the set. Called from store.c's table.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "store/store_private.h"

/* A batch under way. */
struct store_fetch {
	struct store_req *r;
	struct proto_store_fetch *req;
	struct store_matches m;
	unsigned sent;
	int seen_set; /* \Seen was set: commit, tell the others */
	int skipped;  /* messages gone from the folder */
};

/* Sets \Seen on message INDEX for view entry I; 1 when it changed. */
static int store_fetch_mark_seen(struct store_fetch *b, unsigned index)
{
	struct store_session *s = b->r->session;
	const struct mailbox_msg *m = mailbox_get(s->folder->mb, index);
	char kw[PROTO_STORE_KEYWORDS_MAX];
	const char *why;

	if (s->readonly || (m->flags & STORE_FLAG_SEEN))
		return 0;
	strlcpy_checked(kw, m->keywords, sizeof(kw));
	if (mailbox_set_flags(s->folder->mb, index, m->flags | STORE_FLAG_SEEN, kw, &why) < 0) {
		log_error("event=store-error folder=%s reason=\"set \\Seen: %s\"", s->folder->dir,
		          why);
		return 0;
	}
	return 1;
}

/* The FETCH_ITEM of view entry I (folder index INDEX). 0, or -1 when its
 * file could not be opened (the message went away). */
static int store_fetch_item(struct store_fetch *b, unsigned i, unsigned index)
{
	struct store_session *s = b->r->session;
	uint32_t want = b->req->want;
	struct proto_store_item it = {.seq = i + 1};
	const struct mailbox_msg *m;
	struct store_texts t;
	struct ipc_writer w;
	int32_t tz;
	int fd = -1;

	if ((want & STORE_WANT_MARK_SEEN) && store_fetch_mark_seen(b, index)) {
		b->seen_set = 1;
		want |= STORE_WANT_FLAGS;
	}
	store_cache_texts(s->folder, index, want, &t);
	if ((want & STORE_WANT_FILE_UNLESS_HEADERS) && t.headers[0] == '\0')
		want |= STORE_WANT_FILE;
	if ((want & STORE_WANT_FILE) && (fd = mailbox_open_file(s->folder->mb, index)) < 0) {
		store_texts_free(&t);
		return -1;
	}
	if (want & STORE_WANT_SIZE)
		(void)mailbox_msg_size(s->folder->mb, index); /* counted on first need */
	if (want & STORE_WANT_INTERNALDATE)
		(void)mailbox_msg_date(s->folder->mb, index, &tz); /* looked at on first need */
	m = mailbox_get(s->folder->mb, index);
	it.uid = m->uid;
	it.flags = m->flags | (s->view.v[i].recent ? STORE_FLAG_RECENT : 0);
	strlcpy_checked(it.keywords, m->keywords, sizeof(it.keywords));
	it.modseq = m->modseq;
	it.internaldate = m->internaldate == MAILBOX_DATE_UNKNOWN ? 0 : m->internaldate;
	it.tz_minutes = m->tz_minutes;
	it.size = m->size == MAILBOX_SIZE_UNKNOWN ? 0 : m->size;
	it.file_size = m->file_size;
	if (want & STORE_WANT_FLAGS)
		s->view.v[i].modseq = m->modseq; /* the session knows these flags now */
	it.envelope = t.envelope;
	it.bodystructure = t.bodystructure;
	it.body = t.body;
	it.headers = t.headers;
	ipc_writer_init(&w);
	proto_store_item_encode(&it, &w);
	store_send(s->peer, IMSG_STORE_FETCH_ITEM, b->r->id, &w, fd);
	store_texts_free(&t);
	return 0;
}

/* Goes through the matches from POS until MAX items went out; returns
 * where it stopped. */
static unsigned store_fetch_run(struct store_fetch *b, unsigned pos, unsigned max)
{
	struct store_session *s = b->r->session;
	struct store_match_iter it;
	unsigned i;

	store_match_seek(&it, &b->m, pos);
	for (; b->sent < max && store_match_next(&it, &i); pos++) {
		int index = store_view_index(s, i);
		if (index < 0) {
			b->skipped = 1;
			continue;
		}
		if (b->req->changedsince != 0 &&
		    mailbox_get(s->folder->mb, (unsigned)index)->modseq <= b->req->changedsince)
			continue;
		if (store_fetch_item(b, i, (unsigned)index) < 0) {
			b->skipped = 1;
			continue;
		}
		b->sent++;
	}
	return pos;
}

/* UID FETCH ... (CHANGEDSINCE m VANISHED): the set's UIDs expunged since
 * (all the set's missing UIDs when the folder forgot that far back). */
static char *store_fetch_vanished(struct store_fetch *b)
{
	uint32_t *uids = NULL;
	unsigned n;
	char *text;

	if (!b->req->vanished || !b->req->uid || b->req->start != 0)
		return xstrdup("");
	n = store_view_vanished(b->r->session->folder->mb, b->req->changedsince, b->req->set,
	                        &uids);
	text = seqset_format(uids, n);
	free(uids);
	return text;
}

static void store_fetch_done(struct store_fetch *b, unsigned pos)
{
	struct proto_store_fetch_done done = {.status = PROTO_STORE_OK, .modified = ""};
	struct store_session *s = b->r->session;
	struct ipc_writer w;
	const char *why;

	done.more = pos < b->m.total;
	if (b->seen_set && store_folder_commit(s->folder, &why) == 0)
		store_folder_notify(s->folder, s);
	if (b->skipped && !done.more) {
		done.status = PROTO_STORE_NO;
		strlcpy_checked(done.code, "EXPUNGEISSUED", sizeof(done.code));
		strlcpy_checked(done.text, "Some messages were expunged", sizeof(done.text));
	} else {
		strlcpy_checked(done.text, "Fetched", sizeof(done.text));
	}
	done.vanished = store_fetch_vanished(b);
	ipc_writer_init(&w);
	proto_store_fetch_done_encode(&done, &w);
	store_send(b->r->peer, IMSG_STORE_FETCH_DONE, b->r->id, &w, -1);
	free(done.vanished);
}

void store_fetch_handle(struct store_req *r)
{
	struct store_fetch b = {.r = r, .req = xmalloc(sizeof(*b.req))};
	struct store_session *s = r->session;
	unsigned pos, max;
	const char *why;

	if (proto_store_fetch_decode(b.req, r->data, r->len, &why) < 0) {
		free(b.req);
		store_reply_bad(r, why);
		return;
	}
	if (store_set_resolve(&s->view, b.req->set, (int)b.req->uid, &b.m, &why) < 0) {
		free(b.req);
		store_reply_status(r, PROTO_STORE_BAD, "", why);
		return;
	}
	max = b.req->max == 0 || b.req->max > PROTO_STORE_FETCH_BATCH ? PROTO_STORE_FETCH_BATCH
	                                                              : b.req->max;
	pos = store_cursor_begin(s, IMSG_STORE_FETCH, (int)b.req->uid, b.req->set, b.req->start);
	pos = store_fetch_run(&b, pos, max);
	store_cursor_end(s, IMSG_STORE_FETCH, (int)b.req->uid, b.req->set, b.req->start + b.sent,
	                 pos);
	store_fetch_done(&b, pos);
	store_matches_free(&b.m);
	free(b.req);
}
