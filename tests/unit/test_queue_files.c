/*
 * test_queue_files.c: the spool envelope format, Maildir naming and the
 * users file parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lib/ipc.h"
#include "lookup/users.h"
#include "mail/envelope.h"
#include "proto/queue.h"
#include "queue/maildir.h"
#include "queue/spool_file.h"

static void fill(struct envelope *env)
{
	envelope_init(env);
	strcpy(env->id, "6614FF72A88DE00001");
	env->time = 1795845937;
	strcpy(env->sender, "bob@x.test");
	strcpy(env->helo, "client.example");
	strcpy(env->client, "127.0.0.1");
	strcpy(env->tls, "TLSv1.3/TLS_AES_256_GCM_SHA384");
	strcpy(env->body, "8bitmime");
	assert_int_equal(envelope_add_rcpt(env, "alice@local.test", 0, NULL), 0);
	assert_int_equal(
	    envelope_add_rcpt(env, "\"john doe\"@local.test", 6, "rfc822;John+20Doe@local.test"),
	    0);
	assert_int_equal(envelope_add_rcpt(env, "carol@other.test", 1, NULL), 0);
	strcpy(env->ret, "hdrs");
	strcpy(env->envid, "QQ+2B1");
}

static void test_envelope_roundtrip(void **state)
{
	struct envelope a, b;
	size_t len, hlen;
	const char *why;
	char *text, *file;

	fill(&a);
	text = spool_envelope_format(&a, &len);
	assert_non_null(text);
	/* the message follows the header */
	file = malloc(len + 6);
	memcpy(file, text, len);
	memcpy(file + len, "X\r\n\r\nB", 6);
	assert_int_equal(spool_envelope_parse(&b, file, len + 6, &hlen, &why), 0);
	assert_int_equal(hlen, len);
	assert_string_equal(b.id, a.id);
	assert_int_equal(b.time, a.time);
	assert_string_equal(b.sender, a.sender);
	assert_string_equal(b.tls, a.tls);
	assert_int_equal(b.n_rcpts, 3);
	assert_string_equal(b.rcpts[1].addr, "\"john doe\"@local.test");
	assert_string_equal(b.rcpts[1].orcpt, "rfc822;John+20Doe@local.test");
	assert_int_equal(b.rcpts[1].notify, 6);
	assert_string_equal(b.rcpts[0].orcpt, "");
	assert_string_equal(b.envid, "QQ+2B1");
	assert_string_equal(b.ret, "hdrs");
	/* every truncation of the header is refused, never misread */
	for (size_t cut = 0; cut < len; cut++) {
		struct envelope c;
		assert_int_equal(spool_envelope_parse(&c, file, cut, &hlen, &why), -1);
	}
	envelope_free(&b);
	envelope_free(&a);
	free(text);
	free(file);
}

/* An ORCPT that is not "type;xtext" (a space, a line end, no type, too
 * long) is dropped: the recipient stays and the envelope can be stored. */
static void test_envelope_drops_odd_orcpt(void **state)
{
	static const char *const odd[] = {
	    "rfc822;\"a b\"@local.test", "rfc822;a\r\nrcpt 0 - x@y", "no-type", ";a@b", "rf c;a@b",
	};
	char long_orcpt[ENVELOPE_ADDR_MAX + 8];
	struct envelope env, back;
	size_t len, hlen;
	const char *why;
	char *text;
	unsigned i;

	(void)state;
	memset(long_orcpt, 'a', sizeof(long_orcpt) - 1);
	memcpy(long_orcpt, "rfc822;", 7);
	long_orcpt[sizeof(long_orcpt) - 1] = '\0';
	envelope_init(&env);
	strcpy(env.id, "6614FF72A88DE00001");
	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		assert_int_equal(envelope_add_rcpt(&env, "a@local.test", 0, odd[i]), 0);
		assert_string_equal(env.rcpts[i].orcpt, "");
	}
	assert_int_equal(envelope_add_rcpt(&env, "b@local.test", 0, long_orcpt), 0);
	assert_string_equal(env.rcpts[i].orcpt, "");
	assert_int_equal(envelope_add_rcpt(&env, "c@local.test", 0, "rfc822;+22a+20b+22@x"), 0);
	assert_string_equal(env.rcpts[i + 1].orcpt, "rfc822;+22a+20b+22@x");
	text = spool_envelope_format(&env, &len);
	assert_non_null(text);
	assert_int_equal(spool_envelope_parse(&back, text, len, &hlen, &why), 0);
	assert_int_equal(back.n_rcpts, env.n_rcpts);
	assert_string_equal(back.rcpts[i + 1].orcpt, "rfc822;+22a+20b+22@x");
	free(text);
	envelope_free(&back);
	envelope_free(&env);
}

/* "trusted" goes into the spool file and over IPC; a file written before
 * the record existed still loads, as not trusted. */
static void test_envelope_trusted(void **state)
{
	static const char old_file[] = "sealmail-queue 1\nid 6614FF72A88DE00001\ntime 1\nfrom "
	                               "a@x.test\nhelo h\nclient 127.0.0.1\ntls \nbody \nret "
	                               "full\nenvid \nrcpt 2 - b@local.test\n\n";
	struct envelope a, b;
	struct ipc_writer w;
	struct ipc_reader r;
	size_t len, hlen;
	const char *why;
	char *text;

	(void)state;
	assert_int_equal(spool_envelope_parse(&b, old_file, sizeof(old_file) - 1, &hlen, &why), 0);
	assert_int_equal(b.trusted, 0);
	assert_string_equal(b.ret, "full");
	envelope_free(&b);
	fill(&a);
	a.trusted = 1;
	text = spool_envelope_format(&a, &len);
	assert_non_null(text);
	assert_non_null(strstr(text, "\ntrusted 1\n"));
	assert_int_equal(spool_envelope_parse(&b, text, len, &hlen, &why), 0);
	assert_int_equal(b.trusted, 1);
	envelope_free(&b);
	text[strstr(text, "\ntrusted 1\n") - text + 9] = '2';
	assert_int_equal(spool_envelope_parse(&b, text, len, &hlen, &why), -1);
	free(text);
	ipc_writer_init(&w);
	proto_envelope_encode(&a, &w);
	ipc_reader_init(&r, w.buf, w.len);
	assert_int_equal(proto_envelope_decode(&b, &r), 0);
	assert_int_equal(b.trusted, 1);
	envelope_free(&b);
	ipc_writer_free(&w);
	envelope_free(&a);
}

/* The listener's name and whether the client logged in go into the spool
 * file ("listener NAME", "auth 1", each only when set) and over IPC; a
 * file without them loads as "" and 0. */
static void test_envelope_listener_auth(void **state)
{
	static const char old_file[] = "sealmail-queue 1\nid 6614FF72A88DE00001\ntime 1\nfrom "
	                               "a@x.test\nhelo h\nclient 127.0.0.1\ntls \nbody \nret "
	                               "\nenvid \ntrusted 1\nrcpt 2 - b@local.test\n\n";
	struct envelope a, b;
	struct ipc_writer w;
	struct ipc_reader r;
	size_t len, hlen;
	const char *why;
	char *text;

	(void)state;
	assert_int_equal(spool_envelope_parse(&b, old_file, sizeof(old_file) - 1, &hlen, &why), 0);
	assert_string_equal(b.listener, "");
	assert_int_equal(b.authenticated, 0);
	envelope_free(&b);
	fill(&a);
	text = spool_envelope_format(&a, &len);
	assert_null(strstr(text, "\nlistener "));
	assert_null(strstr(text, "\nauth "));
	assert_null(strstr(text, "\nauth-user "));
	free(text);
	strcpy(a.listener, "submission");
	a.authenticated = 1;
	text = spool_envelope_format(&a, &len);
	assert_non_null(strstr(text, "\nlistener submission\n"));
	assert_non_null(strstr(text, "\nauth 1\n"));
	assert_null(strstr(text, "\nauth-user "));
	assert_int_equal(spool_envelope_parse(&b, text, len, &hlen, &why), 0);
	assert_string_equal(b.listener, "submission");
	assert_int_equal(b.authenticated, 1);
	assert_string_equal(b.auth_user, ""); /* logged in, name not kept: older files */
	envelope_free(&b);
	free(text);
	strcpy(a.auth_user, "alice@local.test");
	text = spool_envelope_format(&a, &len);
	assert_non_null(strstr(text, "\nauth 1\nauth-user alice@local.test\n"));
	assert_int_equal(spool_envelope_parse(&b, text, len, &hlen, &why), 0);
	assert_string_equal(b.auth_user, "alice@local.test");
	envelope_free(&b);
	free(text);
	strcpy(a.auth_user, "alice\nrcpt 0 - x@y");
	assert_null(spool_envelope_format(&a, &len));
	strcpy(a.auth_user, "alice@local.test");
	text = spool_envelope_format(&a, &len);
	text[strstr(text, "\nauth 1\n") - text + 6] = '2';
	assert_int_equal(spool_envelope_parse(&b, text, len, &hlen, &why), -1);
	free(text);
	strcpy(a.listener, "mx\nrcpt 0 - x@y"); /* a line end would forge a record */
	assert_null(spool_envelope_format(&a, &len));
	strcpy(a.listener, "local");
	ipc_writer_init(&w);
	proto_envelope_encode(&a, &w);
	ipc_reader_init(&r, w.buf, w.len);
	assert_int_equal(proto_envelope_decode(&b, &r), 0);
	assert_string_equal(b.listener, "local");
	assert_int_equal(b.authenticated, 1);
	assert_string_equal(b.auth_user, "alice@local.test");
	envelope_free(&b);
	ipc_writer_free(&w);
	envelope_free(&a);
}

/* The envelope flags (SMTPUTF8, REQUIRETLS, TLS-Required: No) go into
 * the spool file as "flags N" and over IPC; a file without the record
 * loads with none, and an unknown bit is refused in both encodings. */
static void test_envelope_flags(void **state)
{
	struct envelope a, b;
	struct ipc_writer w;
	struct ipc_reader r;
	size_t len, hlen;
	const char *why;
	char *text;

	(void)state;
	fill(&a);
	text = spool_envelope_format(&a, &len);
	assert_null(strstr(text, "\nflags "));
	assert_int_equal(spool_envelope_parse(&b, text, len, &hlen, &why), 0);
	assert_int_equal(b.flags, 0);
	envelope_free(&b);
	free(text);
	a.flags = ENVELOPE_SMTPUTF8 | ENVELOPE_REQUIRETLS;
	text = spool_envelope_format(&a, &len);
	assert_non_null(strstr(text, "\nflags 3\n"));
	assert_int_equal(spool_envelope_parse(&b, text, len, &hlen, &why), 0);
	assert_int_equal(b.flags, ENVELOPE_SMTPUTF8 | ENVELOPE_REQUIRETLS);
	envelope_free(&b);
	text[strstr(text, "\nflags 3\n") - text + 7] = '8';
	assert_int_equal(spool_envelope_parse(&b, text, len, &hlen, &why), -1);
	free(text);
	a.flags = ENVELOPE_TLS_OPTIONAL;
	ipc_writer_init(&w);
	proto_envelope_encode(&a, &w);
	ipc_reader_init(&r, w.buf, w.len);
	assert_int_equal(proto_envelope_decode(&b, &r), 0);
	assert_int_equal(b.flags, ENVELOPE_TLS_OPTIONAL);
	envelope_free(&b);
	ipc_writer_free(&w);
	a.flags = 0x10;
	ipc_writer_init(&w);
	proto_envelope_encode(&a, &w);
	ipc_reader_init(&r, w.buf, w.len);
	assert_int_equal(proto_envelope_decode(&b, &r), -1);
	envelope_free(&b);
	ipc_writer_free(&w);
	envelope_free(&a);
}

static void test_envelope_refuses_line_ends(void **state)
{
	struct envelope a;
	size_t len;

	fill(&a);
	strcpy(a.helo, "evil\nrcpt root@local.test");
	assert_null(spool_envelope_format(&a, &len));
	envelope_free(&a);
	/* found by fuzz_envelope (corpus/envelope/crash-id-line-end): the id
	 * was written unchecked, and the file could not be read back */
	fill(&a);
	strcpy(a.id, "000\n");
	assert_null(spool_envelope_format(&a, &len));
	envelope_free(&a);
}

static void test_envelope_ipc_roundtrip(void **state)
{
	struct envelope a, b;
	struct ipc_writer w;
	struct ipc_reader r;

	fill(&a);
	ipc_writer_init(&w);
	proto_envelope_encode(&a, &w);
	ipc_reader_init(&r, w.buf, w.len);
	assert_int_equal(proto_envelope_decode(&b, &r), 0);
	assert_string_equal(b.rcpts[2].addr, "carol@other.test");
	assert_int_equal(b.rcpts[2].notify, 1);
	envelope_free(&b);
	/* any truncated payload is refused */
	for (size_t cut = 0; cut < w.len; cut++) {
		ipc_reader_init(&r, w.buf, cut);
		assert_int_equal(proto_envelope_decode(&b, &r), -1);
		envelope_free(&b);
	}
	ipc_writer_free(&w);
	envelope_free(&a);
}

/* Found by fuzz_envelope (tests/fuzz/corpus/envelope/crash-notify-bits):
 * a NOTIFY the spool file cannot hold was taken from a dispatcher, so the
 * committed message could not be read back. */
static void test_envelope_ipc_refuses_unknown_notify(void **state)
{
	struct envelope a, b;
	struct ipc_writer w;
	struct ipc_reader r;

	fill(&a);
	a.rcpts[1].notify = 1u << 27;
	ipc_writer_init(&w);
	proto_envelope_encode(&a, &w);
	ipc_reader_init(&r, w.buf, w.len);
	assert_int_equal(proto_envelope_decode(&b, &r), -1);
	envelope_free(&b);
	ipc_writer_free(&w);
	envelope_free(&a);
}

static void test_envelope_trailer(void **state)
{
	struct envelope a;
	uint64_t len;
	uint32_t crc;
	size_t blen;
	char *block, *tail;

	fill(&a);
	block = spool_block_format(&a, 123456789, 0xE3069283u, &blen);
	assert_non_null(block);
	tail = block + blen - SPOOL_TRAILER_LEN;
	assert_int_equal(spool_trailer_parse(tail, SPOOL_TRAILER_LEN, &len, &crc), 0);
	assert_int_equal(len, 123456789);
	assert_int_equal(crc, 0xE3069283u);
	/* a damaged or short trailer is refused */
	for (size_t i = 0; i < SPOOL_TRAILER_LEN; i++) {
		char copy[SPOOL_TRAILER_LEN];
		memcpy(copy, tail, sizeof(copy));
		copy[i] = 'z';
		if (i >= 14 && i != 30 && copy[i] == tail[i])
			continue;
		assert_int_equal(spool_trailer_parse(copy, sizeof(copy), &len, &crc), -1);
	}
	assert_int_equal(spool_trailer_parse(tail, SPOOL_TRAILER_LEN - 1, &len, &crc), -1);
	free(block);
	envelope_free(&a);
}

static void test_maildir_path(void **state)
{
	char buf[256];

	assert_int_equal(maildir_path_for("Alice@Local.Test", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "mail/local.test/alice");
	assert_int_equal(maildir_path_for("../x@local.test", buf, sizeof(buf)), -1);
	assert_int_equal(maildir_path_for("a/b@local.test", buf, sizeof(buf)), -1);
	assert_int_equal(maildir_path_for(".hidden@local.test", buf, sizeof(buf)), -1);
	assert_int_equal(maildir_path_for("@local.test", buf, sizeof(buf)), -1);
	assert_int_equal(maildir_path_for("nodomain", buf, sizeof(buf)), -1);
	assert_int_equal(maildir_path_for("x@..", buf, sizeof(buf)), -1);
}

static void test_maildir_name_is_ours(void **state)
{
	assert_true(
	    maildir_name_is_ours("1764580000.M123456P42Q7.mx.local.test,S=1024", "mx.local.test"));
	assert_false(
	    maildir_name_is_ours("1764580000.M123456P42Q7.other.test,S=1024", "mx.local.test"));
	assert_false(
	    maildir_name_is_ours("1764580000.M12345P42Q7.mx.local.test,S=1024", "mx.local.test"));
	assert_false(maildir_name_is_ours("1764580000.M123456P42Q7.mx.local.test,S=1024:2,S",
	                                  "mx.local.test"));
	assert_false(maildir_name_is_ours("1764580000.M123456P42Q7.mx.local.test.evil,S=1",
	                                  "mx.local.test"));
	assert_false(maildir_name_is_ours("dovecot-tmp-file", "mx.local.test"));
	assert_false(maildir_name_is_ours("", "mx.local.test"));
}

static unsigned warnings;

static void count_warning(unsigned line, const char *reason, void *arg)
{
	warnings++;
}

/* Found by fuzz_users (tests/fuzz/corpus/users/crash-final-cr): a file
 * whose last line ends in CR without LF made the reader loop forever. */
static void test_users_parse_final_cr(void **state)
{
	struct users_db db;

	assert_int_equal(users_db_parse(&db, "a@b.test:x\r", NULL, NULL), 0);
	assert_int_equal(db.n, 1);
	assert_string_equal(users_db_hash(&db, "a@b.test"), "x");
	users_db_free(&db);
	assert_int_equal(users_db_parse(&db, "\r", NULL, NULL), 0);
	assert_int_equal(db.n, 0);
	users_db_free(&db);
}

static void test_users_parse(void **state)
{
	struct users_db db;

	warnings = 0;
	memset(&db, 0, sizeof(db));
	users_db_parse(&db,
	               "# comment\n"
	               "Alice@Local.Test:$y$j9T$abc:extra\r\n"
	               "\n"
	               "bob@local.test:*\n"
	               "broken line\n"
	               "nodomain@:*\n"
	               "carol@other.test:*",
	               count_warning, NULL);
	assert_int_equal(db.n, 3);
	assert_int_equal(warnings, 2);
	assert_true(users_db_contains(&db, "alice@local.test"));
	assert_true(users_db_contains(&db, "BOB@LOCAL.TEST"));
	assert_true(users_db_contains(&db, "carol@other.test"));
	assert_false(users_db_contains(&db, "dave@local.test"));
	assert_false(users_db_contains(&db, "broken line"));
	users_db_free(&db);
}

static void test_users_hash(void **state)
{
	struct users_db db;

	warnings = 0;
	users_db_parse(&db,
	               "Alice@Local.Test:$y$j9T$abc:extra\r\n"
	               "bob@local.test:*\n"
	               "empty@local.test:\n"
	               "crlf@local.test:$6$s$h\r\n"
	               "ALICE@local.test:$y$second\n"
	               "last@local.test:$2b$05$x",
	               count_warning, NULL);
	/* a repeated address: its first line counts, the other is reported */
	assert_int_equal(db.n, 5);
	assert_int_equal(warnings, 1);
	assert_string_equal(users_db_hash(&db, "alice@local.test"), "$y$j9T$abc");
	assert_string_equal(users_db_hash(&db, "BOB@local.test"), "*");
	assert_string_equal(users_db_hash(&db, "empty@local.test"), "");
	assert_string_equal(users_db_hash(&db, "crlf@local.test"), "$6$s$h");
	assert_string_equal(users_db_hash(&db, "last@local.test"), "$2b$05$x");
	assert_null(users_db_hash(&db, "dave@local.test"));
	assert_null(users_db_hash(&db, NULL));
	users_db_free(&db);
	assert_null(users_db_hash(&db, "alice@local.test"));
	assert_false(users_db_contains(&db, "alice@local.test"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_envelope_roundtrip),
	    cmocka_unit_test(test_envelope_refuses_line_ends),
	    cmocka_unit_test(test_envelope_drops_odd_orcpt),
	    cmocka_unit_test(test_envelope_trusted),
	    cmocka_unit_test(test_envelope_flags),
	    cmocka_unit_test(test_envelope_listener_auth),
	    cmocka_unit_test(test_envelope_ipc_roundtrip),
	    cmocka_unit_test(test_envelope_ipc_refuses_unknown_notify),
	    cmocka_unit_test(test_envelope_trailer),
	    cmocka_unit_test(test_maildir_path),
	    cmocka_unit_test(test_maildir_name_is_ours),
	    cmocka_unit_test(test_users_parse),
	    cmocka_unit_test(test_users_parse_final_cr),
	    cmocka_unit_test(test_users_hash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
