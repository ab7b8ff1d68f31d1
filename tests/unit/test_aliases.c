/*
 * test_aliases.c: the aliases file: parsing and its errors, expansion
 * (recursion, catch-alls, loops, depth, bounds) and the aliases a user
 * owns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lookup/aliases.h"

static char warnings[4096];

static void on_warning(unsigned line, const char *reason, void *arg)
{
	size_t n = strlen(warnings);
	(void)arg;
	snprintf(warnings + n, sizeof warnings - n, "%u: %s\n", line, reason);
}

/* The users of every test below. */
static int is_user(const char *addr, void *arg)
{
	static const char *const users[] = {"alice@local.test", "bob@local.test",
	                                    "carol@local.test", "postmaster@local.test",
	                                    "root@other.test"};
	(void)arg;
	for (size_t i = 0; i < sizeof users / sizeof users[0]; i++)
		if (strcmp(addr, users[i]) == 0) /* aliases.c passes lower case */
			return 1;
	return 0;
}

static void parse(struct aliases *a, const char *text)
{
	warnings[0] = '\0';
	assert_int_equal(aliases_parse(a, text, on_warning, NULL), 0);
}

/* Expands ADDRESS; returns aliases_expand's result and puts the targets,
 * joined by " ", in OUT. */
static int expand(const struct aliases *a, const char *address, char *out, size_t size)
{
	char **targets = (char **)1;
	unsigned n = 99;
	int r = aliases_expand(a, address, is_user, NULL, &targets, &n);
	out[0] = '\0';
	if (r != 0) {
		assert_null(targets);
		assert_int_equal(n, 0);
		return r;
	}
	for (unsigned i = 0; i < n; i++) {
		size_t len = strlen(out);
		snprintf(out + len, size - len, "%s%s", i ? " " : "", targets[i]);
		free(targets[i]);
	}
	free(targets);
	return r;
}

#define assert_expands(a, address, expected)                                                       \
	do {                                                                                       \
		char out_[4096];                                                                   \
		assert_int_equal(expand((a), (address), out_, sizeof out_), 0);                    \
		assert_string_equal(out_, (expected));                                             \
	} while (0)

static void test_parse(void **state)
{
	struct aliases a;
	(void)state;
	parse(&a, "# aliases of local.test\n"
	          "\n"
	          "Info@Local.Test: alice@local.test, Bob@Local.Test\r\n"
	          "sales@local.test:carol@local.test  dave@partner.example,,\tx@y.example\n"
	          "   \n"
	          "  # an indented comment\n"
	          "@other.test : postmaster@local.test\n"
	          "last@local.test: alice@local.test");
	assert_string_equal(warnings, "");
	assert_int_equal(a.n, 4);
	/* sorted by address, lower-cased; targets as written */
	assert_string_equal(a.entries[0].address, "@other.test");
	assert_int_equal(a.entries[0].line, 7);
	assert_string_equal(a.entries[1].address, "info@local.test");
	assert_int_equal(a.entries[1].n_targets, 2);
	assert_string_equal(a.entries[1].targets[0], "alice@local.test");
	assert_string_equal(a.entries[1].targets[1], "Bob@Local.Test");
	assert_string_equal(a.entries[2].address, "last@local.test");
	assert_string_equal(a.entries[3].address, "sales@local.test");
	assert_int_equal(a.entries[3].n_targets, 3);
	assert_string_equal(a.entries[3].targets[2], "x@y.example");
	aliases_free(&a);
	assert_int_equal(a.n, 0);
	assert_null(a.entries);
	aliases_free(&a);

	parse(&a, "");
	assert_int_equal(a.n, 0);
	aliases_free(&a);
}

static void test_parse_errors(void **state)
{
	struct aliases a;
	(void)state;
	parse(&a, "info@local.test alice@local.test\n"       /* 1 */
	          "info@local.test: alice\n"                 /* 2 */
	          "info@local.test: alice@local.test, bob\n" /* 3 */
	          "info@local.test:\n"                       /* 4 */
	          "info@local.test: , ,\n"                   /* 5 */
	          "ok@local.test: alice@local.test\n"        /* 6 */
	          "    bob@local.test\n"                     /* 7 */
	          "\tbob@local.test: carol@local.test\n"     /* 8 */
	          "info: alice@local.test\n"                 /* 9 */
	          "my info@local.test: alice@local.test\n"   /* 10 */
	          "a@b@local.test: alice@local.test\n"       /* 11 */
	          "info@: alice@local.test\n"                /* 12 */
	          "@: alice@local.test\n"                    /* 13 */
	          "x@local.test: @local.test\n"              /* 14 */
	          "x@local.test: \"a b\"@local.test\n"       /* 15 */
	          "x@local.test: <a@local.test>\n"           /* 16 */
	          "OK@local.test: bob@local.test\n"          /* 17 */
	          "@other.test: a@local.test\n"              /* 18 */
	          "@Other.Test: b@local.test\n"              /* 19 */
	          "ok@local.test: carol@local.test\n");      /* 20 */
	assert_string_equal(
	    warnings,
	    "1: expected alias@domain: target, ...\n"
	    "2: target 'alice' is not an address local@domain\n"
	    "3: target 'bob' is not an address local@domain\n"
	    "4: no target after ':'\n"
	    "5: no target after ':'\n"
	    "7: a line starting with white space (a continuation line) is not supported; put all "
	    "targets on one line\n"
	    "8: a line starting with white space (a continuation line) is not supported; put all "
	    "targets on one line\n"
	    "9: the alias must be local@domain, or @domain for a catch-all\n"
	    "10: the alias must be local@domain, or @domain for a catch-all\n"
	    "11: the alias must be local@domain, or @domain for a catch-all\n"
	    "12: the alias must be local@domain, or @domain for a catch-all\n"
	    "13: the alias must be local@domain, or @domain for a catch-all\n"
	    "14: target '@local.test' is not an address local@domain\n"
	    "15: target '\"a' is not an address local@domain\n"
	    "16: target '<a@local.test>' is not an address local@domain\n"
	    "19: @other.test was already given at line 18; this line is ignored\n"
	    "17: ok@local.test was already given at line 6; this line is ignored\n"
	    "20: ok@local.test was already given at line 6; this line is ignored\n");
	/* the first line of an alias given twice counts */
	assert_int_equal(a.n, 2);
	assert_string_equal(a.entries[1].address, "ok@local.test");
	assert_string_equal(a.entries[1].targets[0], "alice@local.test");
	aliases_free(&a);
	/* warn may be NULL */
	assert_int_equal(aliases_parse(&a, "bad\nx@y: z@w\nx@y: v@w\n", NULL, NULL), 0);
	assert_int_equal(a.n, 1);
	aliases_free(&a);
}

static const char sample[] = "info@local.test: alice@local.test, Bob@Local.Test\n"
                             "team@local.test: info@local.test carol@local.test "
                             "ALICE@local.test friend@remote.example\n"
                             "sales@local.test: carol@local.test, dave@partner.example\n"
                             "forward@local.test: someone@remote.example\n"
                             "bob@local.test: bob@local.test, bob@remote.example\n"
                             "@other.test: postmaster@local.test\n"
                             "abuse@other.test: alice@local.test\n"
                             "list@other.test: nobody@other.test, alice@local.test\n";

static void test_expand(void **state)
{
	struct aliases a;
	char out[256];
	(void)state;
	parse(&a, sample);
	assert_string_equal(warnings, "");
	assert_expands(&a, "info@local.test", "alice@local.test bob@local.test bob@remote.example");
	assert_expands(&a, "INFO@Local.TEST", "alice@local.test bob@local.test bob@remote.example");
	/* recursive, without duplicates (compared in any case) */
	assert_expands(&a, "team@local.test",
	               "alice@local.test bob@local.test bob@remote.example carol@local.test "
	               "friend@remote.example");
	assert_expands(&a, "sales@local.test", "carol@local.test dave@partner.example");
	assert_expands(&a, "forward@local.test", "someone@remote.example");
	/* a user with an alias of its own: the alias wins; itself inside it is kept */
	assert_expands(&a, "bob@local.test", "bob@local.test bob@remote.example");
	/* not aliases */
	assert_int_equal(expand(&a, "alice@local.test", out, sizeof out), 1);
	assert_int_equal(expand(&a, "nobody@local.test", out, sizeof out), 1);
	assert_int_equal(expand(&a, "someone@remote.example", out, sizeof out), 1);
	assert_int_equal(expand(&a, "not an address", out, sizeof out), 1);
	assert_int_equal(expand(&a, "", out, sizeof out), 1);
	aliases_free(&a);
}

static void test_catch_all(void **state)
{
	struct aliases a;
	char out[256];
	(void)state;
	parse(&a, sample);
	/* an address of the domain that is neither a user nor an alias */
	assert_expands(&a, "anything@other.test", "postmaster@local.test");
	assert_expands(&a, "Anything@OTHER.test", "postmaster@local.test");
	/* an exact alias wins */
	assert_expands(&a, "abuse@other.test", "alice@local.test");
	/* a user of the domain is not taken */
	assert_int_equal(expand(&a, "root@other.test", out, sizeof out), 1);
	/* a target that is no user of that domain goes through the catch-all */
	assert_expands(&a, "list@other.test", "postmaster@local.test alice@local.test");
	/* the catch-all of another domain does not apply */
	assert_int_equal(expand(&a, "anything@local.test", out, sizeof out), 1);
	aliases_free(&a);
}

static void test_loops(void **state)
{
	struct aliases a;
	char out[256];
	(void)state;
	parse(&a, "a@local.test: b@local.test\n"
	          "b@local.test: c@local.test, alice@local.test\n"
	          "c@local.test: a@local.test\n"
	          "self@local.test: self@local.test\n"
	          "alice@local.test: alice@local.test, carol@local.test\n"
	          "ring@local.test: ring2@local.test\n"
	          "ring2@local.test: alice@local.test, ring@local.test\n"
	          "@loop.test: nobody@loop.test\n"
	          "x@local.test: alice@local.test, a@local.test\n");
	assert_string_equal(warnings, "");
	assert_int_equal(expand(&a, "a@local.test", out, sizeof out), -1);
	assert_int_equal(expand(&a, "b@local.test", out, sizeof out), -1);
	assert_int_equal(expand(&a, "self@local.test", out, sizeof out), -1);
	assert_int_equal(expand(&a, "ring@local.test", out, sizeof out), -1);
	/* a catch-all whose target falls back into it */
	assert_int_equal(expand(&a, "anyone@loop.test", out, sizeof out), -1);
	/* a loop anywhere below fails the whole expansion */
	assert_int_equal(expand(&a, "x@local.test", out, sizeof out), -1);
	/* a user met again inside its own alias keeps a copy: no loop */
	assert_expands(&a, "alice@local.test", "alice@local.test carol@local.test");
	aliases_free(&a);
}

static void test_depth(void **state)
{
	struct aliases a;
	char text[2048] = "", out[256];
	(void)state;
	/* a1 -> a2 -> ... -> a9 -> alice */
	for (int i = 1; i <= 9; i++) {
		size_t n = strlen(text);
		if (i < 9)
			snprintf(text + n, sizeof text - n, "a%d@local.test: a%d@local.test\n", i,
			         i + 1);
		else
			snprintf(text + n, sizeof text - n, "a9@local.test: alice@local.test\n");
	}
	parse(&a, text);
	/* eight levels of aliases are fine, nine are not */
	assert_expands(&a, "a2@local.test", "alice@local.test");
	assert_int_equal(expand(&a, "a1@local.test", out, sizeof out), -1);
	aliases_free(&a);
}

/* An alias with N remote targets. */
/* local.test and other.test are ours; remote.test is not. */
static int is_local(const char *addr, void *arg)
{
	const char *at = strrchr(addr, '@');
	(void)arg;
	return at != NULL && (strcmp(at, "@local.test") == 0 || strcmp(at, "@other.test") == 0);
}

static char checked[1024];

static void on_dead_target(const struct alias *al, const char *target, void *arg)
{
	size_t n = strlen(checked);
	(void)arg;
	snprintf(checked + n, sizeof checked - n, "%u %s %s\n", al->line, al->address, target);
}

/* Expands ADDRESS with local domains known; OUT as expand()'s. */
static int expand_local(const struct aliases *a, const char *address, char *out, size_t size,
                        struct aliases_skipped *skipped)
{
	char **targets = (char **)1;
	unsigned n = 99;
	int r = aliases_expand_local(a, address, is_user, is_local, NULL, &targets, &n, skipped);
	out[0] = '\0';
	for (unsigned i = 0; r == 0 && i < n; i++) {
		size_t len = strlen(out);
		snprintf(out + len, size - len, "%s%s", i ? " " : "", targets[i]);
		free(targets[i]);
	}
	if (r == 0)
		free(targets);
	return r;
}

/* A local target that is neither a user nor an alias reaches no mailbox:
 * left out and named (with its alias and line) instead of returned or
 * taken for a loop; the load check names the same targets; remote
 * targets, users and targets another catch-all takes are fine. */
static void test_target_not_a_user(void **state)
{
	struct aliases a;
	struct aliases_skipped sk;
	char out[1024];

	(void)state;
	parse(&a, "@other.test: Ghost@other.test\n"
	          "info@local.test: alice@local.test, nobody@local.test, x@remote.test\n"
	          "none@local.test: nobody@local.test\n"
	          "via@local.test: info@local.test\n"
	          "ok@local.test: whoever@other.test\n");
	assert_int_equal(expand_local(&a, "anyone@other.test", out, sizeof out, &sk), 0);
	assert_string_equal(out, "");
	assert_int_equal(sk.n, 1);
	assert_string_equal(sk.target, "Ghost@other.test");
	assert_string_equal(sk.alias, "@other.test");
	assert_int_equal(sk.line, 1);
	assert_int_equal(expand_local(&a, "info@local.test", out, sizeof out, &sk), 0);
	assert_string_equal(out, "alice@local.test x@remote.test");
	assert_int_equal(sk.n, 1);
	assert_string_equal(sk.target, "nobody@local.test");
	assert_int_equal(sk.line, 2);
	assert_int_equal(expand_local(&a, "via@local.test", out, sizeof out, &sk), 0);
	assert_string_equal(out, "alice@local.test x@remote.test");
	assert_string_equal(sk.alias, "info@local.test");
	assert_int_equal(expand_local(&a, "none@local.test", out, sizeof out, NULL), 0);
	assert_string_equal(out, "");
	/* ok's target is caught by other.test's catch-all, whose own target is
	 * no user: that one is named */
	assert_int_equal(expand_local(&a, "ok@local.test", out, sizeof out, &sk), 0);
	assert_string_equal(sk.target, "Ghost@other.test");
	assert_int_equal(expand_local(&a, "alice@local.test", out, sizeof out, &sk), 1);
	assert_int_equal(sk.n, 0);
	/* without the local domains: the old answers */
	assert_int_equal(expand(&a, "anyone@other.test", out, sizeof out), -1);
	assert_expands(&a, "none@local.test", "nobody@local.test");
	checked[0] = '\0';
	aliases_check_targets(&a, is_user, is_local, NULL, on_dead_target);
	assert_string_equal(checked, "1 @other.test Ghost@other.test\n"
	                             "2 info@local.test nobody@local.test\n"
	                             "3 none@local.test nobody@local.test\n");
	aliases_free(&a);
}

static char *wide_alias(unsigned n)
{
	size_t size = 64 + (size_t)n * 32, len;
	char *text = malloc(size);
	assert_non_null(text);
	len = (size_t)snprintf(text, size, "wide@local.test:");
	for (unsigned i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, size - len, " u%u@remote.example", i);
	return text;
}

static void test_bounds(void **state)
{
	struct aliases a;
	char **targets;
	unsigned n;
	char *text;
	(void)state;
	text = wide_alias(ALIASES_MAX_TARGETS);
	parse(&a, text);
	assert_int_equal(aliases_expand(&a, "wide@local.test", is_user, NULL, &targets, &n), 0);
	assert_int_equal(n, ALIASES_MAX_TARGETS);
	for (unsigned i = 0; i < n; i++)
		free(targets[i]);
	free(targets);
	aliases_free(&a);
	free(text);

	text = wide_alias(ALIASES_MAX_TARGETS + 1);
	parse(&a, text);
	assert_int_equal(aliases_expand(&a, "wide@local.test", is_user, NULL, &targets, &n), -1);
	assert_null(targets);
	assert_int_equal(n, 0);
	aliases_free(&a);
	free(text);

	/* a fan-out that would take exponential work: each level lists the
	 * next one 40 times */
	char line[2048], big[20000] = "";
	for (int i = 1; i <= 5; i++) {
		size_t len = (size_t)snprintf(line, sizeof line, "f%d@local.test:", i);
		for (int j = 0; j < 40; j++)
			len += (size_t)snprintf(line + len, sizeof line - len, " %s%d@local.test",
			                        i < 5 ? "f" : "alice", i + 1);
		snprintf(line + len, sizeof line - len, "\n");
		strcat(big, line);
	}
	parse(&a, big);
	assert_string_equal(warnings, "");
	assert_int_equal(aliases_expand(&a, "f1@local.test", is_user, NULL, &targets, &n), -1);
	assert_null(targets);
	aliases_free(&a);
}

/* The aliases USER owns, joined by " ". */
static const char *owned(const struct aliases *a, const char *user)
{
	static char out[1024];
	char **list = (char **)1;
	unsigned n = aliases_owned_by(a, user, &list);
	out[0] = '\0';
	if (n == 0)
		assert_null(list);
	for (unsigned i = 0; i < n; i++) {
		size_t len = strlen(out);
		snprintf(out + len, sizeof out - len, "%s%s", i ? " " : "", list[i]);
		free(list[i]);
	}
	free(list);
	return out;
}

static void test_owned_by(void **state)
{
	struct aliases a;
	(void)state;
	parse(&a, sample);
	/* directly or through other aliases; not the catch-all; sorted */
	assert_string_equal(owned(&a, "alice@local.test"),
	                    "abuse@other.test info@local.test list@other.test team@local.test");
	assert_string_equal(owned(&a, "Carol@Local.Test"), "sales@local.test team@local.test");
	/* bob's own alias is not listed; the aliases that reach bob through it are */
	assert_string_equal(owned(&a, "bob@local.test"), "info@local.test team@local.test");
	/* the catch-all's target owns no address through it */
	assert_string_equal(owned(&a, "postmaster@local.test"), "");
	assert_string_equal(owned(&a, "someone@remote.example"), "forward@local.test");
	assert_string_equal(owned(&a, "nobody@local.test"), "");
	aliases_free(&a);

	/* without the other users known, a loop is not told from a user keeping
	 * a copy: aliases that list alice around one still count */
	parse(&a, "a@local.test: alice@local.test, b@local.test\nb@local.test: a@local.test\n"
	          "c@local.test: carol@local.test\n");
	assert_string_equal(owned(&a, "alice@local.test"), "a@local.test b@local.test");
	assert_string_equal(owned(&a, "carol@local.test"), "c@local.test");
	aliases_free(&a);
	/* too deep still fails */
	parse(&a, "a1@l.test: a2@l.test\na2@l.test: a3@l.test\na3@l.test: a4@l.test\n"
	          "a4@l.test: a5@l.test\na5@l.test: a6@l.test\na6@l.test: a7@l.test\n"
	          "a7@l.test: a8@l.test\na8@l.test: a9@l.test\na9@l.test: u@l.test\n");
	assert_string_equal(owned(&a, "u@l.test"),
	                    "a2@l.test a3@l.test a4@l.test a5@l.test a6@l.test a7@l.test "
	                    "a8@l.test a9@l.test");
	aliases_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_expand),
	    cmocka_unit_test(test_catch_all),
	    cmocka_unit_test(test_loops),
	    cmocka_unit_test(test_depth),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_owned_by),
	    cmocka_unit_test(test_target_not_a_user),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
