/*
 * test_store_mail.c: the store role's messages, driven through
 * store_request(): SELECT and EXAMINE (\Recent claimed once), FETCH in
 * batches with the message files' descriptors and cached texts, \Seen
 * set by a non-PEEK fetch, STORE with UNCHANGEDSINCE, SEARCH keys, COPY /
 * MOVE with COPYUID, APPEND with APPENDUID and TRYCREATE, EXPUNGE and UID
 * EXPUNGE, UPDATES between two sessions, new mail seen through inotify,
 * QRESYNC.
 */
#include "test_store_harness.h"

#include "store/store_private.h" /* store_folders_close_idle */

#include <time.h>

static const char *const msgs[] = {
    "From: Ann <ann@example.org>\nTo: alice@example.com\nSubject: Lunch plans\n"
    "Date: Tue, 01 Dec 2020 10:00:00 +0000\n\nShall we meet at noon?\n",
    "From: Bob <bob@example.net>\nSubject: Report\nDate: Wed, 02 Dec 2020 11:00:00 +0100\n"
    "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nThe quarterly numbers "
    "are attached.\n",
    "From: Carol <carol@example.org>\nSubject: Hello again\n\nJust saying hi.\n",
    "From: Dan <dan@example.org>\nSubject: Lunch tomorrow\n\nSame place?\n",
    "From: Eve <eve@example.org>\nSubject: Last one\n\nThe end, with a much longer body "
    "than the others have, so that LARGER can tell it apart from them.\n",
};
#define N_MSGS 5

/* Logs session ID in and selects INBOX holding the five messages. */
static void h_inbox(struct harness *h, uint64_t id, int readonly,
                    struct proto_store_select_result *sel)
{
	h_login(h, id, H_USER, STORE_SERVICE_IMAP);
	h_result(h, PROTO_STORE_OK);
	h_select(h, id, "INBOX", readonly, sel);
	assert_int_equal(sel->status, PROTO_STORE_OK);
}

static void h_fill(struct harness *h)
{
	unsigned i;

	assert_int_equal(mkdir_p(H_DIR "/new", 0700), 0);
	assert_int_equal(mkdir_p(H_DIR "/tmp", 0700), 0);
	assert_int_equal(mkdir_p(H_DIR "/cur", 0700), 0);
	for (i = 0; i < N_MSGS; i++)
		h_deliver(h, H_DIR, msgs[i]);
}

static void test_select_recent(void **state)
{
	struct harness *h = *state;
	struct proto_store_select_result sel;

	h_fill(h);
	h_inbox(h, 1, 0, &sel);
	assert_int_equal(sel.exists, N_MSGS);
	assert_int_equal(sel.recent, N_MSGS);
	assert_int_equal(sel.first_unseen, 1);
	assert_int_equal(sel.uidnext, N_MSGS + 1);
	assert_int_equal(sel.readonly, 0);
	assert_string_equal(sel.code, "READ-WRITE");
	assert_true(sel.uidvalidity != 0);
	proto_store_select_result_free(&sel);
	/* \Recent went to the first session */
	h_login(h, 2, H_USER, STORE_SERVICE_IMAP);
	h_result(h, PROTO_STORE_OK);
	h_select(h, 2, "inbox", 1, &sel);
	assert_int_equal(sel.exists, N_MSGS);
	assert_int_equal(sel.recent, 0);
	assert_int_equal(sel.readonly, 1);
	proto_store_select_result_free(&sel);
	h_select(h, 2, "Nowhere", 1, &sel);
	assert_int_equal(sel.status, PROTO_STORE_NO);
	assert_string_equal(sel.code, "NONEXISTENT");
	proto_store_select_result_free(&sel);
	/* a failed SELECT leaves nothing selected */
	h_fetch(h, 2, 0, "1", STORE_WANT_FLAGS, 0, 1);
	{
		struct proto_store_fetch_done d;
		h_done(h, &d);
		assert_int_equal(d.status, PROTO_STORE_NO);
		proto_store_fetch_done_free(&d);
	}
}

static void test_fetch_batches_and_files(void **state)
{
	struct harness *h = *state;
	struct proto_store_select_result sel;
	struct proto_store_fetch_done d;
	struct proto_store_item it;
	unsigned start = 0, seen = 0, k;
	char buf[1024];

	h_fill(h);
	h_inbox(h, 1, 0, &sel);
	proto_store_select_result_free(&sel);
	do {
		unsigned got = 0;
		h_fetch(h, 1, 0, "1:*", STORE_WANT_FLAGS | STORE_WANT_FILE | STORE_WANT_ENVELOPE,
		        start, 2);
		while (h->next < h->n && h->r[h->next].type == IMSG_STORE_FETCH_ITEM) {
			struct h_reply *r = h_item(h, &it);
			ssize_t n;
			assert_int_equal(it.seq, start + got + 1);
			assert_int_equal(it.uid, start + got + 1);
			assert_true(it.flags & STORE_FLAG_RECENT);
			assert_true(r->fd >= 0);
			n = read(r->fd, buf, sizeof(buf) - 1);
			assert_true(n > 0);
			buf[n] = '\0';
			assert_string_equal(buf, msgs[start + got]);
			assert_true(it.envelope[0] == '(');
			assert_int_equal(it.bodystructure[0], '\0');
			proto_store_item_free(&it);
			got++;
		}
		h_done(h, &d);
		assert_int_equal(d.status, PROTO_STORE_OK);
		assert_true(got <= 2);
		start += got;
		seen++;
		k = d.more;
		proto_store_fetch_done_free(&d);
	} while (k);
	assert_int_equal(start, N_MSGS);
	assert_int_equal(seen, 3);
	/* the cache answers the second time, with the same text */
	h_fetch(h, 1, 1, "2", STORE_WANT_ENVELOPE | STORE_WANT_BODYSTRUCTURE | STORE_WANT_HEADERS,
	        0, 10);
	h_item(h, &it);
	assert_int_equal(it.uid, 2);
	assert_non_null(strstr(it.envelope, "\"Report\""));
	assert_non_null(strstr(it.bodystructure, "\"utf-8\""));
	assert_non_null(strstr(it.headers, "Subject: Report\r\n"));
	proto_store_item_free(&it);
	h_done(h, &d);
	proto_store_fetch_done_free(&d);
	/* UID sets: "*" is the highest UID; a range beyond it names nothing */
	h_fetch(h, 1, 1, "100:*", STORE_WANT_FLAGS, 0, 10);
	h_item(h, &it);
	assert_int_equal(it.uid, N_MSGS);
	proto_store_item_free(&it);
	h_done(h, &d);
	proto_store_fetch_done_free(&d);
	h_fetch(h, 1, 1, "200:300", STORE_WANT_FLAGS, 0, 10);
	h_done(h, &d);
	assert_int_equal(d.status, PROTO_STORE_OK);
	proto_store_fetch_done_free(&d);
	h_fetch(h, 1, 0, "1:x", STORE_WANT_FLAGS, 0, 10);
	h_done(h, &d);
	assert_int_equal(d.status, PROTO_STORE_BAD);
	proto_store_fetch_done_free(&d);
	h_none_left(h);
}

static void test_fetch_marks_seen(void **state)
{
	struct harness *h = *state;
	struct proto_store_select_result sel;
	struct proto_store_fetch_done d;
	struct proto_store_item it;

	h_fill(h);
	h_inbox(h, 1, 1, &sel); /* EXAMINE: no \Seen */
	proto_store_select_result_free(&sel);
	h_fetch(h, 1, 0, "1", STORE_WANT_MARK_SEEN, 0, 10);
	h_item(h, &it);
	assert_false(it.flags & STORE_FLAG_SEEN);
	proto_store_item_free(&it);
	h_done(h, &d);
	proto_store_fetch_done_free(&d);
	h_select(h, 1, "INBOX", 0, &sel);
	proto_store_select_result_free(&sel);
	h_fetch(h, 1, 0, "1", STORE_WANT_MARK_SEEN, 0, 10);
	h_item(h, &it);
	assert_true(it.flags & STORE_FLAG_SEEN);
	proto_store_item_free(&it);
	h_done(h, &d);
	proto_store_fetch_done_free(&d);
	assert_int_equal(h_files_with(H_DIR "/cur", ":2,S"), 1);
}

static void test_store_flags(void **state)
{
	struct harness *h = *state;
	struct proto_store_select_result sel;
	struct proto_store_fetch_done d;
	struct proto_store_item it;
	uint64_t modseq;

	h_fill(h);
	h_inbox(h, 1, 0, &sel);
	modseq = sel.highestmodseq;
	proto_store_select_result_free(&sel);
	h_flags(h, 1, 0, "1:2", STORE_FLAGS_ADD, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED, "$Work", 0);
	for (unsigned i = 1; i <= 2; i++) {
		h_item(h, &it);
		assert_int_equal(it.seq, i);
		assert_int_equal(it.flags & STORE_FLAGS_SETTABLE,
		                 STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
		assert_string_equal(it.keywords, "$Work");
		assert_true(it.modseq > modseq);
		proto_store_item_free(&it);
	}
	h_done(h, &d);
	assert_int_equal(d.status, PROTO_STORE_OK);
	proto_store_fetch_done_free(&d);
	assert_int_equal(h_files_with(H_DIR "/cur", ":2,FS"), 2);
	/* the same again changes nothing: no items */
	h_flags(h, 1, 0, "1:2", STORE_FLAGS_ADD, STORE_FLAG_SEEN, "", 0);
	h_done(h, &d);
	proto_store_fetch_done_free(&d);
	/* UNCHANGEDSINCE: 1 and 2 changed since MODSEQ, 3 did not */
	h_flags(h, 1, 1, "1:3", STORE_FLAGS_REPLACE, STORE_FLAG_DELETED, "", modseq);
	h_item(h, &it);
	assert_int_equal(it.uid, 3);
	assert_int_equal(it.flags & STORE_FLAGS_SETTABLE, STORE_FLAG_DELETED);
	proto_store_item_free(&it);
	h_done(h, &d);
	assert_string_equal(d.modified, "1:2");
	proto_store_fetch_done_free(&d);
	h_flags(h, 1, 0, "2", STORE_FLAGS_REMOVE, STORE_FLAG_FLAGGED, "$work", 0);
	h_item(h, &it);
	assert_int_equal(it.flags & STORE_FLAGS_SETTABLE, STORE_FLAG_SEEN);
	assert_string_equal(it.keywords, "");
	proto_store_item_free(&it);
	h_done(h, &d);
	proto_store_fetch_done_free(&d);
	h_none_left(h);
}

/* Runs a search of the N nodes; returns the matches as text. */
static void h_search(struct harness *h, struct proto_store_search_node *nodes, unsigned n, int uid,
                     char *out, size_t size)
{
	struct proto_store_search m = {.uid = (uint32_t)uid, .nodes = nodes, .n_nodes = n};
	struct proto_store_search_result res;
	struct ipc_writer w;
	struct h_reply *r;
	const char *why;
	size_t o = 0;

	ipc_writer_init(&w);
	proto_store_search_encode(&m, &w);
	h_send(h, IMSG_STORE_SEARCH, 1, &w, -1);
	r = h_take(h, IMSG_STORE_SEARCH_RESULT);
	assert_int_equal(proto_store_search_result_decode(&res, r->data, r->len, &why), 0);
	assert_int_equal(res.status, PROTO_STORE_OK);
	out[0] = '\0';
	for (unsigned i = 0; i < res.n_matches; i++)
		o += (size_t)snprintf(out + o, size - o, "%s%u", i ? " " : "", res.matches[i]);
	proto_store_search_result_free(&res);
}

#define LEAF(k, ...)                                                                               \
	{                                                                                          \
		.key = (k), __VA_ARGS__                                                            \
	}

static void test_search_keys(void **state)
{
	struct harness *h = *state;
	struct proto_store_select_result sel;
	struct proto_store_fetch_done d;
	char out[256];

	h_fill(h);
	h_inbox(h, 1, 0, &sel);
	proto_store_select_result_free(&sel);
	h_flags(h, 1, 0, "2,4", STORE_FLAGS_ADD, STORE_FLAG_SEEN, "", 0);
	while (h->r[h->next].type == IMSG_STORE_FETCH_ITEM)
		h->next++;
	h_done(h, &d);
	proto_store_fetch_done_free(&d);
	{
		struct proto_store_search_node n[] = {LEAF(SEARCH_ALL)};
		h_search(h, n, 1, 0, out, sizeof(out));
		assert_string_equal(out, "1 2 3 4 5");
	}
	{
		struct proto_store_search_node n[] = {LEAF(SEARCH_FLAG, .number = STORE_FLAG_SEEN)};
		h_search(h, n, 1, 0, out, sizeof(out));
		assert_string_equal(out, "2 4");
	}
	{
		struct proto_store_search_node n[] = {LEAF(SEARCH_NEW)};
		h_search(h, n, 1, 1, out, sizeof(out));
		assert_string_equal(out, "1 3 5");
	}
	{
		struct proto_store_search_node n[] = {
		    LEAF(SEARCH_HEADER, .field = "Subject", .arg = "lunch")};
		h_search(h, n, 1, 0, out, sizeof(out));
		assert_string_equal(out, "1 4");
	}
	{
		struct proto_store_search_node n[] = {LEAF(SEARCH_BODY, .arg = "QUARTERLY")};
		h_search(h, n, 1, 0, out, sizeof(out));
		assert_string_equal(out, "2");
	}
	{
		struct proto_store_search_node n[] = {LEAF(SEARCH_TEXT, .arg = "carol")};
		h_search(h, n, 1, 0, out, sizeof(out));
		assert_string_equal(out, "3");
	}
	{ /* NOT SEEN AND (OR 1:2 LARGER 120) */
		struct proto_store_search_node n[] = {
		    LEAF(SEARCH_AND, .count = 2), LEAF(SEARCH_NOFLAG, .number = STORE_FLAG_SEEN),
		    LEAF(SEARCH_OR), LEAF(SEARCH_SEQSET, .arg = "1:2"),
		    LEAF(SEARCH_LARGER, .number = 120)};
		h_search(h, n, 5, 0, out, sizeof(out));
		assert_string_equal(out, "1 5");
	}
	{
		struct proto_store_search_node n[] = {LEAF(SEARCH_NOT),
		                                      LEAF(SEARCH_UIDSET, .arg = "2:*")};
		h_search(h, n, 2, 1, out, sizeof(out));
		assert_string_equal(out, "1");
	}
	{ /* SENTON 2 Dec 2020 (in the message's own zone; the
	   * messages without a Date: are sent when they arrived, today) */
		struct proto_store_search_node n[] = {LEAF(SEARCH_SENTON, .number = 1606867200)};
		h_search(h, n, 1, 0, out, sizeof(out));
		assert_string_equal(out, "2");
	}
	{
		struct proto_store_search_node n[] = {LEAF(SEARCH_SINCE, .number = 86400)};
		h_search(h, n, 1, 0, out, sizeof(out));
		assert_string_equal(out, "1 2 3 4 5");
	}
}

static void test_copy_move(void **state)
{
	struct harness *h = *state;
	struct proto_store_select_result sel;
	struct proto_store_updates_result up;
	struct proto_store_copy *m = xcalloc(1, sizeof(*m));
	struct proto_store_result res;
	struct ipc_writer w;
	char code[128];

	h_fill(h);
	h_inbox(h, 1, 0, &sel);
	snprintf(code, sizeof(code), "COPYUID %u 1:2 1:2", 0u);
	proto_store_select_result_free(&sel);
	strcpy(m->set, "1:2");
	strcpy(m->destination, "Archive");
	ipc_writer_init(&w);
	proto_store_copy_encode(m, &w);
	h_send(h, IMSG_STORE_COPY, 1, &w, -1);
	res = h_result(h, PROTO_STORE_OK);
	assert_non_null(strstr(res.code, "COPYUID "));
	assert_non_null(strstr(res.code, " 1:2 1:2"));
	/* MOVE by UID; the expunges come with UPDATES */
	m->uid = 1;
	m->move = 1;
	strcpy(m->set, "4:5");
	ipc_writer_init(&w);
	proto_store_copy_encode(m, &w);
	h_send(h, IMSG_STORE_COPY, 1, &w, -1);
	res = h_result(h, PROTO_STORE_OK);
	assert_non_null(strstr(res.code, " 4:5 3:4"));
	h_updates(h, 1, 1, 0, &up);
	h_updates_result(h, &up);
	assert_int_equal(up.exists, 3);
	assert_int_equal(up.n_expunged, 2);
	assert_int_equal(up.expunged[0], 4);
	assert_int_equal(up.expunged[1], 4);
	proto_store_updates_result_free(&up);
	strcpy(m->destination, "Missing");
	ipc_writer_init(&w);
	proto_store_copy_encode(m, &w);
	h_send(h, IMSG_STORE_COPY, 1, &w, -1);
	res = h_result(h, PROTO_STORE_NO);
	assert_string_equal(res.code, "TRYCREATE");
	h_select(h, 1, "Archive", 1, &sel);
	assert_int_equal(sel.exists, 4);
	proto_store_select_result_free(&sel);
	free(m);
}

static void test_append_expunge(void **state)
{
	struct harness *h = *state;
	static const char text[] = "Subject: appended\r\n\r\nHello\r\n";
	struct proto_store_append a = {.flags = STORE_FLAG_SEEN, .size = sizeof(text) - 1};
	struct proto_store_select_result sel;
	struct proto_store_expunge *x = xcalloc(1, sizeof(*x));
	struct proto_store_updates_result up;
	struct proto_store_fetch_done d;
	struct proto_store_result res;
	struct ipc_writer w;
	char path[] = "/tmp/test_store_append.XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write_all(fd, text, sizeof(text) - 1), 0);
	lseek(fd, 0, SEEK_SET);
	h_fill(h);
	h_inbox(h, 1, 0, &sel);
	proto_store_select_result_free(&sel);
	strcpy(a.mailbox, "Drafts");
	ipc_writer_init(&w);
	proto_store_append_encode(&a, &w);
	h_send(h, IMSG_STORE_APPEND, 1, &w, fd);
	res = h_result(h, PROTO_STORE_OK);
	assert_non_null(strstr(res.code, "APPENDUID "));
	assert_non_null(strstr(res.code, " 1"));
	assert_int_equal(h_files_with(H_DIR "/.Drafts/cur", ":2,S"), 1);
	strcpy(a.mailbox, "Missing");
	ipc_writer_init(&w);
	proto_store_append_encode(&a, &w);
	h_send(h, IMSG_STORE_APPEND, 1, &w, open("/dev/null", O_RDONLY));
	res = h_result(h, PROTO_STORE_NO);
	assert_string_equal(res.code, "TRYCREATE");
	/* EXPUNGE removes every \Deleted message; UID EXPUNGE only those named */
	h_flags(h, 1, 0, "1:3", STORE_FLAGS_ADD, STORE_FLAG_DELETED, "", 0);
	while (h->r[h->next].type == IMSG_STORE_FETCH_ITEM)
		h->next++;
	h_done(h, &d);
	proto_store_fetch_done_free(&d);
	x->uid_only = 1;
	strcpy(x->uids, "2");
	ipc_writer_init(&w);
	proto_store_expunge_encode(x, &w);
	h_send(h, IMSG_STORE_EXPUNGE, 1, &w, -1);
	h_result(h, PROTO_STORE_OK);
	h_updates(h, 1, 1, 1, &up);
	h_updates_result(h, &up);
	assert_string_equal(up.vanished, "2");
	assert_int_equal(up.n_expunged, 0);
	assert_int_equal(up.exists, 4);
	proto_store_updates_result_free(&up);
	x->uid_only = 0;
	x->uids[0] = '\0';
	ipc_writer_init(&w);
	proto_store_expunge_encode(x, &w);
	h_send(h, IMSG_STORE_EXPUNGE, 1, &w, -1);
	h_result(h, PROTO_STORE_OK);
	h_updates(h, 1, 1, 0, &up);
	h_updates_result(h, &up);
	assert_int_equal(up.n_expunged, 2);
	assert_int_equal(up.expunged[0], 1);
	assert_int_equal(up.expunged[1], 1);
	assert_int_equal(up.exists, 2);
	proto_store_updates_result_free(&up);
	free(x);
}

static void test_updates_two_sessions(void **state)
{
	struct harness *h = *state;
	struct proto_store_select_result sel;
	struct proto_store_updates_result up;
	struct proto_store_fetch_done d;
	struct proto_store_item it;

	h_fill(h);
	h_inbox(h, 1, 0, &sel);
	proto_store_select_result_free(&sel);
	h_login(h, 2, H_USER, STORE_SERVICE_IMAP);
	h_result(h, PROTO_STORE_OK);
	h_select(h, 2, "INBOX", 0, &sel);
	proto_store_select_result_free(&sel);
	/* 1 changes flags: 2 hears CHANGED once, 1 does not */
	h_flags(h, 1, 0, "3", STORE_FLAGS_ADD, STORE_FLAG_ANSWERED, "", 0);
	h_item(h, &it);
	proto_store_item_free(&it);
	h_take(h, IMSG_STORE_CHANGED)->id == 2 ? (void)0 : fail();
	h_done(h, &d);
	proto_store_fetch_done_free(&d);
	h_flags(h, 1, 0, "4", STORE_FLAGS_ADD, STORE_FLAG_ANSWERED, "", 0);
	h_item(h, &it);
	proto_store_item_free(&it);
	h_done(h, &d);
	proto_store_fetch_done_free(&d);
	/* 2 asks: the flag changes as items, nothing expunged */
	h_updates(h, 2, 1, 0, &up);
	h_item(h, &it);
	assert_int_equal(it.seq, 3);
	assert_true(it.flags & STORE_FLAG_ANSWERED);
	proto_store_item_free(&it);
	h_item(h, &it);
	assert_int_equal(it.seq, 4);
	proto_store_item_free(&it);
	h_updates_result(h, &up);
	assert_int_equal(up.exists, N_MSGS);
	assert_int_equal(up.n_expunged, 0);
	proto_store_updates_result_free(&up);
	/* a delivery: both hear CHANGED once inotify's events are handled */
	h_deliver(h, H_DIR, "Subject: new\n\nnew mail\n");
	store_watch_flush(h->store);
	assert_int_equal(h_take(h, IMSG_STORE_CHANGED)->id + h_take(h, IMSG_STORE_CHANGED)->id, 3);
	h_none_left(h);
	h_updates(h, 1, 0, 0, &up);
	h_updates_result(h, &up);
	assert_int_equal(up.exists, N_MSGS + 1);
	assert_int_equal(up.recent, N_MSGS + 1); /* 1 selected read-write first */
	proto_store_updates_result_free(&up);
	h_updates(h, 2, 0, 0, &up);
	h_updates_result(h, &up);
	assert_int_equal(up.exists, N_MSGS + 1);
	assert_int_equal(up.recent, 0);
	proto_store_updates_result_free(&up);
	/* another tool removes a file: seen by the next sync */
	{
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "rm -f %s/cur/1700000001.*", H_DIR);
		assert_int_equal(system(cmd), 0);
	}
	store_watch_flush(h->store);
	h->next = h->n;
	h_updates(h, 2, 1, 0, &up);
	h_updates_result(h, &up);
	assert_int_equal(up.n_expunged, 1);
	assert_int_equal(up.expunged[0], 1);
	assert_int_equal(up.exists, N_MSGS);
	proto_store_updates_result_free(&up);
}

static void test_new_mail_event_loop(void **state)
{
	struct harness *h = *state;
	struct proto_store_select_result sel;
	struct timeval limit = {1, 0};

	h_fill(h);
	h_inbox(h, 1, 0, &sel);
	proto_store_select_result_free(&sel);
	h_deliver(h, H_DIR, "Subject: new\n\nnew mail\n");
	/* IDLE must see it within a second: the event loop alone does it */
	event_base_loopexit(h->base, &limit);
	event_base_dispatch(h->base);
	assert_int_equal(h_take(h, IMSG_STORE_CHANGED)->id, 1);
}

static void test_qresync(void **state)
{
	struct harness *h = *state;
	struct proto_store_select_result sel;
	struct proto_store_fetch_done d;
	struct proto_store_expunge x = {0};
	struct proto_store_item it;
	struct ipc_writer w;
	uint32_t uidvalidity;
	uint64_t modseq;

	h_fill(h);
	h_inbox(h, 1, 0, &sel);
	uidvalidity = sel.uidvalidity;
	modseq = sel.highestmodseq;
	proto_store_select_result_free(&sel);
	h_flags(h, 1, 0, "2", STORE_FLAGS_ADD, STORE_FLAG_FLAGGED, "", 0);
	h_item(h, &it);
	proto_store_item_free(&it);
	h_done(h, &d);
	proto_store_fetch_done_free(&d);
	h_flags(h, 1, 0, "4", STORE_FLAGS_ADD, STORE_FLAG_DELETED, "", 0);
	h_item(h, &it);
	proto_store_item_free(&it);
	h_done(h, &d);
	proto_store_fetch_done_free(&d);
	ipc_writer_init(&w);
	proto_store_expunge_encode(&x, &w);
	h_send(h, IMSG_STORE_EXPUNGE, 1, &w, -1);
	h_result(h, PROTO_STORE_OK);
	h_select_req(h, 1, "INBOX", 0, 0, uidvalidity, modseq, "1:5");
	h_item(h, &it);
	assert_int_equal(it.uid, 2);
	assert_true(it.flags & STORE_FLAG_FLAGGED);
	proto_store_item_free(&it);
	h_select_result(h, &sel);
	assert_int_equal(sel.status, PROTO_STORE_OK);
	assert_string_equal(sel.vanished, "4");
	assert_int_equal(sel.exists, N_MSGS - 1);
	proto_store_select_result_free(&sel);
	/* another UIDVALIDITY: no resync */
	h_select_req(h, 1, "INBOX", 0, 0, uidvalidity + 1, modseq, "");
	h_select_result(h, &sel);
	assert_string_equal(sel.vanished, "");
	proto_store_select_result_free(&sel);
	h_none_left(h);
}

/* More expunges than one UPDATES answer may tell: the first answer tells
 * STORE_UPDATES_EXPUNGES_MAX of them (its VANISHED set stays decodable by
 * the session), CHANGED says more wait, the next answer tells the rest. */
static void test_updates_many_expunges(void **state)
{
	struct harness *h = *state;
	struct proto_store_select_result sel;
	struct proto_store_updates_result up;
	const unsigned total = 4096 + 104;
	const char *why;
	unsigned i;

	assert_int_equal(mkdir_p(H_DIR "/new", 0700), 0);
	assert_int_equal(mkdir_p(H_DIR "/tmp", 0700), 0);
	assert_int_equal(mkdir_p(H_DIR "/cur", 0700), 0);
	for (i = 0; i < total; i++)
		h_deliver(h, H_DIR, "Subject: x\n\nx\n");
	h_inbox(h, 1, 0, &sel);
	assert_int_equal(sel.exists, total);
	proto_store_select_result_free(&sel);
	assert_int_equal(system("find " H_DIR "/cur -type f -delete"), 0);
	store_watch_flush(h->store);
	h->next = h->n;
	h_updates(h, 1, 1, 1, &up);
	h_updates_result(h, &up);
	assert_int_equal(up.exists, total - 4096);
	assert_int_equal(up.n_expunged, 0);
	assert_string_equal(up.vanished, "1:4096");
	proto_store_updates_result_free(&up);
	assert_int_equal(h_take(h, IMSG_STORE_CHANGED)->id, 1);
	h_none_left(h);
	h_updates(h, 1, 1, 1, &up);
	h_updates_result(h, &up);
	assert_int_equal(up.exists, 0);
	assert_string_equal(up.vanished, "4097:4200");
	proto_store_updates_result_free(&up);
	h_none_left(h);
	(void)why;
}

/* UID FETCH ... (CHANGEDSINCE m VANISHED) after the index was rebuilt: the
 * rebuilt index remembers no expunge, so every UID of the set missing from
 * the folder is vanished (RFC 7162 3.2.6), as SELECT's QRESYNC says; it
 * used to answer an empty VANISHED and the client kept the message. */
static void test_fetch_vanished_after_rebuild(void **state)
{
	struct harness *h = *state;
	struct proto_store_select_result sel;
	struct proto_store_unselect un = {0};
	struct proto_store_fetch *f = xcalloc(1, sizeof(*f));
	struct proto_store_fetch_done d;
	struct ipc_writer w;
	uint64_t modseq;

	h_fill(h);
	h_inbox(h, 1, 0, &sel);
	modseq = sel.highestmodseq;
	proto_store_select_result_free(&sel);
	ipc_writer_init(&w);
	proto_store_unselect_encode(&un, &w);
	h_send(h, IMSG_STORE_UNSELECT, 1, &w, -1);
	h_result(h, PROTO_STORE_OK);
	store_folders_close_idle(h->store);
	assert_int_equal(unlink(H_DIR "/sealmail.index"), 0);
	assert_int_equal(system("rm " H_DIR "/cur/*U=3,*"), 0);
	h_select(h, 1, "INBOX", 0, &sel);
	assert_int_equal(sel.exists, N_MSGS - 1);
	proto_store_select_result_free(&sel);
	f->uid = 1;
	strlcpy_checked(f->set, "1:*", sizeof(f->set));
	f->want = STORE_WANT_FLAGS;
	f->changedsince = modseq;
	f->vanished = 1;
	f->max = PROTO_STORE_FETCH_BATCH;
	ipc_writer_init(&w);
	proto_store_fetch_encode(f, &w);
	h_send(h, IMSG_STORE_FETCH, 1, &w, -1);
	free(f);
	while (h->next < h->n && h->r[h->next].type == IMSG_STORE_FETCH_ITEM)
		h->next++; /* the flags of the renumbered messages: not the point */
	h_done(h, &d);
	/* 3, and maybe UIDs that never were (the rebuild starts above the
	 * reserved ones): clients ignore those; never a UID still there */
	assert_true(strncmp(d.vanished, "3", 1) == 0 &&
	            (d.vanished[1] == '\0' || d.vanished[1] == ','));
	proto_store_fetch_done_free(&d);
}

/* A COPY that fails part way (message 3's file went away behind the
 * store's back) answers NO and leaves the destination as it was (RFC 9051
 * 6.4.7): the copies of 1 and 2 made before the failure used to stay, to
 * be committed with the destination's next commit. */
static void test_copy_failure_copies_nothing(void **state)
{
	struct harness *h = *state;
	struct proto_store_select_result sel;
	struct proto_store_copy *m = xcalloc(1, sizeof(*m));
	struct ipc_writer w;

	h_fill(h);
	h_inbox(h, 1, 0, &sel);
	proto_store_select_result_free(&sel);
	assert_int_equal(system("rm " H_DIR "/cur/*U=3,*"), 0);
	strcpy(m->set, "1:5");
	strcpy(m->destination, "Archive");
	ipc_writer_init(&w);
	proto_store_copy_encode(m, &w);
	h_send(h, IMSG_STORE_COPY, 1, &w, -1);
	h_result(h, PROTO_STORE_NO);
	free(m);
	assert_int_equal(h_files_with(H_DIR "/.Archive/cur", ",U="), 0);
	h_select(h, 1, "Archive", 1, &sel);
	assert_int_equal(sel.status, PROTO_STORE_OK);
	assert_int_equal(sel.exists, 0);
	proto_store_select_result_free(&sel);
	/* and after the folder is read again from disk */
	h_select(h, 1, "INBOX", 0, &sel);
	proto_store_select_result_free(&sel);
	store_folders_close_idle(h->store);
	h_select(h, 1, "Archive", 1, &sel);
	assert_int_equal(sel.exists, 0);
	proto_store_select_result_free(&sel);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_select_recent, h_setup, h_teardown),
	    cmocka_unit_test_setup_teardown(test_fetch_batches_and_files, h_setup, h_teardown),
	    cmocka_unit_test_setup_teardown(test_fetch_marks_seen, h_setup, h_teardown),
	    cmocka_unit_test_setup_teardown(test_store_flags, h_setup, h_teardown),
	    cmocka_unit_test_setup_teardown(test_search_keys, h_setup, h_teardown),
	    cmocka_unit_test_setup_teardown(test_copy_move, h_setup, h_teardown),
	    cmocka_unit_test_setup_teardown(test_append_expunge, h_setup, h_teardown),
	    cmocka_unit_test_setup_teardown(test_updates_two_sessions, h_setup, h_teardown),
	    cmocka_unit_test_setup_teardown(test_new_mail_event_loop, h_setup, h_teardown),
	    cmocka_unit_test_setup_teardown(test_qresync, h_setup, h_teardown),
	    cmocka_unit_test_setup_teardown(test_updates_many_expunges, h_setup, h_teardown),
	    cmocka_unit_test_setup_teardown(test_fetch_vanished_after_rebuild, h_setup, h_teardown),
	    cmocka_unit_test_setup_teardown(test_copy_failure_copies_nothing, h_setup, h_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
