/*
 * test_imap_search.c: SEARCH arguments -> store programs (every key, the
 * RETURN options, CHARSET, "$", the bounds and the errors) and the SEARCH /
 * ESEARCH answers. Arguments are built from a small text form: atoms,
 * "quoted" strings and (lists).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_search.h"
#include "lib/util.h"

#define ARGS_MAX 4096
#define DUMP_MAX 8192

/* Builds the arguments of TEXT from *P up to a ')' or the end. */
static unsigned build_args(const char **p, struct imap_arg *out, unsigned max)
{
	unsigned n = 0;

	while (**p != '\0' && **p != ')') {
		struct imap_arg *a = &out[n++];
		const char *start;

		assert_true(n <= max);
		memset(a, 0, sizeof(*a));
		if (**p == '(') {
			struct imap_arg tmp[ARGS_MAX];
			(*p)++;
			a->type = IMAP_ARG_LIST;
			a->n = build_args(p, tmp, ARGS_MAX);
			a->list = xcalloc(a->n + 1, sizeof(*a->list));
			memcpy(a->list, tmp, a->n * sizeof(*tmp));
			assert_int_equal(**p, ')');
			(*p)++;
		} else if (**p == '"') {
			start = ++(*p);
			while (**p != '"')
				(*p)++;
			a->type = IMAP_ARG_STRING;
			a->len = (size_t)(*p - start);
			a->str = xmalloc(a->len + 1);
			memcpy(a->str, start, a->len);
			a->str[a->len] = '\0';
			(*p)++;
		} else {
			start = *p;
			while (**p != '\0' && **p != ' ' && **p != ')' && **p != '(')
				(*p)++;
			a->type = IMAP_ARG_ATOM;
			a->len = (size_t)(*p - start);
			a->str = xmalloc(a->len + 1);
			memcpy(a->str, start, a->len);
			a->str[a->len] = '\0';
		}
		while (**p == ' ')
			(*p)++;
	}
	return n;
}

static void free_args(struct imap_arg *a, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		free(a[i].str);
		if (a[i].type == IMAP_ARG_LIST) {
			free_args(a[i].list, a[i].n);
			free(a[i].list);
		}
	}
}

/* The program as text: "AND2 FLAG1 HEADER[From]=a ...". */
static void dump(const struct proto_store_search *prog, char *buf, size_t size)
{
	static const char *const names[] = {
		"AND", "OR", "NOT", "ALL", "SEQSET", "UIDSET", "FLAG", "NOFLAG", "NEW", "OLD",
		"KEYWORD", "UNKEYWORD", "HEADER", "BODY", "TEXT", "BEFORE", "ON", "SINCE",
		"SENTBEFORE", "SENTON", "SENTSINCE", "LARGER", "SMALLER", "MODSEQ", "OLDER",
		"YOUNGER"};
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < prog->n_nodes; i++) {
		const struct proto_store_search_node *n = &prog->nodes[i];
		len += (size_t)snprintf(buf + len, size - len, "%s%s", i > 0 ? " " : "", names[n->key]);
		if (n->key == SEARCH_AND)
			len += (size_t)snprintf(buf + len, size - len, "%u", n->count);
		if (n->number != 0)
			len += (size_t)snprintf(buf + len, size - len, "%llu",
			                        (unsigned long long)n->number);
		if (n->field[0] != '\0')
			len += (size_t)snprintf(buf + len, size - len, "[%s]", n->field);
		if (n->arg != NULL)
			len += (size_t)snprintf(buf + len, size - len, "=%s", n->arg);
		assert_true(len < size);
	}
}

/* Parses TEXT; returns the result and the dump in OUT (or the error). */
static int parse(const char *text, const char *saved, struct imap_search_options *opts,
                 char *out)
{
	static struct imap_arg args[ARGS_MAX];
	struct proto_store_search prog;
	const char *error = NULL, *p = text;
	unsigned n = build_args(&p, args, ARGS_MAX);
	int r = imap_search_parse(args, n, &prog, opts, saved, &error);

	if (r == 0) {
		dump(&prog, out, DUMP_MAX);
	} else {
		assert_non_null(error);
		assert_int_equal(prog.n_nodes, 0);
		snprintf(out, DUMP_MAX, "error: %s", error);
	}
	imap_search_program_free(&prog);
	free_args(args, n);
	return r;
}

static void expect(const char *text, const char *program)
{
	struct imap_search_options opts;
	char out[DUMP_MAX];

	if (parse(text, NULL, &opts, out) != 0)
		fail_msg("%s: %s", text, out);
	if (strcmp(out, program) != 0)
		fail_msg("%s: got '%s', want '%s'", text, out, program);
}

static void expect_error(const char *text)
{
	struct imap_search_options opts;
	char out[DUMP_MAX];

	if (parse(text, NULL, &opts, out) != IMAP_SEARCH_ERROR)
		fail_msg("%s: accepted as '%s'", text, out);
}

static void test_flag_keys(void **state)
{
	(void)state;
	expect("ALL", "ALL");
	expect("ANSWERED DELETED DRAFT FLAGGED RECENT SEEN",
	       "AND6 FLAG2 FLAG8 FLAG16 FLAG4 FLAG32 FLAG1");
	expect("UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN",
	       "AND5 NOFLAG2 NOFLAG8 NOFLAG16 NOFLAG4 NOFLAG1");
	expect("new old", "AND2 NEW OLD");
	expect("KEYWORD $Forwarded UNKEYWORD Junk", "AND2 KEYWORD=$Forwarded UNKEYWORD=Junk");
}

static void test_text_keys(void **state)
{
	(void)state;
	expect("FROM alice", "HEADER[From]=alice");
	expect("TO \"b c\" CC d BCC e SUBJECT \"\"",
	       "AND4 HEADER[To]=b c HEADER[Cc]=d HEADER[Bcc]=e HEADER[Subject]=");
	expect("HEADER X-Spam yes", "HEADER[X-Spam]=yes");
	expect("HEADER \"List-Id\" \"\"", "HEADER[List-Id]=");
	expect("BODY hello TEXT \"caf\xc3\xa9\"", "AND2 BODY=hello TEXT=caf\xc3\xa9");
}

static void test_dates_and_sizes(void **state)
{
	(void)state;
	expect("BEFORE 1-Feb-1994", "BEFORE760060800");
	expect("ON \"1-feb-1994\"", "ON760060800");
	expect("SINCE 01-Feb-1994", "SINCE760060800");
	expect("SENTBEFORE 1-Jan-1970", "SENTBEFORE");
	expect("SENTON 29-Feb-2024", "SENTON1709164800");
	expect("SENTSINCE 1-Jan-1900", "SENTSINCE");
	expect("LARGER 100 SMALLER 2000", "AND2 LARGER100 SMALLER2000");
	expect("OLDER 60 YOUNGER 3600", "AND2 OLDER60 YOUNGER3600");
	expect_error("BEFORE 29-Feb-2023");
	expect_error("BEFORE 31-Apr-2000");
	expect_error("BEFORE 0-Apr-2000");
	expect_error("BEFORE 1-Foo-2000");
	expect_error("BEFORE 1-Feb-94");
	expect_error("BEFORE 1-Feb-19940");
	expect_error("BEFORE 123-Feb-1994");
	expect_error("BEFORE (1-Feb-1994)");
	expect_error("LARGER -1");
	expect_error("LARGER \"100\"");
	expect_error("SMALLER 99999999999999999999");
	expect_error("LARGER");
}

static void test_boolean_keys(void **state)
{
	(void)state;
	expect("NOT SEEN", "NOT FLAG1");
	expect("OR SEEN FLAGGED", "OR FLAG1 FLAG4");
	expect("OR (SEEN DELETED) NOT FROM x", "OR AND2 FLAG1 FLAG8 NOT HEADER[From]=x");
	expect("(SEEN)", "FLAG1");
	expect("((SEEN) (ALL))", "AND2 FLAG1 ALL");
	expect("NOT NOT ALL", "NOT NOT ALL");
	expect_error("NOT");
	expect_error("OR SEEN");
	expect_error("()");
	expect_error("(SEEN ())");
}

static void test_sets(void **state)
{
	struct imap_search_options opts;
	char out[DUMP_MAX];

	(void)state;
	expect("1:5,7", "SEQSET=1:5,7");
	expect("*", "SEQSET=*");
	expect("UID 3:*", "UIDSET=3:*");
	expect("2 UID 4", "AND2 SEQSET=2 UIDSET=4");
	expect("$", "NOT ALL");
	assert_int_equal(parse("$ SEEN", "3:4,9", &opts, out), 0);
	assert_string_equal(out, "AND2 UIDSET=3:4,9 FLAG1");
	assert_int_equal(parse("UID $", "7", &opts, out), 0);
	assert_string_equal(out, "UIDSET=7");
	expect_error("UID");
	expect_error("UID abc");
	expect_error("UID (1)");
	expect_error("1:");
	expect_error("1,,2");
}

static void test_modseq(void **state)
{
	struct imap_search_options opts;
	char out[DUMP_MAX];

	(void)state;
	assert_int_equal(parse("MODSEQ 620162338", NULL, &opts, out), 0);
	assert_string_equal(out, "MODSEQ620162338");
	assert_true(opts.modseq);
	assert_int_equal(parse("MODSEQ \"/flags/\\draft\" all 12 SEEN", NULL, &opts, out), 0);
	assert_string_equal(out, "AND2 MODSEQ12 FLAG1");
	assert_int_equal(parse("SEEN", NULL, &opts, out), 0);
	assert_false(opts.modseq);
	expect("MODSEQ 0", "MODSEQ");
	expect_error("MODSEQ");
	expect_error("MODSEQ x");
	expect_error("MODSEQ \"/flags/\\draft\" other 12");
	expect_error("MODSEQ \"/flags/\\draft\" all");
	expect_error("MODSEQ 9223372036854775808");
}

static void test_return_and_charset(void **state)
{
	struct imap_search_options opts;
	char out[DUMP_MAX];

	(void)state;
	assert_int_equal(parse("RETURN (MIN MAX) SEEN", NULL, &opts, out), 0);
	assert_true(opts.esearch && opts.ret_min && opts.ret_max);
	assert_false(opts.ret_count || opts.ret_all || opts.ret_save);
	assert_int_equal(parse("RETURN () ALL", NULL, &opts, out), 0);
	assert_true(opts.esearch && opts.ret_all);
	assert_int_equal(parse("RETURN (count all save) CHARSET UTF-8 ALL", NULL, &opts, out), 0);
	assert_true(opts.ret_count && opts.ret_all && opts.ret_save && !opts.ret_min);
	assert_int_equal(parse("CHARSET us-ascii SEEN", NULL, &opts, out), 0);
	assert_false(opts.esearch);
	assert_string_equal(out, "FLAG1");
	assert_int_equal(parse("CHARSET \"UTF-8\" SEEN", NULL, &opts, out), 0);
	assert_int_equal(parse("CHARSET ISO-8859-1 SEEN", NULL, &opts, out), IMAP_SEARCH_BADCHARSET);
	assert_int_equal(parse("CHARSET KOI8-R", NULL, &opts, out), IMAP_SEARCH_BADCHARSET);
	expect_error("RETURN (FOO) ALL");
	expect_error("RETURN MIN ALL");
	expect_error("RETURN (MIN)");
	expect_error("CHARSET");
	expect_error("CHARSET UTF-8");
	expect_error("CHARSET (UTF-8) ALL");
	expect_error("SEEN RETURN (MIN)");
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("");
	expect_error("FOO");
	expect_error("SEEN FOO");
	expect_error("\"SEEN\"");
	expect_error("FROM");
	expect_error("FROM (a)");
	expect_error("HEADER");
	expect_error("HEADER X");
	expect_error("HEADER \"Bad:Name\" x");
	expect_error("HEADER \"\" x");
	expect_error("SUBJECT \"\xff\"");
	expect_error("KEYWORD");
	expect_error("KEYWORD \"a b\"");
	expect_error("KEYWORD a]b");
}

/* Many NOTs nest too deep; many keys make too many nodes. */
static void test_bounds(void **state)
{
	char *text = xmalloc(PROTO_STORE_SEARCH_NODES * 6 + 16);
	size_t len = 0;

	(void)state;
	for (unsigned i = 0; i < IMAP_SEARCH_DEPTH_MAX + 1; i++)
		len += (size_t)sprintf(text + len, "NOT ");
	sprintf(text + len, "ALL");
	expect_error(text);
	len = 0;
	for (unsigned i = 0; i < IMAP_SEARCH_DEPTH_MAX - 2; i++)
		len += (size_t)sprintf(text + len, "NOT ");
	sprintf(text + len, "ALL");
	{
		struct imap_search_options opts;
		char out[DUMP_MAX];
		assert_int_equal(parse(text, NULL, &opts, out), 0);
	}
	len = 0;
	for (unsigned i = 0; i < PROTO_STORE_SEARCH_NODES; i++)
		len += (size_t)sprintf(text + len, "SEEN ");
	sprintf(text + len, "ALL");
	expect_error(text);
	free(text);
}

static void test_render_search(void **state)
{
	uint32_t m[] = {2, 5, 7};
	struct proto_store_search_result r = {.matches = m, .n_matches = 3, .highestmodseq = 99};
	struct imap_search_options opts = {0};
	struct imap_out out = {0};

	(void)state;
	imap_search_render(&opts, &r, "A1", 0, &out);
	opts.modseq = 1;
	imap_search_render(&opts, &r, "A1", 1, &out);
	r.n_matches = 0;
	imap_search_render(&opts, &r, "A1", 0, &out);
	imap_out_append(&out, "", 1);
	assert_string_equal(out.buf, "* SEARCH 2 5 7\r\n* SEARCH 2 5 7 (MODSEQ 99)\r\n* SEARCH\r\n");
	free(out.buf);
}

static void test_render_esearch(void **state)
{
	uint32_t m[] = {2, 5, 7}, run[] = {1, 2, 3, 9};
	struct proto_store_search_result r = {.matches = m, .n_matches = 3, .highestmodseq = 42};
	struct imap_search_options opts = {.esearch = 1, .ret_min = 1, .ret_max = 1,
	                                    .ret_count = 1, .ret_all = 1};
	struct imap_out out = {0};

	(void)state;
	imap_search_render(&opts, &r, "A1", 1, &out);
	opts.modseq = 1;
	imap_search_render(&opts, &r, "A2", 0, &out);
	r.n_matches = 0;
	imap_search_render(&opts, &r, "A3", 0, &out);
	opts = (struct imap_search_options){.esearch = 1, .ret_all = 1};
	r.matches = run;
	r.n_matches = 4;
	imap_search_render(&opts, &r, "A4", 1, &out);
	opts.ret_all = 0;
	opts.ret_save = 1;
	imap_search_render(&opts, &r, "A5", 1, &out); /* SAVE alone: nothing */
	imap_out_append(&out, "", 1);
	assert_string_equal(out.buf,
	                    "* ESEARCH (TAG \"A1\") UID MIN 2 MAX 7 COUNT 3 ALL 2,5,7\r\n"
	                    "* ESEARCH (TAG \"A2\") MIN 2 MAX 7 COUNT 3 ALL 2,5,7 MODSEQ 42\r\n"
	                    "* ESEARCH (TAG \"A3\") COUNT 0\r\n"
	                    "* ESEARCH (TAG \"A4\") UID ALL 1:3,9\r\n");
	free(out.buf);
}

static void test_save_set(void **state)
{
	uint32_t m[] = {1, 2, 3, 9};
	struct proto_store_search_result r = {.matches = m, .n_matches = 4};
	struct imap_search_options opts = {.esearch = 1, .ret_save = 1};
	char *s;

	(void)state;
	s = imap_search_save_set(&opts, &r);
	assert_string_equal(s, "1:3,9");
	free(s);
	opts.ret_min = opts.ret_max = 1;
	s = imap_search_save_set(&opts, &r);
	assert_string_equal(s, "1,9");
	free(s);
	opts.ret_min = 0;
	s = imap_search_save_set(&opts, &r);
	assert_string_equal(s, "9");
	free(s);
	opts.ret_count = 1;
	s = imap_search_save_set(&opts, &r);
	assert_string_equal(s, "1:3,9");
	free(s);
	r.n_matches = 1;
	opts = (struct imap_search_options){.esearch = 1, .ret_save = 1, .ret_min = 1, .ret_max = 1};
	s = imap_search_save_set(&opts, &r);
	assert_string_equal(s, "1");
	free(s);
	r.n_matches = 0;
	s = imap_search_save_set(&opts, &r);
	assert_string_equal(s, "");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flag_keys),        cmocka_unit_test(test_text_keys),
		cmocka_unit_test(test_dates_and_sizes),  cmocka_unit_test(test_boolean_keys),
		cmocka_unit_test(test_sets),             cmocka_unit_test(test_modseq),
		cmocka_unit_test(test_return_and_charset), cmocka_unit_test(test_errors),
		cmocka_unit_test(test_bounds),           cmocka_unit_test(test_render_search),
		cmocka_unit_test(test_render_esearch),   cmocka_unit_test(test_save_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
