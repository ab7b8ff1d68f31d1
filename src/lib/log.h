/*
 * log.h: one line per event, as key=value pairs.
 *
 * In the foreground lines go to stderr with a timestamp; otherwise to syslog
 * (facility mail). Every line carries the role that wrote it; lines about a
 * message carry its queue id (id=...), lines about a session its session id.
 */
#ifndef SEALMAIL_LOG_H
#define SEALMAIL_LOG_H

#include <stddef.h>

void log_init(const char *role, int foreground);
/* Changes the role name printed on each line (after fork). */
void log_set_role(const char *role);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Logs and exits: only for "cannot continue at all" at start-up. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Formats S as a log value into BUF: as is when it has only safe characters,
 * otherwise in double quotes with \" \\ and \xHH escapes. Returns BUF. */
const char *log_value(const char *s, char *buf, size_t size);

/* Formats the address ADDR as "<ADDR>" into BUF, quoted like log_value()
 * when it holds a space, a quote or anything else that could make a reader
 * see a second key=value pair ("<\"a event=x\"@b>" stays one value); the
 * null sender is "<>". Returns BUF. */
const char *log_address(const char *addr, char *buf, size_t size);

#endif
