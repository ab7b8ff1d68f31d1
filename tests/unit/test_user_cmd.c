/*
 * test_user_cmd.c: `sealmail user` end to end on a temporary users file,
 * with passwords given through --stdin (the terminal is never used).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/password.h"
#include "ctl/user_cmd.h"
#include "lib/util.h"
#include "lookup/users.h"

struct fixture {
	char dir[256];
	char conf[300];
	char users[300];
	char out[8192]; /* what the last run wrote to stdout */
	char err[8192]; /* and to stderr */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	const char *tmp = getenv("TMPDIR");
	FILE *fp;
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof f->dir, "%s/test_user_cmd.XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->conf, sizeof f->conf, "%s/sealmail.conf", f->dir);
	snprintf(f->users, sizeof f->users, "%s/users", f->dir);
	fp = fopen(f->conf, "w");
	if (fp == NULL)
		return -1;
	fprintf(fp,
	        "[server]\nhostname = mx.local.test\nlocal_domains = local.test, Other.Test\n"
	        "users = %s\n[listen mx]\naddress = 127.0.0.1:2525\ntls = none\n",
	        f->users);
	fclose(fp);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[400];
	static const char *const names[] = {"sealmail.conf", "users",  "users.lock",
	                                    "stdin",         "stdout", "stderr"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", f->dir, names[i]);
		unlink(path);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Points FD at the file NAME in the test directory (created empty, or
 * holding TEXT); returns a copy of the old FD. */
static int redirect(struct fixture *f, int fd, const char *name, const char *text)
{
	char path[400];
	int saved = dup(fd), new_fd;
	snprintf(path, sizeof path, "%s/%s", f->dir, name);
	new_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && new_fd >= 0);
	if (text)
		assert_int_equal(write(new_fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(lseek(new_fd, 0, SEEK_SET), 0);
	assert_int_equal(dup2(new_fd, fd), fd);
	close(new_fd);
	return saved;
}

/* Puts FD back to SAVED and reads what was written to NAME into BUF. */
static void restore(struct fixture *f, int fd, int saved, const char *name, char *buf, size_t size)
{
	char path[400];
	size_t len;
	char *text;
	assert_int_equal(dup2(saved, fd), fd);
	close(saved);
	if (buf == NULL)
		return;
	snprintf(path, sizeof path, "%s/%s", f->dir, name);
	text = read_file(path, size - 1, &len);
	assert_non_null(text);
	memcpy(buf, text, len + 1);
	free(text);
}

/* Runs "user" with the words of ARGS (space-separated; "CONF" stands for
 * the configuration file) and STDIN_TEXT as standard input. */
static int run(struct fixture *f, const char *args, const char *stdin_text)
{
	char line[1024], *argv[32], *save = NULL;
	int argc = 0, in, out, err, r;
	snprintf(line, sizeof line, "user %s", args);
	for (char *w = strtok_r(line, " ", &save); w && argc < 31; w = strtok_r(NULL, " ", &save))
		argv[argc++] = strcmp(w, "CONF") == 0 ? f->conf : w;
	argv[argc] = NULL;
	fflush(stdout);
	fflush(stderr);
	in = redirect(f, 0, "stdin", stdin_text ? stdin_text : "");
	out = redirect(f, 1, "stdout", NULL);
	err = redirect(f, 2, "stderr", NULL);
	r = cmd_user(argc, argv);
	fflush(stdout);
	fflush(stderr);
	restore(f, 2, err, "stderr", f->err, sizeof f->err);
	restore(f, 1, out, "stdout", f->out, sizeof f->out);
	restore(f, 0, in, "stdin", NULL, 0);
	return r;
}

/* The hash of ADDRESS in the users file, checked against PASSWORD. */
static void expect_password(struct fixture *f, const char *address, const char *password)
{
	struct users_db db;
	size_t len;
	char *text = read_file(f->users, 1 << 20, &len);
	assert_non_null(text);
	users_db_parse(&db, text, NULL, NULL);
	const char *hash = users_db_hash(&db, address);
	assert_non_null(hash);
	assert_memory_equal(hash, "$y$", 3);
	assert_int_equal(password_verify(password, hash), 1);
	users_db_free(&db);
	free(text);
}

static void test_add_passwd_list_del(void **state)
{
	struct fixture *f = *state;
	char expected[600];
	assert_int_equal(run(f, "add Alice@Local.TEST --stdin -c CONF", "s3cret pass\n"), 0);
	assert_string_equal(f->err, "");
	expect_password(f, "alice@local.test", "s3cret pass");
	/* options before the address, a last line without newline */
	assert_int_equal(run(f, "add -c CONF --stdin bob@other.test", "pw"), 0);
	expect_password(f, "bob@other.test", "pw");

	assert_int_equal(run(f, "passwd alice@local.test --stdin -c CONF", "new one\r\nrest\n"), 0);
	expect_password(f, "alice@local.test", "new one");

	FILE *fp = fopen(f->users, "a");
	assert_non_null(fp);
	fputs("# a comment\ncarol@local.test:*\n", fp);
	fclose(fp);
	assert_int_equal(run(f, "list -c CONF", NULL), 0);
	assert_string_equal(f->out,
	                    "alice@local.test\nbob@other.test\ncarol@local.test (no login)\n");
	assert_string_equal(f->err, "");

	assert_int_equal(run(f, "del bob@other.test -c CONF", NULL), 0);
	assert_int_equal(run(f, "del bob@other.test -c CONF", NULL), 1);
	snprintf(expected, sizeof expected, "sealmail user: bob@other.test is not a user in %s\n",
	         f->users);
	assert_string_equal(f->err, expected);
	assert_int_equal(run(f, "list -c CONF", NULL), 0);
	assert_string_equal(f->out, "alice@local.test\ncarol@local.test (no login)\n");
}

static void test_errors(void **state)
{
	struct fixture *f = *state;
	char expected[600];
	assert_int_equal(run(f, "add alice@local.test --stdin -c CONF", "pw\n"), 0);
	assert_int_equal(run(f, "add ALICE@local.test --stdin -c CONF", "pw\n"), 1);
	snprintf(expected, sizeof expected,
	         "sealmail user: alice@local.test is already a user (%s, line 1)\n", f->users);
	assert_string_equal(f->err, expected);

	assert_int_equal(run(f, "add dave@elsewhere.test --stdin -c CONF", "pw\n"), 1);
	snprintf(expected, sizeof expected,
	         "sealmail user: elsewhere.test is not one of local_domains in %s\n", f->conf);
	assert_string_equal(f->err, expected);
	assert_int_equal(run(f, "passwd dave@elsewhere.test --stdin -c CONF", "pw\n"), 1);
	assert_string_equal(f->err, expected);
	/* del takes any domain: users of a domain no longer served can go */
	assert_int_equal(run(f, "del dave@elsewhere.test -c CONF", NULL), 1);
	snprintf(expected, sizeof expected,
	         "sealmail user: dave@elsewhere.test is not a user in %s\n", f->users);
	assert_string_equal(f->err, expected);

	assert_int_equal(run(f, "add dave --stdin -c CONF", "pw\n"), 1);
	assert_string_equal(f->err, "sealmail user: 'dave' is not an address user@domain (Syntax "
	                            "error: address must have a domain)\n");
	assert_int_equal(run(f, "add <dave@local.test> --stdin -c CONF", "pw\n"), 1);
	assert_string_equal(f->err, "sealmail user: '<dave@local.test>' is not an address "
	                            "user@domain (white space and angle brackets are not "
	                            "allowed)\n");
	assert_int_equal(run(f, "add \"d\"@local.test --stdin -c CONF", "pw\n"), 1);
	assert_string_equal(f->err, "sealmail user: '\"d\"@local.test' is not an address "
	                            "user@domain (quoted local parts are not supported in the "
	                            "users file)\n");

	assert_int_equal(run(f, "add dave@local.test --stdin -c CONF", ""), 1);
	assert_string_equal(f->err, "sealmail user: the password is empty\n");
	assert_int_equal(run(f, "add dave@local.test --stdin -c CONF", "\nsecond line\n"), 1);
	assert_string_equal(f->err, "sealmail user: the password is empty\n");
	char long_password[1200];
	memset(long_password, 'x', sizeof long_password - 1);
	long_password[sizeof long_password - 1] = '\0';
	assert_int_equal(run(f, "add dave@local.test --stdin -c CONF", long_password), 1);
	assert_string_equal(f->err, "sealmail user: the password is too long\n");
	long_password[600] = '\0';
	assert_int_equal(run(f, "add dave@local.test --stdin -c CONF", long_password), 1);
	assert_string_equal(f->err,
	                    "sealmail user: the password is too long (at most 511 octets)\n");
	/* nothing was added by the failures */
	assert_int_equal(run(f, "list -c CONF", NULL), 0);
	assert_string_equal(f->out, "alice@local.test\n");
}

static void test_config_and_file_errors(void **state)
{
	struct fixture *f = *state;
	char expected[600];
	assert_int_equal(run(f, "list -c /nonexistent/sealmail.conf", NULL), 1);
	assert_string_equal(f->err,
	                    "/nonexistent/sealmail.conf: cannot open: No such file or directory\n");
	/* no users file yet */
	assert_int_equal(run(f, "list -c CONF", NULL), 1);
	snprintf(expected, sizeof expected,
	         "sealmail user: cannot open %s: No such file or directory\n", f->users);
	assert_string_equal(f->err, expected);
	assert_int_equal(run(f, "passwd alice@local.test --stdin -c CONF", "pw\n"), 1);
	assert_string_equal(f->err, expected);
}

static void test_usage(void **state)
{
	static const char *const bad[] = {
	    "",
	    "frob",
	    "add",
	    "add -c CONF",
	    "add a@local.test b@local.test -c CONF",
	    "list extra -c CONF",
	    "del a@local.test --stdin -c CONF",
	    "list --stdin -c CONF",
	    "add --bogus a@local.test -c CONF",
	    "add a@local.test -c",
	};
	struct fixture *f = *state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (run(f, bad[i], "pw\n") != 2)
			fail_msg("'user %s' was not a usage error", bad[i]);
		assert_memory_equal(f->err, "usage: sealmail user add", 24);
	}
	assert_int_equal(run(f, "-h", NULL), 0);
	assert_memory_equal(f->out, "usage: sealmail user add", 24);
	assert_int_equal(run(f, "add -h", NULL), 0);
	assert_memory_equal(f->out, "usage: sealmail user add", 24);
	assert_string_equal(f->err, "");
	/* nothing was made */
	assert_int_equal(access(f->users, F_OK), -1);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_add_passwd_list_del),
	    T(test_errors),
	    T(test_config_and_file_errors),
	    T(test_usage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
