/*
 * test_log.c: log values and addresses are one key=value field each,
 * whatever a client put in them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"

static void test_log_value(void **state)
{
	char buf[128];

	assert_string_equal(log_value("plain@x.test", buf, sizeof(buf)), "plain@x.test");
	assert_string_equal(log_value("", buf, sizeof(buf)), "\"\"");
	assert_string_equal(log_value("a b", buf, sizeof(buf)), "\"a b\"");
	assert_string_equal(log_value("a\"b\\c", buf, sizeof(buf)), "\"a\\\"b\\\\c\"");
	assert_string_equal(log_value("a\nb\x7f", buf, sizeof(buf)), "\"a\\x0ab\\x7f\"");
}

static void test_log_address(void **state)
{
	char buf[256];

	assert_string_equal(log_address("bob@local.test", buf, sizeof(buf)), "<bob@local.test>");
	assert_string_equal(log_address("", buf, sizeof(buf)), "<>"); /* the null sender */
	/* a quoted local part that reads like more fields stays one value */
	assert_string_equal(
	    log_address("\"x event=delivered relay=local\"@remote.test", buf, sizeof(buf)),
	    "\"<\\\"x event=delivered relay=local\\\"@remote.test>\"");
	assert_string_equal(log_address("a\r\nevent=x@y", buf, sizeof(buf)),
	                    "\"<a\\x0d\\x0aevent=x@y>\"");
}

/* The log file sits in data_dir, which the unprivileged user owns, and
 * root opens it: a link put there in its place must not make root append
 * to (or create) the file it points at. */
static void test_log_open_refuses_links(void **state)
{
	char dir[] = "/tmp/sealmail-test-log-XXXXXX", path[128], target[128], fifo[128];
	const char *why = NULL;
	struct stat st;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sealmail.log", dir);
	snprintf(target, sizeof(target), "%s/victim", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo.log", dir);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(log_open("test", path, &why), -1);
	assert_non_null(why);
	assert_int_equal(lstat(target, &st), -1); /* not created through the link */
	assert_int_equal(unlink(path), 0);

	close(open(target, O_WRONLY | O_CREAT, 0600));
	assert_int_equal(link(target, path), 0); /* a second name of another file */
	assert_int_equal(log_open("test", path, &why), -1);
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(unlink(path), 0);

	assert_int_equal(mkfifo(fifo, 0600), 0); /* refused, and without blocking */
	assert_int_equal(log_open("test", fifo, &why), -1);

	assert_int_equal(log_open("test", path, &why), 0); /* a file of its own is fine */
	log_info("event=test");
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size > 0);
	assert_int_equal(log_open("test", "stderr", &why), 0);
	unlink(path);
	unlink(target);
	unlink(fifo);
	rmdir(dir);
}

/* A text with line breaks in it (an error message, a value logged
 * unescaped by mistake) stays one record: a second line could pass for
 * another event, or carry its own journal priority prefix. */
static void test_log_record_is_one_line(void **state)
{
	char dir[] = "/tmp/sealmail-test-log-XXXXXX", path[128], text[512];
	const char *why = NULL;
	ssize_t n;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sealmail.log", dir);
	assert_int_equal(log_open("test", path, &why), 0);
	log_warn("event=x reason=\"one\ntwo\r\n<0>2026-01-01T00:00:00.000000Z sealmail[1] "
	         "role=parent level=info event=delivered\"");
	fd = open(path, O_RDONLY);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	assert_true(n > 0);
	text[n] = '\0';
	assert_non_null(strstr(text, "one two  <0>2026"));
	assert_ptr_equal(strchr(text, '\n'), text + n - 1);
	assert_null(strchr(text, '\r'));
	assert_int_equal(log_open("test", "stderr", &why), 0);
	unlink(path);
	rmdir(dir);
}

/* Every process of the server writes to the same stderr (the journal's
 * stream, a pipe to a logger): a record longer than PIPE_BUF could be
 * cut into pieces interleaved with another process's. Each is one write
 * of at most PIPE_BUF octets ending in a newline. */
static void test_long_record_fits_one_atomic_write(void **state)
{
	static char big[6000], text[8192];
	const char *why = NULL;
	int fds[2], saved = dup(STDERR_FILENO);
	ssize_t n;

	memset(big, 'x', sizeof(big) - 1);
	assert_int_equal(pipe(fds), 0);
	dup2(fds[1], STDERR_FILENO);
	assert_int_equal(log_open("test", "stderr", &why), 0);
	log_info("event=x value=%s", big);
	dup2(saved, STDERR_FILENO);
	close(fds[1]);
	n = read(fds[0], text, sizeof(text));
	close(fds[0]);
	close(saved);
	assert_true(n > 1000);
	assert_true(n <= PIPE_BUF);
	assert_int_equal(text[n - 1], '\n');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_log_value),
	    cmocka_unit_test(test_log_address),
	    cmocka_unit_test(test_log_open_refuses_links),
	    cmocka_unit_test(test_log_record_is_one_line),
	    cmocka_unit_test(test_long_record_fits_one_atomic_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
