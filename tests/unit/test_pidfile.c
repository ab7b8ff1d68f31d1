/*
 * test_pidfile.c: the pidfile's parser, taken whole and cut at every byte,
 * and its life: claimed with O_EXCL, a stale one replaced, a live
 * sealmail's refused, a FIFO or link in its place never read or written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/pidfile.h"

static int parse(const char *s, pid_t *pid)
{
	return pidfile_parse(s, strlen(s), pid);
}

static void test_parse(void **state)
{
	static const struct {
		const char *text;
		size_t len;
	} bad[] = {
	    {"", 0},
	    {"\n", 1},
	    {"0\n", 2},
	    {"-5\n", 3},
	    {"+5\n", 3},
	    {" 5\n", 3},
	    {"5 \n", 3},
	    {"5\n\n", 3},
	    {"5\n6", 3},
	    {"05\n", 3},
	    {"5a\n", 3},
	    {"5\r\n", 3},
	    {"\0"
	     "5",
	     2},
	    {"5\0", 2},
	    {"2147483648\n", 11},
	    {"99999999999999999999\n", 21},
	};
	pid_t pid = 0;

	assert_int_equal(parse("4242\n", &pid), 0);
	assert_int_equal(pid, 4242);
	assert_int_equal(parse("1", &pid), 0);
	assert_int_equal(pid, 1);
	assert_int_equal(parse("2147483647\n", &pid), 0);
	assert_int_equal(pid, 2147483647);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pid = 77;
		assert_int_equal(pidfile_parse(bad[i].text, bad[i].len, &pid), -1);
		assert_int_equal(pid, 77); /* untouched on failure */
	}
}

/* Every cut of a good pidfile: each non-empty prefix of the digits is a
 * pid; the empty prefix is not. */
static void test_parse_every_cut(void **state)
{
	const char *text = "1234567\n";
	pid_t pid;

	assert_int_equal(pidfile_parse(text, 0, &pid), -1);
	for (size_t len = 1; len <= strlen(text); len++) {
		char want[16];
		assert_int_equal(pidfile_parse(text, len, &pid), 0);
		snprintf(want, sizeof(want), "%d", (int)pid);
		assert_memory_equal(want, text, strlen(want));
		assert_int_equal(strlen(want), len < 8 ? len : 7);
	}
}

static char dir[] = "/tmp/test_pidfile.XXXXXX";
static char path[128];

static int setup(void **state)
{
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/sealmail.pid", dir);
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	return rmdir(dir);
}

static void write_pid(pid_t pid)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%d\n", (int)pid);
	fclose(f);
}

static pid_t dead_pid(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return pid;
}

static void test_claim_and_remove(void **state)
{
	const char *why = NULL;
	pid_t other = -1, pid;

	assert_int_equal(pidfile_claim(path, &other, &why), 0);
	assert_int_equal(other, 0);
	assert_int_equal(pidfile_read(path, &pid), 1);
	assert_int_equal(pid, getpid());
	assert_int_equal(pidfile_update(), 0);
	pidfile_remove();
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(pidfile_read(path, &pid), 0);
}

static void test_stale_replaced(void **state)
{
	const char *why = NULL;
	pid_t other, pid;

	write_pid(dead_pid());
	assert_int_equal(pidfile_claim(path, &other, &why), 0);
	assert_int_equal(pidfile_read(path, &pid), 1);
	assert_int_equal(pid, getpid());
	pidfile_remove();
	/* a live process that is not sealmail (this test) is stale too */
	write_pid(getppid());
	assert_int_equal(pidfile_claim(path, &other, &why), 0);
	pidfile_remove();
}

static void test_live_sealmail_refused(void **state)
{
	int ready[2];
	const char *why = NULL;
	pid_t child, other = 0;
	char c;

	assert_int_equal(pipe(ready), 0);
	child = fork();
	if (child == 0) {
		prctl(PR_SET_NAME, "sealmail-parent", 0, 0, 0);
		(void)!write(ready[1], "x", 1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	write_pid(child);
	assert_true(pidfile_process_alive(child));
	assert_int_equal(pidfile_claim(path, &other, &why), -1);
	assert_int_equal(other, child);
	assert_non_null(strstr(why, "another sealmail runs"));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	/* reaped: gone; a zombie would count as gone as well */
	assert_false(pidfile_process_alive(child));
	unlink(path);
	close(ready[0]);
	close(ready[1]);
}

/* A stale pidfile whose pid went to another sealmail process (a user's
 * `sealmail send` or `mailq`, a role of another server): not the server,
 * so `stop` does not signal it and `serve` does not refuse to start. */
static void test_other_sealmail_process_is_not_the_server(void **state)
{
	static const char *const names[] = {"sealmail", "sealmail-queue", "sealmail-pare"};

	for (unsigned i = 0; i < 3; i++) {
		int ready[2];
		pid_t child;
		int alive;
		char c;

		assert_int_equal(pipe(ready), 0);
		child = fork();
		if (child == 0) {
			prctl(PR_SET_NAME, names[i], 0, 0, 0);
			(void)!write(ready[1], "x", 1);
			pause();
			_exit(0);
		}
		assert_int_equal(read(ready[0], &c, 1), 1);
		alive = pidfile_process_alive(child);
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		close(ready[0]);
		close(ready[1]);
		assert_false(alive);
	}
}

static void test_not_a_regular_file(void **state)
{
	pid_t pid;

	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(pidfile_read(path, &pid), -1); /* and did not block */
	assert_int_equal(errno, EINVAL);
	unlink(path);
	assert_int_equal(symlink("/etc/hostname", path), 0);
	assert_int_equal(pidfile_read(path, &pid), -1);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_parse_every_cut),
	    cmocka_unit_test(test_claim_and_remove),
	    cmocka_unit_test(test_stale_replaced),
	    cmocka_unit_test(test_live_sealmail_refused),
	    cmocka_unit_test(test_other_sealmail_process_is_not_the_server),
	    cmocka_unit_test(test_not_a_regular_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
