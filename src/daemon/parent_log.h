/*
 * parent_log.h: where serve's log lines go, chosen once at start-up from
 * [server] log and -f, and said on stderr before the server detaches.
 */
#ifndef SEALMAIL_PARENT_LOG_H
#define SEALMAIL_PARENT_LOG_H

#include "conf/config.h"

struct event_base;

/* Opens the log target before any role forks. Without -f, a target that
 * would lose the lines (syslog with no /dev/log socket, stderr) is
 * replaced by data_dir/sealmail.log, with a warning, and the lines also go
 * to stderr until the server detaches. Returns 0, or -1 after saying why
 * on stderr. */
int parent_log_setup(const struct config *cfg, int foreground);
/* After detaching: the copy to stderr ends. */
void parent_log_detached(void);
/* With a log file, the children's lines reach it through the parent
 * (lib/log.h's funnel): copies them whenever they arrive on BASE. */
void parent_log_watch(struct event_base *base);
/* SIGHUP: opens the log file again, for logrotate (logged). */
void parent_log_reopen(const struct config *cfg);
/* Logs each line of ERRORS, the text that made a reload fail, as
 * event=reload-failed. */
void parent_log_reload_failed(const char *errors);

#endif
