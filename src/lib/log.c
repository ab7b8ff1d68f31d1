/*
 * log.c: see log.h.
 */
#include "lib/log.h"
#include "lib/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

enum log_target { LOG_TARGET_STDERR, LOG_TARGET_SYSLOG, LOG_TARGET_FILE };

static char log_role[32] = "sealmail";
static enum log_target log_target = LOG_TARGET_STDERR;
static int log_fd = STDERR_FILENO; /* stderr or the file */
static int log_journal;            /* stderr is the journal's stream */
static int log_stderr_copy;
static pid_t log_pid;
/* With a file, the processes forked after log_open() write their lines
 * into this pipe and the parent copies them to the file, so that the file
 * can be reopened by the parent alone (log_reopen()). */
static char log_path[4096];
static int log_funnel[2] = {-1, -1};
static int log_child; /* log_fd is the funnel's write end */

/* 1 when JOURNAL_STREAM ("DEV:INODE") names the file on FD: systemd
 * connected it to the journal, which reads priority prefixes. */
static int log_fd_is_journal(int fd)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (env == NULL || sscanf(env, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return 0;
	return fstat(fd, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

/* Opens PATH to append. Root opens it, in a directory that may be the
 * unprivileged user's (data_dir/sealmail.log): a symbolic link there, a
 * second name of another file or a FIFO is refused, so that user cannot
 * make root append to, create or hang on a file of its choosing. */
static int log_open_file(const char *path)
{
	int fd = open(
	    path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK,
	    0640);
	struct stat st;

	if (fd < 0) {
		if (errno == ELOOP)
			errno = EINVAL;
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

static const char *log_open_error(void)
{
	return errno == EINVAL ? "not a regular file of its own (a link, a second name or a FIFO)"
	                       : strerror(errno);
}

void log_init(const char *role, int foreground)
{
	log_set_role(role);
	(void)log_open(role, foreground ? "stderr" : "syslog", NULL);
}

int log_open(const char *role, const char *target, const char **error_r)
{
	int fd;

	log_set_role(role);
	if (strcmp(target, "syslog") == 0) {
		openlog("sealmail", LOG_PID | LOG_NDELAY, LOG_MAIL);
		log_target = LOG_TARGET_SYSLOG;
		return 0;
	}
	if (strcmp(target, "stderr") == 0) {
		log_target = LOG_TARGET_STDERR;
		log_fd = STDERR_FILENO;
		log_journal = log_fd_is_journal(STDERR_FILENO);
		return 0;
	}
	fd = log_open_file(target);
	if (fd < 0 || (log_funnel[0] < 0 && (pipe2(log_funnel, O_CLOEXEC) < 0 ||
	                                     fcntl(log_funnel[0], F_SETFL, O_NONBLOCK) < 0))) {
		if (error_r != NULL)
			*error_r = log_open_error();
		if (fd >= 0)
			close(fd);
		return -1;
	}
	strlcpy_checked(log_path, target, sizeof(log_path));
	if (log_target == LOG_TARGET_FILE)
		close(log_fd);
	log_target = LOG_TARGET_FILE;
	log_fd = fd;
	log_journal = 0;
	return 0;
}

static void log_write_fd(int fd, const char *line, size_t len);

void log_forked(void)
{
	if (log_target != LOG_TARGET_FILE || log_child)
		return;
	close(log_fd);
	close(log_funnel[0]);
	log_fd = log_funnel[1];
	log_funnel[0] = -1;
	log_path[0] = '\0';
	log_child = 1;
}

int log_funnel_fd(void)
{
	return log_target == LOG_TARGET_FILE && !log_child ? log_funnel[0] : -1;
}

void log_funnel_drain(void)
{
	char buf[65536];
	ssize_t n;

	if (log_funnel_fd() < 0)
		return;
	while ((n = read(log_funnel[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			log_write_fd(log_fd, buf, (size_t)n);
}

int log_reopen(const char **error_r)
{
	int fd;

	if (log_funnel_fd() < 0)
		return 0;
	fd = log_open_file(log_path);
	if (fd < 0) {
		*error_r = log_open_error();
		return -1;
	}
	log_funnel_drain(); /* what was written before goes to the old file */
	close(log_fd);
	log_fd = fd;
	return 0;
}

void log_copy_to_stderr(int on)
{
	log_stderr_copy = on;
}

int log_syslog_available(void)
{
	static const int types[] = {SOCK_DGRAM, SOCK_STREAM}; /* as syslog(3) tries */
	struct sockaddr_un sun = {.sun_family = AF_UNIX, .sun_path = "/dev/log"};
	int ok = 0;

	for (unsigned i = 0; i < 2 && !ok; i++) {
		int fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
		close(fd);
	}
	return ok;
}

void log_set_role(const char *role)
{
	strlcpy_checked(log_role, role, sizeof(log_role));
	log_pid = getpid();
}

/* Writes LEN bytes of LINE to FD in one write() where the kernel allows. */
static void log_write_fd(int fd, const char *line, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, line, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		line += n;
		len -= (size_t)n;
	}
}

/* "2026-01-02T03:04:05.123456Z sealmail[PID] role=R level=L MSG\n" */
static size_t log_format_stamped(char *buf, size_t size, const char *level, const char *msg)
{
	struct timeval tv;
	struct tm tm;
	char when[32];
	int n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(buf, size, "%s.%06ldZ sealmail[%d] role=%s level=%s %s\n", when,
	             (long)tv.tv_usec, (int)log_pid, log_role, level, msg);
	return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

/* The length to write of the LEN octets formatted into LINE (SIZE
 * octets): at most PIPE_BUF, ending in a newline. Every process writes to
 * the same stream (the funnel's pipe, the journal's socket, stderr's pipe),
 * and only a write() up to PIPE_BUF is never cut among another's. */
static size_t log_atomic_length(char *line, size_t len, size_t size)
{
	if (len >= size)
		len = size - 1;
	if (len > PIPE_BUF)
		len = PIPE_BUF;
	if (len > 0)
		line[len - 1] = '\n';
	return len;
}

static void log_write(int priority, const char *level, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void log_write(int priority, const char *level, const char *fmt, va_list ap)
{
	char msg[4096], line[4300];
	int saved = errno;
	/* the stamped line is for a file or plain stderr, and for the copy to
	 * stderr: syslog and the journal stamp their own, so per record they
	 * are spared the clock and the formatting */
	int stamped = (log_target != LOG_TARGET_SYSLOG && !log_journal) ||
	              (log_stderr_copy && log_target != LOG_TARGET_STDERR);
	size_t len = 0;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* one record, one line, whatever the text held: a second line could
	 * pass for another event or carry its own journal priority */
	for (char *c = msg; (c = strpbrk(c, "\r\n")) != NULL;)
		*c = ' ';
	if (stamped)
		len = log_atomic_length(line, log_format_stamped(line, sizeof(line), level, msg),
		                        sizeof(line));
	if (log_target == LOG_TARGET_SYSLOG) {
		syslog(priority, "role=%s level=%s %s", log_role, level, msg);
	} else if (log_journal) {
		char jline[4300];
		int n = snprintf(jline, sizeof(jline), "<%d>role=%s pid=%d level=%s %s\n", priority,
		                 log_role, (int)log_pid, level, msg);
		if (n > 0)
			log_write_fd(log_fd, jline,
			             log_atomic_length(jline, (size_t)n, sizeof(jline)));
	} else {
		log_write_fd(log_fd, line, len);
	}
	if (log_stderr_copy && !(log_target == LOG_TARGET_STDERR))
		log_write_fd(STDERR_FILENO, line, len);
	errno = saved;
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(LOG_INFO, "info", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(LOG_WARNING, "warning", fmt, ap);
	va_end(ap);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(LOG_ERR, "error", fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(LOG_CRIT, "fatal", fmt, ap);
	va_end(ap);
	exit(1);
}

static int log_safe_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '\\';
}

const char *log_value(const char *s, char *buf, size_t size)
{
	const unsigned char *p;
	size_t o = 0;
	int plain = *s != '\0';

	for (p = (const unsigned char *)s; *p && plain; p++)
		plain = log_safe_char(*p);
	if (plain) {
		snprintf(buf, size, "%s", s);
		return buf;
	}
	if (size < 8) {
		buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (p = (const unsigned char *)s; *p && o + 6 < size; p++) {
		if (*p == '"' || *p == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)*p;
		} else if (*p < 0x20 || *p >= 0x7f) {
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", *p);
		} else {
			buf[o++] = (char)*p;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

const char *log_address(const char *addr, char *buf, size_t size)
{
	char bracketed[1024];

	snprintf(bracketed, sizeof(bracketed), "<%s>", addr);
	return log_value(bracketed, buf, size);
}
