/*
 * store_search.c: SEARCH programs (proto/store.h: prefix order, AND of
 * `count` subtrees, OR of two, NOT of one) evaluated against each message
 * of the session's view. Flags, UIDs, sequence numbers, sizes, dates and
 * modseqs come from the index alone; header keys from the cached header
 * block (filled on first need); only BODY and TEXT open the file. Each
 * message's parsed texts are made once, when a key first needs them.
 * Results are ascending. Called from store.c's table.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/util.h"
#include "mail/mime.h"
#include "store/store_private.h"

#define STORE_DAY 86400

/* The program, prepared once for all messages. */
struct store_search {
	const struct proto_store_search *prog;
	unsigned *end;       /* end[k]: the node after the subtree at k */
	struct seqset *sets; /* SEQSET and UIDSET nodes' sets, resolved */
	time_t now;
	uint64_t highestmodseq;
	int modseq_used;
};

/* One message being evaluated. */
struct store_search_msg {
	struct store_session *s;
	unsigned seq;   /* view index + 1 */
	unsigned index; /* in the folder */
	const struct mailbox_msg *m;
	char *headers; /* cached header block, when loaded */
	struct mime_message *head;
	char *data; /* the whole message (CRLF), when loaded */
	struct mime_message *full;
};

static unsigned store_search_ends(struct store_search *q, unsigned k)
{
	const struct proto_store_search_node *n = &q->prog->nodes[k];
	unsigned j = k + 1, c, count;

	count = n->key == SEARCH_AND ? n->count : n->key == SEARCH_OR ? 2 : n->key == SEARCH_NOT;
	for (c = 0; c < count && j < q->prog->n_nodes; c++)
		j = store_search_ends(q, j);
	q->end[k] = j;
	return j;
}

/* Parses and resolves the set arguments; -1 with *error_r. */
static int store_search_prepare(struct store_search *q, const struct store_view *v,
                                const char **error_r)
{
	unsigned k;

	q->end = xcalloc(q->prog->n_nodes + 1, sizeof(unsigned));
	q->sets = xcalloc(q->prog->n_nodes + 1, sizeof(struct seqset));
	if (q->prog->n_nodes > 0)
		store_search_ends(q, 0);
	for (k = 0; k < q->prog->n_nodes; k++) {
		const struct proto_store_search_node *n = &q->prog->nodes[k];
		q->modseq_used |= n->key == SEARCH_MODSEQ;
		if (n->key != SEARCH_SEQSET && n->key != SEARCH_UIDSET)
			continue;
		if (seqset_parse(n->arg != NULL ? n->arg : "", &q->sets[k], error_r) < 0)
			return -1;
		seqset_resolve(&q->sets[k], n->key == SEARCH_UIDSET ? store_view_max_uid(v) : v->n);
	}
	return 0;
}

static void store_search_release(struct store_search *q)
{
	unsigned k;

	for (k = 0; k < q->prog->n_nodes; k++)
		seqset_free(&q->sets[k]);
	free(q->sets);
	free(q->end);
}

static struct mime_message *store_search_head(struct store_search_msg *x)
{
	struct store_texts t;

	if (x->head == NULL) {
		store_cache_texts(x->s->folder, x->index, STORE_WANT_HEADERS, &t);
		x->headers = t.headers;
		t.headers = NULL;
		store_texts_free(&t);
		x->head = mime_parse(x->headers, strlen(x->headers));
	}
	return x->head;
}

static struct mime_message *store_search_full(struct store_search_msg *x)
{
	size_t len = 0;

	if (x->full == NULL) {
		x->data = store_message_read(x->s->folder, x->index, &len);
		if (x->data == NULL)
			x->data = xstrdup("");
		x->full = mime_parse(x->data, len);
	}
	return x->full;
}

/* The day (Unix seconds at 00:00 UTC) of T in its own zone TZ. */
static int64_t store_day_of(int64_t t, int32_t tz_minutes)
{
	int64_t local = t + (int64_t)tz_minutes * 60;

	return local - ((local % STORE_DAY) + STORE_DAY) % STORE_DAY;
}

/* The internal date of X, looked at on first need. */
static int64_t store_search_date(struct store_search_msg *x)
{
	int32_t tz;

	return mailbox_msg_date(x->s->folder->mb, x->index, &tz);
}

/* The day of X's internal date, in its zone. */
static int64_t store_search_day(struct store_search_msg *x)
{
	int32_t tz;
	int64_t t = mailbox_msg_date(x->s->folder->mb, x->index, &tz);

	return store_day_of(t, tz);
}

/* The day of the Date: field, or of the internal date without one. */
static int64_t store_search_sent_day(struct store_search_msg *x)
{
	char *date = mime_header_get(store_search_head(x), "Date");
	int64_t t;
	int tz;

	if (date != NULL && mime_date_parse(date, &t, &tz) == 0) {
		free(date);
		return store_day_of(t, tz);
	}
	free(date);
	return store_search_day(x);
}

static int store_day_cmp(int64_t day, uint64_t number)
{
	return day < (int64_t)number ? -1 : day > (int64_t)number;
}

static int store_search_eval(struct store_search *q, struct store_search_msg *x, unsigned k);

/* The keys that combine others. */
static int store_search_logic(struct store_search *q, struct store_search_msg *x, unsigned k)
{
	const struct proto_store_search_node *n = &q->prog->nodes[k];
	unsigned j = k + 1, c;

	if (n->key == SEARCH_NOT)
		return !store_search_eval(q, x, j);
	if (n->key == SEARCH_OR)
		return store_search_eval(q, x, j) || store_search_eval(q, x, q->end[j]);
	for (c = 0; c < n->count; c++, j = q->end[j])
		if (!store_search_eval(q, x, j))
			return 0;
	return 1;
}

/* The keys about the message's flags. */
static int store_search_flags(struct store_search_msg *x, const struct proto_store_search_node *n)
{
	uint32_t flags = x->m->flags;
	const char *arg = n->arg != NULL ? n->arg : "";

	if (x->s->view.v[x->seq - 1].recent)
		flags |= STORE_FLAG_RECENT;
	switch (n->key) {
	case SEARCH_FLAG:
		return (flags & n->number) != 0;
	case SEARCH_NOFLAG:
		return (flags & n->number) == 0;
	case SEARCH_NEW:
		return (flags & STORE_FLAG_RECENT) && !(flags & STORE_FLAG_SEEN);
	case SEARCH_OLD:
		return !(flags & STORE_FLAG_RECENT);
	case SEARCH_KEYWORD:
		return store_keywords_has(x->m->keywords, arg);
	default: /* SEARCH_UNKEYWORD */
		return !store_keywords_has(x->m->keywords, arg);
	}
}

/* The keys about dates and sizes. */
static int store_search_dates(struct store_search *q, struct store_search_msg *x,
                              const struct proto_store_search_node *n)
{
	int64_t day = store_search_day(x);

	switch (n->key) {
	case SEARCH_BEFORE:
		return store_day_cmp(day, n->number) < 0;
	case SEARCH_ON:
		return store_day_cmp(day, n->number) == 0;
	case SEARCH_SINCE:
		return store_day_cmp(day, n->number) >= 0;
	case SEARCH_SENTBEFORE:
		return store_day_cmp(store_search_sent_day(x), n->number) < 0;
	case SEARCH_SENTON:
		return store_day_cmp(store_search_sent_day(x), n->number) == 0;
	case SEARCH_SENTSINCE:
		return store_day_cmp(store_search_sent_day(x), n->number) >= 0;
	case SEARCH_LARGER:
		return mailbox_msg_size(x->s->folder->mb, x->index) > n->number;
	case SEARCH_SMALLER:
		return mailbox_msg_size(x->s->folder->mb, x->index) < n->number;
	case SEARCH_OLDER:
		return store_search_date(x) <= (int64_t)q->now - (int64_t)n->number;
	default: /* SEARCH_YOUNGER */
		return store_search_date(x) >= (int64_t)q->now - (int64_t)n->number;
	}
}

/* The keys about the message's text. */
static int store_search_text(struct store_search_msg *x, const struct proto_store_search_node *n)
{
	const char *arg = n->arg != NULL ? n->arg : "";

	if (n->key == SEARCH_HEADER)
		return mime_header_contains(store_search_head(x), n->field, arg);
	if (n->key == SEARCH_BODY)
		return mime_body_contains(store_search_full(x), arg);
	/* TEXT: the header or the body */
	return mime_header_contains(store_search_head(x), NULL, arg) ||
	       mime_body_contains(store_search_full(x), arg);
}

static int store_search_eval(struct store_search *q, struct store_search_msg *x, unsigned k)
{
	const struct proto_store_search_node *n = &q->prog->nodes[k];

	switch (n->key) {
	case SEARCH_AND:
	case SEARCH_OR:
	case SEARCH_NOT:
		return store_search_logic(q, x, k);
	case SEARCH_ALL:
		return 1;
	case SEARCH_SEQSET:
		return seqset_contains(&q->sets[k], x->seq);
	case SEARCH_UIDSET:
		return seqset_contains(&q->sets[k], x->m->uid);
	case SEARCH_FLAG:
	case SEARCH_NOFLAG:
	case SEARCH_NEW:
	case SEARCH_OLD:
	case SEARCH_KEYWORD:
	case SEARCH_UNKEYWORD:
		return store_search_flags(x, n);
	case SEARCH_HEADER:
	case SEARCH_BODY:
	case SEARCH_TEXT:
		return store_search_text(x, n);
	case SEARCH_MODSEQ:
		return x->m->modseq >= n->number;
	default:
		return store_search_dates(q, x, n);
	}
}

static void store_search_msg_free(struct store_search_msg *x)
{
	mime_free(&x->head);
	mime_free(&x->full);
	free(x->headers);
	free(x->data);
}

/* Evaluates the program on every message of the view; the matches go to
 * RES (ascending). */
static void store_search_run(struct store_search *q, struct store_session *s, int uid,
                             struct proto_store_search_result *res)
{
	unsigned i, cap = 0;

	for (i = 0; i < s->view.n; i++) {
		int index = store_view_index(s, i);
		struct store_search_msg x = {.s = s, .seq = i + 1};
		if (index < 0)
			continue;
		x.index = (unsigned)index;
		x.m = mailbox_get(s->folder->mb, x.index);
		if (q->prog->n_nodes == 0 || store_search_eval(q, &x, 0)) {
			if (res->n_matches == cap) {
				cap = cap ? cap * 2 : 64;
				res->matches = xrealloc(res->matches, cap * sizeof(uint32_t));
			}
			res->matches[res->n_matches++] = uid ? x.m->uid : i + 1;
			if (x.m->modseq > q->highestmodseq)
				q->highestmodseq = x.m->modseq;
		}
		store_search_msg_free(&x);
	}
}

void store_search_handle(struct store_req *r)
{
	struct proto_store_search prog;
	struct proto_store_search_result res = {.status = PROTO_STORE_OK};
	struct store_search q = {.prog = &prog, .now = time(NULL)};
	struct ipc_writer w;
	const char *why;

	if (proto_store_search_decode(&prog, r->data, r->len, &why) < 0) {
		store_reply_bad(r, why);
		return;
	}
	if (store_search_prepare(&q, &r->session->view, &why) < 0) {
		store_search_release(&q);
		proto_store_search_free(&prog);
		store_reply_status(r, PROTO_STORE_BAD, "", why);
		return;
	}
	store_search_run(&q, r->session, (int)prog.uid, &res);
	res.highestmodseq = q.modseq_used ? q.highestmodseq : 0;
	strlcpy_checked(res.text, "Searched", sizeof(res.text));
	ipc_writer_init(&w);
	proto_store_search_result_encode(&res, &w);
	store_send(r->peer, IMSG_STORE_SEARCH_RESULT, r->id, &w, -1);
	free(res.matches);
	store_search_release(&q);
	proto_store_search_free(&prog);
}
