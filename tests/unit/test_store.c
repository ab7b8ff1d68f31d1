/*
 * test_store.c: the store role's users and folders, driven through
 * store_request() with typed messages: LOGIN (the Maildir and special
 * folders made, sessions per user bounded, requests before login refused,
 * malformed requests answered BAD), LOGOUT, LIST with its attributes and
 * LSUB, CREATE / RENAME / DELETE with their refusals, folder names,
 * STATUS, and POP3's exclusive SELECT.
 */
#include "test_store_harness.h"

static void test_login_creates_mailbox(void **state)
{
	struct harness *h = *state;
	struct stat st;

	h_login(h, 1, "Alice@Example.COM", STORE_SERVICE_IMAP);
	h_result(h, PROTO_STORE_OK);
	assert_int_equal(stat(H_DIR "/cur", &st), 0);
	assert_int_equal(stat(H_DIR "/.Sent/cur", &st), 0);
	assert_int_equal(stat(H_DIR "/.Sent/maildirfolder", &st), 0);
	assert_int_equal(stat(H_DIR "/.Archive/new", &st), 0);
	assert_int_equal(stat(H_DIR "/subscriptions", &st), 0);
	h_none_left(h);
}

static void test_login_limits_and_logout(void **state)
{
	struct harness *h = *state;
	struct proto_store_result res;
	struct ipc_writer w;

	for (uint64_t id = 1; id <= 3; id++) {
		h_login(h, id, H_USER, STORE_SERVICE_IMAP);
		h_result(h, PROTO_STORE_OK);
	}
	h_login(h, 4, H_USER, STORE_SERVICE_POP3);
	res = h_result(h, PROTO_STORE_NO);
	assert_string_equal(res.code, "LIMIT");
	/* another user is not limited by alice's sessions */
	h_login(h, 5, "bob@example.com", STORE_SERVICE_IMAP);
	h_result(h, PROTO_STORE_OK);
	/* LOGOUT frees a place, and has no answer */
	ipc_writer_init(&w);
	h_send(h, IMSG_STORE_LOGOUT, 2, &w, -1);
	h_none_left(h);
	h_login(h, 4, H_USER, STORE_SERVICE_IMAP);
	h_result(h, PROTO_STORE_OK);
	/* the session that logged out is not logged in any more */
	h_mailbox(h, 2, STORE_MAILBOX_CREATE, "X", "");
	h_result(h, PROTO_STORE_NO);
	/* a peer that goes away ends all its sessions */
	store_peer_free(&h->peer);
	h->peer = store_peer_new(h->store, h_capture, h);
	h_login(h, 1, H_USER, STORE_SERVICE_IMAP);
	h_result(h, PROTO_STORE_OK);
}

static void test_refusals_before_login_and_bad(void **state)
{
	struct harness *h = *state;
	struct proto_store_list_result l;
	struct proto_store_result res;
	unsigned char junk[3] = {1, 2, 3};

	h_list(h, 9, 0, &l);
	assert_int_equal(l.status, PROTO_STORE_NO);
	proto_store_list_result_free(&l);
	store_request(h->peer, IMSG_STORE_LOGIN, 9, junk, sizeof(junk), -1);
	h_result(h, PROTO_STORE_BAD);
	h_login(h, 9, "no-at-sign", STORE_SERVICE_IMAP);
	h_result(h, PROTO_STORE_NO);
	h_login(h, 9, ".hidden@example.com", STORE_SERVICE_IMAP);
	h_result(h, PROTO_STORE_NO);
	h_login(h, 9, H_USER, STORE_SERVICE_IMAP);
	h_result(h, PROTO_STORE_OK);
	store_request(h->peer, IMSG_STORE_MAILBOX, 9, junk, sizeof(junk), -1);
	h_result(h, PROTO_STORE_BAD);
	/* FETCH with nothing selected */
	h_fetch(h, 9, 0, "1:*", STORE_WANT_FLAGS, 0, 10);
	{
		struct proto_store_fetch_done d;
		h_done(h, &d);
		assert_int_equal(d.status, PROTO_STORE_NO);
		proto_store_fetch_done_free(&d);
	}
	/* an unknown type gets nothing */
	store_request(h->peer, 9999, 9, NULL, 0, -1);
	h_none_left(h);
	res = (struct proto_store_result){0};
	(void)res;
}

static void test_list_attributes(void **state)
{
	struct harness *h = *state;
	struct proto_store_list_result l;

	h_login(h, 1, H_USER, STORE_SERVICE_IMAP);
	h_result(h, PROTO_STORE_OK);
	h_mailbox(h, 1, STORE_MAILBOX_CREATE, "Work/Projects", "");
	h_result(h, PROTO_STORE_OK);
	h_mailbox(h, 1, STORE_MAILBOX_CREATE, "Work-Old", "");
	h_result(h, PROTO_STORE_OK);
	h_mailbox(h, 1, STORE_MAILBOX_CREATE, "Caf\xc3\xa9", "");
	h_result(h, PROTO_STORE_OK);
	h_list(h, 1, 0, &l);
	assert_int_equal(l.status, PROTO_STORE_OK);
	assert_string_equal(l.folders[0].name, "INBOX");
	assert_int_equal(h_attrs(&l, "INBOX"), STORE_ATTR_HASNOCHILDREN | STORE_ATTR_SUBSCRIBED);
	assert_int_equal(h_attrs(&l, "Sent"),
	                 STORE_ATTR_HASNOCHILDREN | STORE_ATTR_SUBSCRIBED | STORE_ATTR_SENT);
	assert_int_equal(h_attrs(&l, "Trash") & STORE_ATTR_TRASH, STORE_ATTR_TRASH);
	assert_int_equal(h_attrs(&l, "Junk") & STORE_ATTR_JUNK, STORE_ATTR_JUNK);
	assert_int_equal(h_attrs(&l, "Work"), STORE_ATTR_HASCHILDREN);
	assert_int_equal(h_attrs(&l, "Work/Projects"), STORE_ATTR_HASNOCHILDREN);
	assert_int_equal(h_attrs(&l, "Work-Old"), STORE_ATTR_HASNOCHILDREN);
	assert_int_equal(h_attrs(&l, "Caf\xc3\xa9"), STORE_ATTR_HASNOCHILDREN);
	proto_store_list_result_free(&l);
	/* on disk in modified UTF-7 */
	assert_true(access(H_DIR "/.Caf&AOk-/cur", F_OK) == 0);
	assert_true(access(H_DIR "/.Work.Projects/cur", F_OK) == 0);
	/* subscriptions */
	h_mailbox(h, 1, STORE_MAILBOX_SUBSCRIBE, "Work/Projects", "");
	h_result(h, PROTO_STORE_OK);
	h_mailbox(h, 1, STORE_MAILBOX_SUBSCRIBE, "Gone", "");
	h_result(h, PROTO_STORE_OK);
	h_mailbox(h, 1, STORE_MAILBOX_UNSUBSCRIBE, "Drafts", "");
	h_result(h, PROTO_STORE_OK);
	h_list(h, 1, 1, &l);
	assert_int_equal(h_attrs(&l, "Work/Projects"),
	                 STORE_ATTR_HASNOCHILDREN | STORE_ATTR_SUBSCRIBED);
	assert_int_equal(h_attrs(&l, "Gone"),
	                 STORE_ATTR_NONEXISTENT | STORE_ATTR_NOSELECT | STORE_ATTR_SUBSCRIBED);
	assert_int_equal(h_attrs(&l, "Drafts"), -1);
	assert_int_equal(h_attrs(&l, "Work-Old"), -1);
	proto_store_list_result_free(&l);
}

static void test_parent_only_level(void **state)
{
	struct harness *h = *state;
	struct proto_store_list_result l;

	h_login(h, 1, H_USER, STORE_SERVICE_IMAP);
	h_result(h, PROTO_STORE_OK);
	/* another tool made .A.B without .A */
	assert_int_equal(mkdir_p(H_DIR "/.A.B/cur", 0700), 0);
	h_list(h, 1, 0, &l);
	assert_int_equal(h_attrs(&l, "A"),
	                 STORE_ATTR_NOSELECT | STORE_ATTR_NONEXISTENT | STORE_ATTR_HASCHILDREN);
	assert_int_equal(h_attrs(&l, "A/B"), STORE_ATTR_HASNOCHILDREN);
	proto_store_list_result_free(&l);
}

static void test_names_refused(void **state)
{
	struct harness *h = *state;
	static const char *const bad[] = {"a.b", "a//b", "/a",        "a/",      "x*",
	                                  "y%",  "..",   "tab\there", "\xff\xfe"};
	struct proto_store_result res;
	size_t i;

	h_login(h, 1, H_USER, STORE_SERVICE_IMAP);
	h_result(h, PROTO_STORE_OK);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		h_mailbox(h, 1, STORE_MAILBOX_CREATE, bad[i], "");
		if (strcmp(bad[i], "a/") == 0) { /* "foo/" creates foo (RFC 9051 6.3.4) */
			h_result(h, PROTO_STORE_OK);
			continue;
		}
		res = h_result(h, PROTO_STORE_NO);
		(void)res;
	}
	h_mailbox(h, 1, STORE_MAILBOX_CREATE, "", ""); /* the decoder's to refuse */
	h_result(h, PROTO_STORE_BAD);
	h_mailbox(h, 1, STORE_MAILBOX_CREATE, "inbox", "");
	res = h_result(h, PROTO_STORE_NO);
	assert_string_equal(res.code, "ALREADYEXISTS");
	h_mailbox(h, 1, STORE_MAILBOX_CREATE, "Sent", "");
	res = h_result(h, PROTO_STORE_NO);
	assert_string_equal(res.code, "ALREADYEXISTS");
}

static void test_rename_delete(void **state)
{
	struct harness *h = *state;
	struct proto_store_list_result l;
	struct proto_store_result res;

	h_login(h, 1, H_USER, STORE_SERVICE_IMAP);
	h_result(h, PROTO_STORE_OK);
	h_mailbox(h, 1, STORE_MAILBOX_CREATE, "A/B/C", "");
	h_result(h, PROTO_STORE_OK);
	h_mailbox(h, 1, STORE_MAILBOX_RENAME, "A", "Z");
	h_result(h, PROTO_STORE_OK);
	h_list(h, 1, 0, &l);
	assert_int_equal(h_attrs(&l, "A"), -1);
	assert_int_equal(h_attrs(&l, "Z"), STORE_ATTR_HASCHILDREN);
	assert_int_equal(h_attrs(&l, "Z/B"), STORE_ATTR_HASCHILDREN);
	assert_int_equal(h_attrs(&l, "Z/B/C"), STORE_ATTR_HASNOCHILDREN);
	proto_store_list_result_free(&l);
	h_mailbox(h, 1, STORE_MAILBOX_RENAME, "Nope", "Q");
	res = h_result(h, PROTO_STORE_NO);
	assert_string_equal(res.code, "NONEXISTENT");
	h_mailbox(h, 1, STORE_MAILBOX_RENAME, "Z", "Sent");
	res = h_result(h, PROTO_STORE_NO);
	assert_string_equal(res.code, "ALREADYEXISTS");
	h_mailbox(h, 1, STORE_MAILBOX_RENAME, "Z", "Z/B/C/D");
	h_result(h, PROTO_STORE_NO);
	h_mailbox(h, 1, STORE_MAILBOX_DELETE, "Z/B", "");
	res = h_result(h, PROTO_STORE_NO);
	assert_string_equal(res.code, "HASCHILDREN");
	h_mailbox(h, 1, STORE_MAILBOX_DELETE, "Z/B/C", "");
	h_result(h, PROTO_STORE_OK);
	h_mailbox(h, 1, STORE_MAILBOX_DELETE, "Z/B/C", "");
	res = h_result(h, PROTO_STORE_NO);
	assert_string_equal(res.code, "NONEXISTENT");
	h_mailbox(h, 1, STORE_MAILBOX_DELETE, "INBOX", "");
	h_result(h, PROTO_STORE_NO);
	assert_true(access(H_DIR "/.Z.B.C", F_OK) < 0);
	/* nothing left over from the delete */
	assert_int_equal(h_files_with(H_DIR, "deleted"), 0);
}

static void test_rename_inbox(void **state)
{
	struct harness *h = *state;
	struct proto_store_select_result sel;

	h_login(h, 1, H_USER, STORE_SERVICE_IMAP);
	h_result(h, PROTO_STORE_OK);
	h_deliver(h, H_DIR, "Subject: one\n\nbody\n");
	h_deliver(h, H_DIR, "Subject: two\n\nbody\n");
	h_mailbox(h, 1, STORE_MAILBOX_RENAME, "INBOX", "Old");
	h_result(h, PROTO_STORE_OK);
	h_select(h, 1, "Old", 1, &sel);
	assert_int_equal(sel.status, PROTO_STORE_OK);
	assert_int_equal(sel.exists, 2);
	proto_store_select_result_free(&sel);
	h_select(h, 1, "INBOX", 1, &sel);
	assert_int_equal(sel.exists, 0);
	proto_store_select_result_free(&sel);
}

static void test_status(void **state)
{
	struct harness *h = *state;
	struct proto_store_status m;
	struct proto_store_status_result res;
	struct ipc_writer w;
	struct h_reply *r;
	const char *why;

	h_login(h, 1, H_USER, STORE_SERVICE_IMAP);
	h_result(h, PROTO_STORE_OK);
	h_deliver(h, H_DIR, "Subject: one\n\nbody\n");
	h_deliver(h, H_DIR, "Subject: two\n\nlonger body\n");
	strcpy(m.name, "inbox");
	ipc_writer_init(&w);
	proto_store_status_encode(&m, &w);
	h_send(h, IMSG_STORE_STATUS, 1, &w, -1);
	r = h_take(h, IMSG_STORE_STATUS_RESULT);
	assert_int_equal(proto_store_status_result_decode(&res, r->data, r->len, &why), 0);
	assert_int_equal(res.status, PROTO_STORE_OK);
	assert_int_equal(res.messages, 2);
	assert_int_equal(res.unseen, 2);
	assert_int_equal(res.recent, 2);
	assert_int_equal(res.uidnext, 3);
	/* CRLF sizes: a CR more per line than the LF files */
	assert_int_equal(res.size, 19 + 3 + 26 + 3);
	strcpy(m.name, "Missing");
	ipc_writer_init(&w);
	proto_store_status_encode(&m, &w);
	h_send(h, IMSG_STORE_STATUS, 1, &w, -1);
	r = h_take(h, IMSG_STORE_STATUS_RESULT);
	assert_int_equal(proto_store_status_result_decode(&res, r->data, r->len, &why), 0);
	assert_int_equal(res.status, PROTO_STORE_NO);
	assert_string_equal(res.code, "NONEXISTENT");
}

static void test_pop3_exclusive(void **state)
{
	struct harness *h = *state;
	struct proto_store_select_result sel;

	h_login(h, 1, H_USER, STORE_SERVICE_POP3);
	h_result(h, PROTO_STORE_OK);
	h_login(h, 2, H_USER, STORE_SERVICE_POP3);
	h_result(h, PROTO_STORE_OK);
	h_login(h, 3, H_USER, STORE_SERVICE_IMAP);
	h_result(h, PROTO_STORE_OK);
	h_select_req(h, 1, "INBOX", 0, 1, 0, 0, "");
	h_select_result(h, &sel);
	assert_int_equal(sel.status, PROTO_STORE_OK);
	proto_store_select_result_free(&sel);
	h_select_req(h, 2, "INBOX", 0, 1, 0, 0, "");
	h_select_result(h, &sel);
	assert_int_equal(sel.status, PROTO_STORE_NO);
	assert_string_equal(sel.code, "IN-USE");
	proto_store_select_result_free(&sel);
	/* IMAP is not kept out */
	h_select(h, 3, "INBOX", 0, &sel);
	assert_int_equal(sel.status, PROTO_STORE_OK);
	proto_store_select_result_free(&sel);
	/* once the first leaves, the second may */
	{
		struct ipc_writer w;
		ipc_writer_init(&w);
		h_send(h, IMSG_STORE_LOGOUT, 1, &w, -1);
	}
	h_select_req(h, 2, "INBOX", 0, 1, 0, 0, "");
	h_select_result(h, &sel);
	assert_int_equal(sel.status, PROTO_STORE_OK);
	proto_store_select_result_free(&sel);
}

/* RENAME A to B when B/X exists already (made by another tool; B itself
 * not): nothing moves, rather than A becoming B and A/X left behind. */
static void test_rename_child_target_exists(void **state)
{
	struct harness *h = *state;

	h_login(h, 1, H_USER, STORE_SERVICE_IMAP);
	h_result(h, PROTO_STORE_OK);
	h_mailbox(h, 1, STORE_MAILBOX_CREATE, "A/X", "");
	h_result(h, PROTO_STORE_OK);
	assert_int_equal(mkdir_p(H_DIR "/.B.X/cur", 0700), 0);
	assert_int_equal(mkdir_p(H_DIR "/.B.X/new", 0700), 0);
	assert_int_equal(mkdir_p(H_DIR "/.B.X/tmp", 0700), 0);
	h_mailbox(h, 1, STORE_MAILBOX_RENAME, "A", "B");
	h_result(h, PROTO_STORE_NO);
	assert_int_equal(access(H_DIR "/.A/cur", F_OK), 0);
	assert_int_equal(access(H_DIR "/.A.X/cur", F_OK), 0);
	assert_true(access(H_DIR "/.B", F_OK) < 0);
}

/* Many folders each under its own deep parent-only levels: the LIST answer
 * holds at most the names a session decodes (it was dropped by the IPC
 * layer as too large, and the session waited for it until its timeout). */
static void test_list_bounded(void **state)
{
	struct harness *h = *state;
	struct proto_store_list_result l;
	char path[256];
	unsigned i;

	h_login(h, 1, H_USER, STORE_SERVICE_IMAP);
	h_result(h, PROTO_STORE_OK);
	for (i = 0; i < 10000; i++) {
		snprintf(path, sizeof(path), H_DIR "/.f%u.a.b.c.d.e.f.g/cur", i);
		assert_int_equal(mkdir_p(path, 0700), 0);
	}
	h_list(h, 1, 0, &l);
	assert_int_equal(l.n_folders, 65536);
	assert_string_equal(l.folders[0].name, "INBOX");
	proto_store_list_result_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_login_creates_mailbox, h_setup, h_teardown),
	    cmocka_unit_test_setup_teardown(test_login_limits_and_logout, h_setup, h_teardown),
	    cmocka_unit_test_setup_teardown(test_refusals_before_login_and_bad, h_setup,
	                                    h_teardown),
	    cmocka_unit_test_setup_teardown(test_list_attributes, h_setup, h_teardown),
	    cmocka_unit_test_setup_teardown(test_parent_only_level, h_setup, h_teardown),
	    cmocka_unit_test_setup_teardown(test_names_refused, h_setup, h_teardown),
	    cmocka_unit_test_setup_teardown(test_rename_delete, h_setup, h_teardown),
	    cmocka_unit_test_setup_teardown(test_rename_inbox, h_setup, h_teardown),
	    cmocka_unit_test_setup_teardown(test_status, h_setup, h_teardown),
	    cmocka_unit_test_setup_teardown(test_pop3_exclusive, h_setup, h_teardown),
	    cmocka_unit_test_setup_teardown(test_rename_child_target_exists, h_setup, h_teardown),
	    cmocka_unit_test_setup_teardown(test_list_bounded, h_setup, h_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
