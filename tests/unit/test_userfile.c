/*
 * test_userfile.c: editing the users file: add, passwd, del, list; what is
 * kept as it was (comments, other lines, mode, no wider than 0640); atomic replacement.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/userfile.h"
#include "lib/util.h"

struct fixture {
	char dir[256];
	char path[300];
	char *error;
	char listed[4096]; /* what userfile_list reported, one line each */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	const char *tmp = getenv("TMPDIR");
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof f->dir, "%s/test_userfile.XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof f->path, "%s/users", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	DIR *d = opendir(f->dir);
	struct dirent *e;
	char path[600];
	while (d && (e = readdir(d)) != NULL) {
		snprintf(path, sizeof path, "%s/%s", f->dir, e->d_name);
		if (e->d_name[0] != '.')
			unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(f->dir);
	free(f->error);
	free(f);
	return 0;
}

static void write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

/* The file's content (static, until the next call). */
static const char *contents(const char *path)
{
	static char *text;
	size_t len;
	free(text);
	text = read_file(path, 1 << 20, &len);
	assert_non_null(text);
	return text;
}

static void on_user(const char *address, int can_login, void *arg)
{
	struct fixture *f = arg;
	size_t n = strlen(f->listed);
	snprintf(f->listed + n, sizeof f->listed - n, "%s%s\n", address,
	         can_login ? "" : " (no login)");
}

static const char *list(struct fixture *f)
{
	f->listed[0] = '\0';
	assert_int_equal(userfile_list(f->path, on_user, f, &f->error), 0);
	assert_null(f->error);
	return f->listed;
}

/* Checks that CALL failed with EXPECTED as its message. */
#define expect_error(f, call, expected)                                                            \
	do {                                                                                       \
		free((f)->error);                                                                  \
		(f)->error = NULL;                                                                 \
		assert_int_equal((call), -1);                                                      \
		assert_non_null((f)->error);                                                       \
		assert_string_equal((f)->error, (expected));                                       \
	} while (0)

/* Checks that only PATH and PATH.lock are left in the directory. */
static void no_leftovers(struct fixture *f)
{
	DIR *d = opendir(f->dir);
	struct dirent *e;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && strcmp(e->d_name, "users") != 0 &&
		    strcmp(e->d_name, "users.lock") != 0)
			fail_msg("left over: %s", e->d_name);
	closedir(d);
}

static void test_add_list_passwd_del(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(userfile_add(f->path, "Alice@Local.Test", "$y$j9T$a$b", &f->error), 0);
	assert_null(f->error);
	assert_int_equal(userfile_add(f->path, "bob@local.test", "*", &f->error), 0);
	assert_string_equal(contents(f->path), "alice@local.test:$y$j9T$a$b\nbob@local.test:*\n");
	assert_string_equal(list(f), "alice@local.test\nbob@local.test (no login)\n");

	assert_int_equal(userfile_set_hash(f->path, "BOB@local.test", "$6$s$h", &f->error), 0);
	assert_string_equal(contents(f->path),
	                    "alice@local.test:$y$j9T$a$b\nbob@local.test:$6$s$h\n");
	assert_string_equal(list(f), "alice@local.test\nbob@local.test\n");

	assert_int_equal(userfile_delete(f->path, "alice@LOCAL.test", &f->error), 0);
	assert_string_equal(contents(f->path), "bob@local.test:$6$s$h\n");
	assert_int_equal(userfile_delete(f->path, "bob@local.test", &f->error), 0);
	assert_string_equal(contents(f->path), "");
	assert_string_equal(list(f), "");
	no_leftovers(f);
}

static void test_duplicate_and_unknown(void **state)
{
	struct fixture *f = *state;
	char expected[600];
	write_text(f->path, "# users\nalice@local.test:*\n");
	snprintf(expected, sizeof expected, "alice@local.test is already a user (%s, line 2)",
	         f->path);
	expect_error(f, userfile_add(f->path, "ALICE@local.TEST", "*", &f->error), expected);
	snprintf(expected, sizeof expected, "carol@local.test is not a user in %s", f->path);
	expect_error(f, userfile_set_hash(f->path, "carol@local.test", "*", &f->error), expected);
	expect_error(f, userfile_delete(f->path, "Carol@local.test", &f->error), expected);
	/* nothing was changed */
	assert_string_equal(contents(f->path), "# users\nalice@local.test:*\n");
	no_leftovers(f);
}

static void test_bad_arguments(void **state)
{
	struct fixture *f = *state;
	expect_error(f, userfile_add(f->path, "alice", "*", &f->error),
	             "'alice' is not an address user@domain that fits the users file");
	expect_error(f, userfile_add(f->path, "@local.test", "*", &f->error),
	             "'@local.test' is not an address user@domain that fits the users file");
	expect_error(f, userfile_add(f->path, "a:b@local.test", "*", &f->error),
	             "'a:b@local.test' is not an address user@domain that fits the users file");
	expect_error(f, userfile_add(f->path, "#a@local.test", "*", &f->error),
	             "'#a@local.test' is not an address user@domain that fits the users file");
	expect_error(f, userfile_add(f->path, "a b@local.test", "*", &f->error),
	             "'a b@local.test' is not an address user@domain that fits the users file");
	expect_error(f, userfile_add(f->path, "a@local.test", "", &f->error),
	             "the hash is empty (write * for a user who cannot log in)");
	expect_error(f, userfile_add(f->path, "a@local.test", "$1:2", &f->error),
	             "the hash contains ':', white space or a control character");
	expect_error(f, userfile_set_hash(f->path, "a@local.test", "x\ny", &f->error),
	             "the hash contains ':', white space or a control character");
	/* no file was made */
	assert_int_equal(access(f->path, F_OK), -1);
}

static void test_missing_file(void **state)
{
	struct fixture *f = *state;
	char expected[600];
	snprintf(expected, sizeof expected, "cannot open %s: No such file or directory", f->path);
	expect_error(f, userfile_set_hash(f->path, "a@local.test", "*", &f->error), expected);
	expect_error(f, userfile_delete(f->path, "a@local.test", &f->error), expected);
	expect_error(f, userfile_list(f->path, on_user, f, &f->error), expected);
	/* error_r may be NULL */
	assert_int_equal(userfile_delete(f->path, "a@local.test", NULL), -1);
}

static void test_other_lines_kept(void **state)
{
	struct fixture *f = *state;
	write_text(f->path, "# the users of local.test\n"
	                    "\n"
	                    "Alice@Local.Test:$y$old:extra:fields\r\n"
	                    "   \n"
	                    "not a user line\n"
	                    "bob@local.test:*\n"
	                    "# alice@local.test:commented\n"
	                    "carol@local.test:!locked");
	assert_int_equal(userfile_set_hash(f->path, "alice@local.test", "$y$new", &f->error), 0);
	assert_string_equal(contents(f->path), "# the users of local.test\n"
	                                       "\n"
	                                       "Alice@Local.Test:$y$new:extra:fields\r\n"
	                                       "   \n"
	                                       "not a user line\n"
	                                       "bob@local.test:*\n"
	                                       "# alice@local.test:commented\n"
	                                       "carol@local.test:!locked");
	assert_string_equal(
	    list(f), "alice@local.test\nbob@local.test (no login)\ncarol@local.test (no login)\n");
	/* an unterminated last line gets its newline before a new line */
	assert_int_equal(userfile_add(f->path, "dave@local.test", "$y$d", &f->error), 0);
	assert_int_equal(userfile_delete(f->path, "bob@local.test", &f->error), 0);
	assert_string_equal(contents(f->path), "# the users of local.test\n"
	                                       "\n"
	                                       "Alice@Local.Test:$y$new:extra:fields\r\n"
	                                       "   \n"
	                                       "not a user line\n"
	                                       "# alice@local.test:commented\n"
	                                       "carol@local.test:!locked\n"
	                                       "dave@local.test:$y$d\n");
	no_leftovers(f);
}

static void test_every_line_of_a_duplicate(void **state)
{
	struct fixture *f = *state;
	write_text(f->path, "a@local.test:$1\nb@local.test:*\nA@LOCAL.TEST:$2:x\n");
	assert_int_equal(userfile_set_hash(f->path, "a@local.test", "$3", &f->error), 0);
	assert_string_equal(contents(f->path),
	                    "a@local.test:$3\nb@local.test:*\nA@LOCAL.TEST:$3:x\n");
	assert_int_equal(userfile_delete(f->path, "a@local.test", &f->error), 0);
	assert_string_equal(contents(f->path), "b@local.test:*\n");
}

static void test_mode_kept_or_narrowed(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	mode_t old = umask(077);
	/* a new file gets 0640 whatever the umask */
	assert_int_equal(userfile_add(f->path, "a@local.test", "*", &f->error), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, USERFILE_DEFAULT_MODE);
	/* an existing file keeps its own, narrowed to 0640: no other user
	 * reads the hashes, nor does the group change them */
	assert_int_equal(chmod(f->path, 0604), 0);
	assert_int_equal(userfile_add(f->path, "b@local.test", "*", &f->error), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(chmod(f->path, 0666), 0);
	assert_int_equal(userfile_set_hash(f->path, "b@local.test", "$y$z", &f->error), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(chmod(f->path, 0440), 0);
	assert_int_equal(userfile_set_hash(f->path, "b@local.test", "$y$w", &f->error), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0440);
	assert_int_equal(chmod(f->path, 0600), 0);
	assert_int_equal(userfile_set_hash(f->path, "b@local.test", "$y$x", &f->error), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	umask(old);
	no_leftovers(f);
}

static void test_replaced_atomically(void **state)
{
	struct fixture *f = *state;
	struct stat before, after;
	write_text(f->path, "a@local.test:*\n");
	assert_int_equal(stat(f->path, &before), 0);
	assert_int_equal(userfile_set_hash(f->path, "a@local.test", "$y$x", &f->error), 0);
	assert_int_equal(stat(f->path, &after), 0);
	/* a new file renamed into place: a reader has the old or the new one */
	assert_true(before.st_ino != after.st_ino);
	/* a stale temporary file of this PID does not get in the way */
	char tmp[400];
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", f->path, (long)getpid());
	write_text(tmp, "garbage");
	assert_int_equal(userfile_delete(f->path, "a@local.test", &f->error), 0);
	assert_int_equal(access(tmp, F_OK), -1);
	no_leftovers(f);
}

static void test_symlink_followed(void **state)
{
	struct fixture *f = *state;
	char target[400], link[400];
	struct stat st;
	snprintf(target, sizeof target, "%s/users.real", f->dir);
	snprintf(link, sizeof link, "%s/users.link", f->dir);
	write_text(target, "a@local.test:*\n");
	assert_int_equal(symlink("users.real", link), 0);
	assert_int_equal(userfile_add(link, "b@local.test", "*", &f->error), 0);
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_string_equal(contents(target), "a@local.test:*\nb@local.test:*\n");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_add_list_passwd_del), T(test_duplicate_and_unknown),
	    T(test_bad_arguments),       T(test_missing_file),
	    T(test_other_lines_kept),    T(test_every_line_of_a_duplicate),
	    T(test_mode_kept_or_narrowed),           T(test_replaced_atomically),
	    T(test_symlink_followed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
