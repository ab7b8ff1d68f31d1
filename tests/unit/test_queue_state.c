/*
 * test_queue_state.c: the queue's state file parser and formatter
 * (queue/queue_state.h), fed whole, one byte at a time and cut at every
 * point (every feeding must give the same state or the same error); a file
 * written before delivery statuses were kept; malformed records; the
 * formatter's output read back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue_state.h"

/* The state as one comparable line, or "ERR reason". */
static void describe(int r, const char *why, const struct queue_state *st, char *buf,
                     size_t size)
{
	size_t n;

	if (r < 0) {
		assert_non_null(why);
		assert_null(st->rcpts);
		assert_int_equal(st->n_rcpts, 0);
		snprintf(buf, size, "ERR %s", why);
		return;
	}
	n = (size_t)snprintf(buf, size, "a=%u next=%lld w=%d h=%d", st->attempts,
	                     (long long)st->not_before, st->warned, st->held);
	for (unsigned i = 0; i < st->n_rcpts && n < size; i++) {
		const struct queue_rcpt *r2 = &st->rcpts[i];
		n += (size_t)snprintf(buf + n, size - n, " | %u %u [%s] %u {%s}", r2->status,
		                      r2->reported, r2->last.enhanced, r2->last.reply_code,
		                      r2->last.text);
	}
}

/* Feeds IN cut at the points CUTS[0..N_CUTS), describes the outcome. */
static void feed_cuts(const char *in, size_t len, const size_t *cuts, size_t n_cuts, char *buf,
                      size_t size)
{
	struct queue_state_parser p;
	struct queue_state st;
	const char *why = NULL;
	size_t off = 0;
	int r = 0;

	queue_state_parser_init(&p, &st);
	for (size_t i = 0; i <= n_cuts && r == 0; i++) {
		size_t end = i < n_cuts ? cuts[i] : len;
		r = queue_state_parser_feed(&p, in + off, end - off, &why);
		off = end;
	}
	if (r == 0)
		r = queue_state_parser_finish(&p, &why);
	describe(r, why, &st, buf, size);
	queue_state_free(&st);
}

/* Asserts that IN gives EXPECTED whole, byte by byte and cut at any point. */
static void check_state(const char *in, const char *expected)
{
	size_t len = strlen(in), *cuts = calloc(len + 1, sizeof(size_t));
	char got[4096];

	assert_non_null(cuts);
	feed_cuts(in, len, NULL, 0, got, sizeof(got));
	assert_string_equal(got, expected);
	for (size_t i = 0; i < len; i++)
		cuts[i] = i;
	feed_cuts(in, len, cuts, len, got, sizeof(got));
	assert_string_equal(got, expected);
	for (size_t i = 0; i <= len; i++) {
		feed_cuts(in, len, &i, 1, got, sizeof(got));
		assert_string_equal(got, expected);
	}
	free(cuts);
}

static void test_state_current(void **state)
{
	check_state("attempts 3\nnext 1795846000\nwarned 1\nheld 0\n"
	            "rcpt 0 0 451 4.3.0 try again later\nrcpt-status 4.3.0 451\n"
	            "rcpt 2 1 550 5.1.1 No such user here\nrcpt-status 5.1.1 550\n"
	            "rcpt 1 0 \nrcpt-status - 0\n",
	            "a=3 next=1795846000 w=1 h=0 | 0 0 [4.3.0] 451 {451 4.3.0 try again later}"
	            " | 2 1 [5.1.1] 550 {550 5.1.1 No such user here} | 1 0 [] 0 {}");
}

/* What the code before delivery statuses wrote: loads, without status. */
static void test_state_old_format(void **state)
{
	check_state("attempts 1\nnext 60\nwarned 0\nheld 1\n"
	            "rcpt 0 0 4.4.1 connect to mx[192.0.2.1]:25: refused\nrcpt 1 0 250 2.0.0 ok\n",
	            "a=1 next=60 w=0 h=1 | 0 0 [] 0 {4.4.1 connect to mx[192.0.2.1]:25: refused}"
	            " | 1 0 [] 0 {250 2.0.0 ok}");
	check_state("", "a=0 next=0 w=0 h=0");
	check_state("later-record whatever\nattempts 2\n", "a=2 next=0 w=0 h=0");
}

static void test_state_malformed(void **state)
{
	check_state("attempts 1", "ERR truncated state file");
	check_state("attempts x\n", "ERR malformed state record");
	check_state("attempts 99999999999\n", "ERR malformed state record");
	check_state("warned 2\n", "ERR malformed state record");
	check_state("rcpt 3 0 x\n", "ERR malformed state record");
	check_state("rcpt 0 0 x\nrcpt-status 4.3 451\n", "ERR malformed state record");
	check_state("rcpt 0 0 x\nrcpt-status 4.3.0 99\n", "ERR malformed state record");
	check_state("rcpt-status 4.3.0 451\n", "ERR malformed state record");
	{
		char line[QUEUE_STATE_LINE_MAX + 16];
		memset(line, 'x', sizeof(line));
		line[sizeof(line) - 2] = '\n';
		line[sizeof(line) - 1] = '\0';
		check_state(line, "ERR over-long state record");
	}
}

/* A NUL inside (check_state works on C strings). */
static void test_state_nul(void **state)
{
	struct queue_state st;
	const char *why = NULL;

	assert_int_equal(queue_state_parse("held 1\n\0held 0\n", 15, &st, &why), -1);
	assert_string_equal(why, "NUL in state file");
	assert_null(st.rcpts);
}

static void test_state_format_roundtrip(void **state)
{
	struct queue_rcpt rcpts[2];
	struct queue_state st = {7, 1795846000, 1, 0, rcpts, 2, 0}, again;
	const char *why = NULL;
	char *text;
	size_t len;

	memset(rcpts, 0, sizeof(rcpts));
	rcpts[0].status = RCPT_FAILED;
	rcpts[0].reported = 1;
	delivery_status_set(&rcpts[0].last, "5.1.1", 550, "550 5.1.1 no\r\nX-Evil: 1");
	rcpts[1].inflight = 1; /* not stored */
	text = queue_state_format(&st, &len);
	assert_string_equal(text, "attempts 7\nnext 1795846000\nwarned 1\nheld 0\n"
	                          "rcpt 2 1 550 5.1.1 no  X-Evil: 1\nrcpt-status 5.1.1 550\n"
	                          "rcpt 0 0 \nrcpt-status - 0\n");
	assert_int_equal(queue_state_parse(text, len, &again, &why), 0);
	assert_int_equal(again.n_rcpts, 2);
	assert_string_equal(again.rcpts[0].last.enhanced, "5.1.1");
	assert_int_equal(again.rcpts[0].last.reply_code, 550);
	assert_int_equal(again.rcpts[1].inflight, 0);
	assert_int_equal(again.attempts, 7);
	queue_state_free(&again);
	free(text);
}

/* The record of a remote attempt: read after its rcpt, words with "-" for
 * none, texts to the end of the line; formatted back the same; a record
 * without a recipient, or texts without a record, make the file invalid. */
static void test_state_record(void **state)
{
	static const char file[] =
	    "attempts 1\nnext 60\nwarned 1\nheld 0\ntls-warned 1\n"
	    "rcpt 0 0 451 4.7.5 TLS downgrade\nrcpt-status 4.7.5 451\n"
	    "rcpt-via 1795846000 1 mx.example.test[192.0.2.7]:25 - none verify memory\n"
	    "rcpt-evidence authenticated TLS seen on 2026-11-30\n"
	    "rcpt 1 1 250 ok\nrcpt-status 2.0.0 250\n"
	    "rcpt-via 1795846001 0 mx[192.0.2.8]:25 TLSv1.3/TLS_AES_256_GCM_SHA384 unchecked may "
	    "default\nrcpt-testing would have failed: no TLSA\n";
	struct queue_state st;
	const char *why = NULL;
	char *text;
	size_t len;

	(void)state;
	assert_int_equal(queue_state_parse(file, sizeof(file) - 1, &st, &why), 0);
	assert_int_equal(st.tls_warned, 1);
	assert_int_equal(st.n_rcpts, 2);
	assert_non_null(st.rcpts[0].via);
	assert_int_equal(st.rcpts[0].via->when, 1795846000);
	assert_int_equal(st.rcpts[0].via->held, 1);
	assert_true(queue_rcpt_tls_held(&st.rcpts[0]));
	assert_string_equal(st.rcpts[0].via->relay, "mx.example.test[192.0.2.7]:25");
	assert_string_equal(st.rcpts[0].via->tls, "");
	assert_string_equal(st.rcpts[0].via->peer, "none");
	assert_string_equal(st.rcpts[0].via->policy, "verify");
	assert_string_equal(st.rcpts[0].via->source, "memory");
	assert_string_equal(st.rcpts[0].via->evidence, "authenticated TLS seen on 2026-11-30");
	assert_string_equal(st.rcpts[0].via->testing, "");
	assert_false(queue_rcpt_tls_held(&st.rcpts[1])); /* delivered */
	assert_string_equal(st.rcpts[1].via->tls, "TLSv1.3/TLS_AES_256_GCM_SHA384");
	assert_string_equal(st.rcpts[1].via->peer, "unchecked");
	assert_string_equal(st.rcpts[1].via->testing, "would have failed: no TLSA");
	text = queue_state_format(&st, &len);
	assert_int_equal(len, sizeof(file) - 1);
	assert_memory_equal(text, file, len);
	free(text);
	/* a value with a space or a line end stays one word, one line */
	strcpy(st.rcpts[1].via->relay, "mx x\r\nrcpt 2 0 evil");
	strcpy(st.rcpts[1].via->evidence, "a\nrcpt 2 0 evil");
	text = queue_state_format(&st, &len);
	assert_non_null(memmem(text, len, " mx_x__rcpt_2_0_evil ", 21));
	assert_non_null(memmem(text, len, "\nrcpt-evidence a rcpt 2 0 evil\n", 31));
	queue_state_free(&st);
	assert_int_equal(queue_state_parse(text, len, &st, &why), 0);
	assert_int_equal(st.n_rcpts, 2);
	queue_state_free(&st);
	free(text);
	check_state("rcpt-via 1 0 a b c d e\n", "ERR malformed state record");
	check_state("rcpt 0 0 x\nrcpt-via 1 2 a b c d e\n", "ERR malformed state record");
	check_state("rcpt 0 0 x\nrcpt-via 1 0 a b c d\n", "ERR malformed state record");
	check_state("rcpt 0 0 x\nrcpt-via 1 0 a b c d e f\n", "ERR malformed state record");
	check_state("rcpt 0 0 x\nrcpt-via 1 0 a b abcdefghijklmnop d e\n",
	            "ERR malformed state record");
	check_state("rcpt 0 0 x\nrcpt-evidence why\n", "ERR malformed state record");
	check_state("tls-warned 2\n", "ERR malformed state record");
	check_state("rcpt 0 0 x\nrcpt-via 5 1 a b c d e\n", "a=0 next=0 w=0 h=0 | 0 0 [] 0 {x}");
}

/* A state file written before 0.13 names a TLS peer whose certificate
 * nobody checked "untrusted": it loads, and is written back, as
 * "unchecked"; a word that only starts like it is kept. */
static void test_state_record_old_peer_word(void **state)
{
	static const char old[] =
	    "attempts 1\nnext 60\nrcpt 1 1 250 ok\n"
	    "rcpt-via 1 0 mx[192.0.2.8]:25 TLSv1.3/X untrusted may default\n"
	    "rcpt 1 1 250 ok\n"
	    "rcpt-via 1 0 mx[192.0.2.8]:25 TLSv1.3/X untrustedx may default\n";
	struct queue_state st;
	const char *why = NULL;
	char *text;
	size_t len;

	(void)state;
	assert_int_equal(queue_state_parse(old, sizeof(old) - 1, &st, &why), 0);
	assert_string_equal(st.rcpts[0].via->peer, "unchecked");
	assert_string_equal(st.rcpts[1].via->peer, "untrustedx");
	text = queue_state_format(&st, &len); /* LEN octets, no NUL */
	assert_non_null(memmem(text, len, " TLSv1.3/X unchecked may default\n", 33));
	assert_null(memmem(text, len, " untrusted ", 11));
	free(text);
	queue_state_free(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_state_current),
	    cmocka_unit_test(test_state_old_format),
	    cmocka_unit_test(test_state_malformed),
	    cmocka_unit_test(test_state_nul),
	    cmocka_unit_test(test_state_format_roundtrip),
	    cmocka_unit_test(test_state_record),
	    cmocka_unit_test(test_state_record_old_peer_word),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
