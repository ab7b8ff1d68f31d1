/*
 * log.h: one line per event, as key=value pairs.
 *
 * Lines go to stderr, to syslog (facility mail) or to a file (log_open()).
 * On stderr and in a file each line starts with a timestamp; when stderr is
 * the journal's stream (JOURNAL_STREAM names it) each line starts instead
 * with the sd-daemon priority prefix (<6> info, <4> warning, <3> error, <2>
 * fatal) and names the writer's pid, since the journal credits every line
 * of the stream to the process that opened it. Every line carries the role
 * that wrote it; lines about a message carry its queue id (id=...), lines
 * about a session its session id. Each line is one write(), so the lines of
 * the processes sharing a descriptor do not interleave.
 */
#ifndef SEALMAIL_LOG_H
#define SEALMAIL_LOG_H

#include <stddef.h>

/* Stderr when FOREGROUND, else syslog. */
void log_init(const char *role, int foreground);
/* Sends the lines to TARGET: "stderr", "syslog", or an absolute path,
 * opened here for appending, before any role forks (they are chrooted and
 * could not open it). Returns 0, or -1 with the reason in ERROR_R (the
 * target is then unchanged). */
int log_open(const char *role, const char *target, const char **error_r);
/* In a child forked after log_open() of a file: its lines go to the
 * parent through a pipe (one write() each, cut to PIPE_BUF). */
void log_forked(void);
/* The parent's end of that pipe (non-blocking), or -1 when lines do not go
 * to a file; log_funnel_drain() copies what waits there to the file. */
int log_funnel_fd(void);
void log_funnel_drain(void);
/* Opens the file again (after logrotate moved it); 0, or -1 with the
 * reason in ERROR_R (the old file stays in use). */
int log_reopen(const char **error_r);
/* While ON, each line also goes to stderr (until the server detaches). */
void log_copy_to_stderr(int on);
/* 1 when syslog(3) can reach a log daemon through /dev/log. */
int log_syslog_available(void);
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
