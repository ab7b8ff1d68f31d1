/*
 * log.c: see log.h.
 */
#include "lib/log.h"
#include "lib/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static char log_role[32] = "sealmail";
static int log_foreground = 1;
static pid_t log_pid;

void log_init(const char *role, int foreground)
{
	log_foreground = foreground;
	log_set_role(role);
	if (!foreground)
		openlog("sealmail", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_set_role(const char *role)
{
	strlcpy_checked(log_role, role, sizeof(log_role));
	log_pid = getpid();
}

static void log_write(int priority, const char *level, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void log_write(int priority, const char *level, const char *fmt, va_list ap)
{
	char msg[4096];
	int saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_foreground) {
		struct timeval tv;
		struct tm tm;
		char when[32];

		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%06ldZ sealmail[%d] role=%s level=%s %s\n", when,
		        (long)tv.tv_usec, (int)log_pid, log_role, level, msg);
	} else {
		syslog(priority, "role=%s level=%s %s", log_role, level, msg);
	}
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
