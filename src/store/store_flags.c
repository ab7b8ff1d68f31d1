/*
 * store_flags.c: STORE (IMSG_STORE_FLAGS) in batches of at most `max`
 * messages of the set, and the keyword lists ("$Forwarded Work", case-
 * insensitive as RFC 9051 2.3.2 says). Each message whose flags change is
 * renamed by mailbox_set_flags() and reported as a FETCH_ITEM; with
 * UNCHANGEDSINCE (RFC 7162 3.1.3) a message whose modseq is higher is left
 * alone and listed in `modified`. The batch is committed before its
 * FETCH items and its answer (nothing tells of a change that is not
 * stable), then the other sessions on the folder hear CHANGED; a message
 * whose file could not be renamed makes the answer NO. Called from
 * store.c's table; the keyword helpers also by store_view.c and
 * store_search.c.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/util.h"
#include "store/store_private.h"

int store_keywords_has(const char *kw, const char *word)
{
	size_t len = strlen(word);
	const char *p = kw;

	while (*p != '\0') {
		size_t n = strcspn(p, " ");
		if (n == len && strncasecmp(p, word, len) == 0)
			return 1;
		p += n;
		p += *p == ' ';
	}
	return 0;
}

/* Appends WORD (LEN octets) to OUT of SIZE at *O; -1 when it does not fit. */
static int store_keywords_push(char *out, size_t size, size_t *o, const char *word, size_t len)
{
	if (*o + (*o > 0) + len + 1 > size)
		return -1;
	if (*o > 0)
		out[(*o)++] = ' ';
	memcpy(out + *o, word, len);
	*o += len;
	out[*o] = '\0';
	return 0;
}

int store_keywords_apply(uint32_t op, const char *kw, const char *arg, char *out, size_t size)
{
	char word[PROTO_STORE_KEYWORDS_MAX];
	const char *p = op == STORE_FLAGS_REPLACE ? "" : kw;
	size_t o = 0;
	int pass;

	out[0] = '\0';
	/* first the kept keywords, then (REPLACE, ADD) the new ones */
	for (pass = 0; pass < 2; pass++, p = op == STORE_FLAGS_REMOVE ? "" : arg) {
		while (*p != '\0') {
			size_t n = strcspn(p, " ");
			if (n > 0 && n < sizeof(word)) {
				memcpy(word, p, n);
				word[n] = '\0';
				int drop = pass == 0 ? op == STORE_FLAGS_REMOVE &&
				                           store_keywords_has(arg, word)
				                     : store_keywords_has(out, word);
				if (!drop && store_keywords_push(out, size, &o, p, n) < 0)
					return -1;
			}
			p += n;
			p += *p == ' ';
		}
	}
	return 0;
}

/* The flags OP makes of CUR with FLAGS. */
static uint32_t store_flags_apply(uint32_t op, uint32_t cur, uint32_t flags)
{
	flags &= STORE_FLAGS_SETTABLE;
	cur &= STORE_FLAGS_SETTABLE;
	if (op == STORE_FLAGS_ADD)
		return cur | flags;
	if (op == STORE_FLAGS_REMOVE)
		return cur & ~flags;
	return flags;
}

/* A batch under way. */
struct store_flags_batch {
	struct store_req *r;
	struct proto_store_flags *req;
	uint32_t *modified;
	unsigned n_modified;
	unsigned *changed; /* view entries changed: reported after the commit */
	unsigned n_changed;
	int failed; /* a message's flags could not be changed */
};

/* Applies the request to view entry I (folder index INDEX). */
static void store_flags_one(struct store_flags_batch *b, unsigned i, unsigned index)
{
	struct store_session *s = b->r->session;
	const struct mailbox_msg *m = mailbox_get(s->folder->mb, index);
	char kw[PROTO_STORE_KEYWORDS_MAX];
	uint32_t flags;
	const char *why;

	if (b->req->unchangedsince != 0 && m->modseq > b->req->unchangedsince) {
		b->modified[b->n_modified++] = b->req->uid ? m->uid : i + 1;
		return;
	}
	flags = store_flags_apply(b->req->op, m->flags, b->req->flags);
	if (store_keywords_apply(b->req->op, m->keywords, b->req->keywords, kw, sizeof(kw)) < 0)
		strlcpy_checked(kw, m->keywords,
		                sizeof(kw)); /* too many keywords: kept as they were */
	if (flags == (m->flags & STORE_FLAGS_SETTABLE) && strcmp(kw, m->keywords) == 0)
		return;
	if (mailbox_set_flags(s->folder->mb, index, flags, kw, &why) < 0) {
		log_error("event=store-error folder=%s reason=\"flags: %s\"", s->folder->dir, why);
		b->failed = 1;
		return;
	}
	b->changed[b->n_changed++] = i;
}

static void store_flags_done(struct store_flags_batch *b, int more)
{
	struct proto_store_fetch_done done = {.status = PROTO_STORE_OK, .vanished = ""};
	struct store_session *s = b->r->session;
	struct ipc_writer w;
	const char *why;
	unsigned i;

	done.more = (uint32_t)more;
	strlcpy_checked(done.text, "Stored", sizeof(done.text));
	/* stable before anything tells of the change: the FETCH items too */
	if ((b->n_changed > 0 && store_folder_commit(s->folder, &why) < 0) || b->failed) {
		done.status = PROTO_STORE_NO;
		strlcpy_checked(done.code, "SERVERBUG", sizeof(done.code));
		strlcpy_checked(done.text, "Cannot store the flags", sizeof(done.text));
	}
	for (i = 0; i < b->n_changed; i++) {
		int index = store_view_index(s, b->changed[i]);
		if (index >= 0)
			store_view_send_flags(s, b->r->id, b->changed[i], index);
	}
	if (b->n_changed > 0)
		store_folder_notify(s->folder, s);
	done.modified = seqset_format(b->modified, b->n_modified);
	ipc_writer_init(&w);
	proto_store_fetch_done_encode(&done, &w);
	store_send(b->r->peer, IMSG_STORE_FETCH_DONE, b->r->id, &w, -1);
	free(done.modified);
}

void store_flags_handle(struct store_req *r)
{
	struct store_flags_batch b = {.r = r, .req = xmalloc(sizeof(*b.req))};
	struct store_session *s = r->session;
	struct store_matches m;
	struct store_match_iter it;
	unsigned i;
	const char *why;

	if (proto_store_flags_decode(b.req, r->data, r->len, &why) < 0) {
		free(b.req);
		store_reply_bad(r, why);
		return;
	}
	if (s->readonly) {
		free(b.req);
		store_reply_status(r, PROTO_STORE_NO, "READ-ONLY", "The folder is read-only");
		return;
	}
	if (store_set_resolve(&s->view, b.req->set, (int)b.req->uid, &m, &why) < 0) {
		free(b.req);
		store_reply_status(r, PROTO_STORE_BAD, "", why);
		return;
	}
	/* the whole set at once: items go out only for changed messages, so a
	 * session could not count where a batch stopped */
	b.modified = xcalloc(m.total + 1, sizeof(uint32_t));
	b.changed = xcalloc(m.total + 1, sizeof(unsigned));
	store_match_seek(&it, &m, b.req->start);
	while (store_match_next(&it, &i)) {
		int index = store_view_index(s, i);
		if (index >= 0)
			store_flags_one(&b, i, (unsigned)index);
	}
	store_flags_done(&b, 0);
	store_matches_free(&m);
	free(b.modified);
	free(b.changed);
	free(b.req);
}
