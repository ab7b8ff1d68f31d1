/*
 * test_proto_store.c: every message of src/proto/store.h survives a round
 * trip (encode a filled struct, decode, compare fields and the bytes
 * encoded again); every decoder refuses each truncation of a valid payload
 * and a trailing octet; counts the payload cannot hold are refused before
 * anything is allocated; search programs that are not exactly one
 * well-formed tree are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../proto_store_kinds.h"
#include "lib/util.h"

static struct proto_store_folder folders2[] = {{"INBOX", STORE_ATTR_HASNOCHILDREN},
                                               {"Sent", STORE_ATTR_SENT | STORE_ATTR_SUBSCRIBED}};
static char vanished[] = "3:5,9";
static char envelope_text[] = "(NIL \"hi\" NIL NIL NIL NIL NIL NIL NIL NIL)";
static char headers_text[] = "Subject: hi\r\n\r\n";
static char arg_a[] = "alice", arg_set[] = "1:3,7";
static uint32_t matches3[] = {2, 5, 900};
static struct proto_store_search_node nodes5[5];

/* A search program: AND(FLAG \Seen, OR(HEADER Subject "alice", UIDSET 1:3,7)). */
static void fill_search(struct proto_store_search *s)
{
	memset(nodes5, 0, sizeof(nodes5));
	nodes5[0].key = SEARCH_AND;
	nodes5[0].count = 2;
	nodes5[1].key = SEARCH_FLAG;
	nodes5[1].number = STORE_FLAG_SEEN;
	nodes5[2].key = SEARCH_OR;
	nodes5[3].key = SEARCH_HEADER;
	strcpy(nodes5[3].field, "Subject");
	nodes5[3].arg = arg_a;
	nodes5[4].key = SEARCH_UIDSET;
	nodes5[4].arg = arg_set;
	s->uid = 1;
	s->nodes = nodes5;
	s->n_nodes = 5;
}

static void fill_results(const char *name, union proto_store_any *m)
{
	if (strcmp(name, "result") == 0) {
		m->result.status = PROTO_STORE_NO;
		strcpy(m->result.code, "IN-USE");
		strcpy(m->result.text, "mailbox in use");
	} else if (strcmp(name, "list_result") == 0) {
		strcpy(m->list_result.text, "done");
		m->list_result.folders = folders2;
		m->list_result.n_folders = 2;
	} else if (strcmp(name, "status_result") == 0) {
		m->status_result.messages = 10;
		m->status_result.recent = 1;
		m->status_result.uidvalidity = 1700000000;
		m->status_result.size = 1ull << 40;
		m->status_result.highestmodseq = 77;
	} else if (strcmp(name, "select_result") == 0) {
		strcpy(m->select_result.code, "READ-WRITE");
		m->select_result.exists = 4;
		m->select_result.first_unseen = 2;
		m->select_result.uidvalidity = 17;
		m->select_result.uidnext = 99;
		strcpy(m->select_result.keywords, "$Forwarded Junk");
		m->select_result.vanished = vanished;
	} else if (strcmp(name, "item") == 0) {
		m->item.seq = 3;
		m->item.uid = 42;
		m->item.flags = STORE_FLAG_SEEN | STORE_FLAG_RECENT;
		strcpy(m->item.keywords, "$Forwarded");
		m->item.internaldate = -86400;
		m->item.tz_minutes = -330;
		m->item.size = 1234;
		m->item.file_size = 1200;
		m->item.envelope = envelope_text;
		m->item.headers = headers_text;
	} else if (strcmp(name, "fetch_done") == 0) {
		m->fetch_done.more = 1;
		m->fetch_done.modified = vanished;
	} else if (strcmp(name, "search_result") == 0) {
		m->search_result.highestmodseq = 5;
		m->search_result.matches = matches3;
		m->search_result.n_matches = 3;
	} else if (strcmp(name, "updates_result") == 0) {
		m->updates_result.exists = 7;
		m->updates_result.expunged = matches3;
		m->updates_result.n_expunged = 2;
		m->updates_result.vanished = vanished;
	}
}

/* A filled message of kind NAME into M. */
static void fill(const char *name, union proto_store_any *m)
{
	memset(m, 0, sizeof(*m));
	fill_results(name, m);
	if (strcmp(name, "login") == 0) {
		strcpy(m->login.user, "alice@local.test");
		m->login.service = STORE_SERVICE_POP3;
	} else if (strcmp(name, "list") == 0) {
		m->list.subscribed_only = 1;
	} else if (strcmp(name, "mailbox") == 0) {
		m->mailbox.op = STORE_MAILBOX_RENAME;
		strcpy(m->mailbox.name, "Old");
		strcpy(m->mailbox.new_name, "New/Sub");
	} else if (strcmp(name, "status") == 0) {
		strcpy(m->status.name, "Sent");
	} else if (strcmp(name, "select") == 0) {
		strcpy(m->select.name, "INBOX");
		m->select.pop3 = 1;
		m->select.qresync_uidvalidity = 17;
		m->select.qresync_modseq = 1ull << 33;
		strcpy(m->select.qresync_known_uids, "1:100");
	} else if (strcmp(name, "unselect") == 0) {
		m->unselect.expunge = 1;
	} else if (strcmp(name, "fetch") == 0) {
		strcpy(m->fetch.set, "1:*");
		m->fetch.want = STORE_WANT_FLAGS | STORE_WANT_SIZE | STORE_WANT_FILE;
		m->fetch.start = 512;
		m->fetch.max = PROTO_STORE_FETCH_BATCH;
	} else if (strcmp(name, "flags") == 0) {
		m->flags.uid = 1;
		strcpy(m->flags.set, "4,6");
		m->flags.op = STORE_FLAGS_ADD;
		m->flags.flags = STORE_FLAG_DELETED;
		strcpy(m->flags.keywords, "Junk");
		m->flags.max = 1;
	} else if (strcmp(name, "search") == 0) {
		fill_search(&m->search);
	} else if (strcmp(name, "copy") == 0) {
		strcpy(m->copy.set, "1:2");
		strcpy(m->copy.destination, "Trash");
		m->copy.move = 1;
	} else if (strcmp(name, "append") == 0) {
		strcpy(m->append.mailbox, "Drafts");
		m->append.flags = STORE_FLAG_DRAFT;
		m->append.internaldate = 1700000000;
		m->append.tz_minutes = 60;
		m->append.size = 999;
	} else if (strcmp(name, "expunge") == 0) {
		m->expunge.uid_only = 1;
		strcpy(m->expunge.uids, "4:6");
	} else if (strcmp(name, "updates") == 0) {
		m->updates.expunges = 1;
	}
}

/* A few fields of each decoded message, beyond the bytes encoded again. */
static void check_fields(const char *name, const union proto_store_any *b)
{
	if (strcmp(name, "list_result") == 0) {
		assert_int_equal(b->list_result.n_folders, 2);
		assert_string_equal(b->list_result.folders[1].name, "Sent");
	} else if (strcmp(name, "select_result") == 0) {
		assert_string_equal(b->select_result.vanished, vanished);
		assert_int_equal(b->select_result.uidnext, 99);
	} else if (strcmp(name, "item") == 0) {
		assert_int_equal(b->item.internaldate, -86400);
		assert_int_equal(b->item.tz_minutes, -330);
		assert_string_equal(b->item.envelope, envelope_text);
		assert_string_equal(b->item.body, "");
	} else if (strcmp(name, "search") == 0) {
		assert_int_equal(b->search.n_nodes, 5);
		assert_string_equal(b->search.nodes[3].field, "Subject");
		assert_string_equal(b->search.nodes[4].arg, arg_set);
		assert_string_equal(b->search.nodes[0].arg, "");
	} else if (strcmp(name, "search_result") == 0) {
		assert_int_equal(b->search_result.n_matches, 3);
		assert_int_equal(b->search_result.matches[2], 900);
	} else if (strcmp(name, "select") == 0) {
		assert_string_equal(b->select.qresync_known_uids, "1:100");
		assert_int_equal(b->select.qresync_modseq, 1ull << 33);
	}
}

static union proto_store_any a, b;

static void kind_free(const struct proto_store_kind *k, union proto_store_any *m)
{
	if (k->free != NULL)
		k->free(m);
}

static void test_round_trip_every_message(void **state)
{
	for (size_t i = 0; i < PROTO_STORE_N_KINDS; i++) {
		const struct proto_store_kind *k = &proto_store_kinds[i];
		struct ipc_writer w, again;
		const char *why = NULL;

		fill(k->name, &a);
		ipc_writer_init(&w);
		k->encode(&a, &w);
		if (k->decode(&b, w.buf, w.len, &why) != 0)
			fail_msg("%s: %s", k->name, why);
		check_fields(k->name, &b);
		ipc_writer_init(&again);
		k->encode(&b, &again);
		assert_int_equal(again.len, w.len);
		assert_memory_equal(again.buf, w.buf, w.len);
		ipc_writer_free(&again);
		kind_free(k, &b);
		ipc_writer_free(&w);
	}
}

/* 1 when the SIZE octets at P are all zero (a refused decode's message). */
static int all_zero(const void *p, size_t size)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < size; i++)
		if (c[i] != 0)
			return 0;
	return 1;
}

/* Decodes a copy of the first LEN octets of W (ASan sees any read past
 * its end) and expects a refusal that leaves nothing behind. */
static void expect_refused(const struct proto_store_kind *k, const struct ipc_writer *w, size_t len,
                           int extra)
{
	unsigned char *copy = xmalloc(len + 1);
	const char *why = NULL;

	memcpy(copy, w->buf, len < w->len ? len : w->len);
	if (extra)
		copy[len - 1] = 'x';
	if (k->decode(&b, copy, len, &why) != -1)
		fail_msg("%s: a payload of %zu octets (of %zu) was taken", k->name, len, w->len);
	assert_non_null(why);
	assert_true(all_zero(&b, k->size));
	free(copy);
}

static void test_truncations_and_trailing_bytes_refused(void **state)
{
	for (size_t i = 0; i < PROTO_STORE_N_KINDS; i++) {
		const struct proto_store_kind *k = &proto_store_kinds[i];
		struct ipc_writer w;

		fill(k->name, &a);
		ipc_writer_init(&w);
		k->encode(&a, &w);
		for (size_t cut = 0; cut < w.len; cut++)
			expect_refused(k, &w, cut, 0);
		expect_refused(k, &w, w.len + 1, 1);
		ipc_writer_free(&w);
	}
}

/* Counts the payload cannot hold are refused with nothing allocated. */
static void test_counts_bounded_by_payload(void **state)
{
	struct proto_store_list_result l;
	struct proto_store_search_result s;
	struct proto_store_updates_result u;
	struct proto_store_search p;
	struct ipc_writer w;
	const char *why;

	ipc_writer_init(&w);
	ipc_put_u32(&w, PROTO_STORE_OK);
	ipc_put_str(&w, "");
	ipc_put_u32(&w, 65536);
	ipc_put_str(&w, "INBOX");
	ipc_put_u32(&w, 0);
	assert_int_equal(proto_store_list_result_decode(&l, w.buf, w.len, &why), -1);
	assert_null(l.folders);
	ipc_writer_free(&w);

	ipc_writer_init(&w);
	ipc_put_u32(&w, PROTO_STORE_OK);
	ipc_put_str(&w, "");
	ipc_put_str(&w, "");
	ipc_put_u64(&w, 0);
	ipc_put_u32(&w, 0xffffffffu);
	ipc_put_u32(&w, 1);
	assert_int_equal(proto_store_search_result_decode(&s, w.buf, w.len, &why), -1);
	assert_null(s.matches);
	ipc_writer_free(&w);

	ipc_writer_init(&w);
	ipc_put_u32(&w, 1);
	ipc_put_u32(&w, 0);
	ipc_put_u64(&w, 0);
	ipc_put_u32(&w, 3);
	ipc_put_u32(&w, 1);
	ipc_put_str(&w, "");
	assert_int_equal(proto_store_updates_result_decode(&u, w.buf, w.len, &why), -1);
	assert_null(u.expunged);
	ipc_writer_free(&w);

	ipc_writer_init(&w);
	ipc_put_u32(&w, 0);
	ipc_put_u32(&w, PROTO_STORE_SEARCH_NODES + 1);
	for (int i = 0; i < 2000; i++)
		ipc_put_u32(&w, 0);
	assert_int_equal(proto_store_search_decode(&p, w.buf, w.len, &why), -1);
	assert_null(p.nodes);
	ipc_writer_free(&w);
}

/* Encodes the program of N nodes KEYS (AND with COUNT 2, leaves ALL) and
 * returns what the decoder says. */
static int decode_program(const uint32_t *keys, const uint32_t *counts, unsigned n)
{
	struct proto_store_search_node nodes[8];
	struct proto_store_search s = {0, nodes, n}, d;
	struct ipc_writer w;
	const char *why = NULL;
	int ret;

	memset(nodes, 0, sizeof(nodes));
	for (unsigned i = 0; i < n; i++) {
		nodes[i].key = keys[i];
		nodes[i].count = counts[i];
	}
	ipc_writer_init(&w);
	proto_store_search_encode(&s, &w);
	ret = proto_store_search_decode(&d, w.buf, w.len, &why);
	if (ret == 0)
		proto_store_search_free(&d);
	else
		assert_null(d.nodes);
	ipc_writer_free(&w);
	return ret;
}

static void test_search_trees(void **state)
{
	const uint32_t zero[8] = {0};
	const uint32_t and2[8] = {2, 0, 0, 0, 0, 0, 0, 0};
	const uint32_t and3[8] = {3, 0, 0, 0, 0, 0, 0, 0};
	const uint32_t and_or[] = {SEARCH_AND, SEARCH_ALL, SEARCH_OR, SEARCH_ALL, SEARCH_NEW};
	const uint32_t leaf[] = {SEARCH_ALL};
	const uint32_t two_leaves[] = {SEARCH_ALL, SEARCH_OLD};
	const uint32_t or_one[] = {SEARCH_OR, SEARCH_ALL};
	const uint32_t not_two[] = {SEARCH_NOT, SEARCH_ALL, SEARCH_ALL};
	const uint32_t not_none[] = {SEARCH_NOT};
	const uint32_t and_leaf[] = {SEARCH_AND, SEARCH_ALL, SEARCH_ALL};
	const uint32_t bad_key[] = {SEARCH_YOUNGER + 1};
	const uint32_t leaf_count[] = {SEARCH_ALL};
	const uint32_t one[8] = {1};

	assert_int_equal(decode_program(leaf, zero, 1), 0);
	assert_int_equal(decode_program(and_or, and2, 5), 0);
	assert_int_equal(decode_program(and_leaf, and2, 3), 0);
	assert_int_equal(decode_program(and_leaf, and3, 3), -1);   /* AND owes a third subtree */
	assert_int_equal(decode_program(two_leaves, zero, 2), -1); /* two trees */
	assert_int_equal(decode_program(or_one, zero, 2), -1);
	assert_int_equal(decode_program(not_two, zero, 3), -1);
	assert_int_equal(decode_program(not_none, zero, 1), -1);
	assert_int_equal(decode_program(bad_key, zero, 1), -1);
	assert_int_equal(decode_program(leaf_count, one, 1), -1); /* a count on a leaf */
	assert_int_equal(decode_program(leaf, zero, 0), -1);      /* no program */
}

/* A node's fields must fit its key. */
static void test_search_node_fields(void **state)
{
	struct proto_store_search s, d;
	struct proto_store_search_node node;
	struct ipc_writer w;
	const char *why;
	struct {
		uint32_t key;
		uint64_t number;
		const char *field, *arg;
		int ok;
	} cases[] = {
	    {SEARCH_FLAG, STORE_FLAG_DELETED, "", "", 0},
	    {SEARCH_FLAG, STORE_FLAG_DELETED | STORE_FLAG_SEEN, "", "", -1},
	    {SEARCH_NOFLAG, 0, "", "", -1},
	    {SEARCH_FLAG, STORE_FLAG_RECENT << 1, "", "", -1},
	    {SEARCH_HEADER, 0, "From", "", 0},
	    {SEARCH_HEADER, 0, "", "x", -1},
	    {SEARCH_BODY, 0, "From", "x", -1},
	    {SEARCH_KEYWORD, 0, "", "", -1},
	    {SEARCH_UIDSET, 0, "", "1:*", 0},
	    {SEARCH_LARGER, 1000, "", "", 0},
	    {SEARCH_ALL, 5, "", "", -1},
	    {SEARCH_ALL, 0, "", "x", -1},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&node, 0, sizeof(node));
		node.key = cases[i].key;
		node.number = cases[i].number;
		strcpy(node.field, cases[i].field);
		node.arg = (char *)cases[i].arg;
		s = (struct proto_store_search){1, &node, 1};
		ipc_writer_init(&w);
		proto_store_search_encode(&s, &w);
		if (proto_store_search_decode(&d, w.buf, w.len, &why) != cases[i].ok)
			fail_msg("case %zu", i);
		proto_store_search_free(&d);
		ipc_writer_free(&w);
	}
}

/* The largest allowed program (a chain of NOTs) is taken, one more node
 * is not. */
static void test_search_node_limit(void **state)
{
	struct proto_store_search_node *nodes;
	struct proto_store_search s, d;
	struct ipc_writer w;
	const char *why;

	nodes = xcalloc(PROTO_STORE_SEARCH_NODES + 1, sizeof(nodes[0]));
	for (unsigned n = PROTO_STORE_SEARCH_NODES; n <= PROTO_STORE_SEARCH_NODES + 1; n++) {
		for (unsigned i = 0; i < n; i++)
			nodes[i].key = i + 1 < n ? SEARCH_NOT : SEARCH_ALL;
		s = (struct proto_store_search){0, nodes, n};
		ipc_writer_init(&w);
		proto_store_search_encode(&s, &w);
		assert_int_equal(proto_store_search_decode(&d, w.buf, w.len, &why),
		                 n == PROTO_STORE_SEARCH_NODES ? 0 : -1);
		proto_store_search_free(&d);
		ipc_writer_free(&w);
	}
	free(nodes);
}

/* Spoils one field of the filled message of kind NAME (case CASE). */
static int spoil(const char *name, int which, union proto_store_any *m)
{
	if (strcmp(name, "result") == 0 && which == 0)
		m->result.status = PROTO_STORE_BAD + 1;
	else if (strcmp(name, "login") == 0 && which == 0)
		m->login.service = STORE_SERVICE_POP3 + 1;
	else if (strcmp(name, "login") == 0 && which == 1)
		m->login.user[0] = '\0';
	else if (strcmp(name, "mailbox") == 0 && which == 0)
		m->mailbox.op = STORE_MAILBOX_CREATE; /* with a new name */
	else if (strcmp(name, "select") == 0 && which == 0)
		m->select.pop3 = 2;
	else if (strcmp(name, "fetch") == 0 && which == 0)
		m->fetch.max = PROTO_STORE_FETCH_BATCH + 1;
	else if (strcmp(name, "fetch") == 0 && which == 1)
		m->fetch.max = 0;
	else if (strcmp(name, "fetch") == 0 && which == 2)
		m->fetch.want = STORE_WANT_FILE_UNLESS_HEADERS << 1;
	else if (strcmp(name, "item") == 0 && which == 0)
		m->item.tz_minutes = 24 * 60;
	else if (strcmp(name, "item") == 0 && which == 1)
		m->item.uid = 0;
	else if (strcmp(name, "flags") == 0 && which == 0)
		m->flags.flags = STORE_FLAG_RECENT;
	else if (strcmp(name, "search_result") == 0 && which == 0)
		matches3[1] = 1; /* not ascending */
	else if (strcmp(name, "expunge") == 0 && which == 0)
		m->expunge.uids[0] = '\0';
	else if (strcmp(name, "select_result") == 0 && which == 0)
		m->select_result.first_unseen = 5;
	else
		return 0;
	return 1;
}

static void test_out_of_range_values_refused(void **state)
{
	unsigned spoiled = 0;

	for (size_t i = 0; i < PROTO_STORE_N_KINDS; i++) {
		const struct proto_store_kind *k = &proto_store_kinds[i];

		for (int which = 0;; which++) {
			struct ipc_writer w;
			const char *why = NULL;

			fill(k->name, &a);
			if (!spoil(k->name, which, &a))
				break;
			ipc_writer_init(&w);
			k->encode(&a, &w);
			if (k->decode(&b, w.buf, w.len, &why) != -1)
				fail_msg("%s: spoiled field %d was taken", k->name, which);
			assert_true(all_zero(&b, k->size));
			ipc_writer_free(&w);
			matches3[1] = 5;
			spoiled++;
		}
	}
	assert_int_equal(spoiled, 14);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_every_message),
	    cmocka_unit_test(test_truncations_and_trailing_bytes_refused),
	    cmocka_unit_test(test_counts_bounded_by_payload),
	    cmocka_unit_test(test_search_trees),
	    cmocka_unit_test(test_search_node_fields),
	    cmocka_unit_test(test_search_node_limit),
	    cmocka_unit_test(test_out_of_range_values_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
