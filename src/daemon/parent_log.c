/*
 * parent_log.c: see parent_log.h.
 */
#include "daemon/parent_log.h"

#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "lib/log.h"

int parent_log_setup(const struct config *cfg, int foreground)
{
	const char *target = cfg->log[0] ? cfg->log : foreground ? "stderr" : "syslog";
	const char *lost = NULL, *why;
	char fallback[4200];

	snprintf(fallback, sizeof(fallback), "%s/sealmail.log", cfg->data_dir);
	if (strcmp(target, "syslog") == 0 && !log_syslog_available())
		lost = "there is no syslog socket at /dev/log";
	else if (strcmp(target, "stderr") == 0 && !foreground)
		lost = "log = stderr, and stderr is closed when the server detaches (-f keeps it)";
	if (lost != NULL && foreground) {
		fprintf(stderr, "sealmail: warning: %s; logging to stderr\n", lost);
		target = "stderr";
	} else if (lost != NULL) {
		fprintf(stderr,
		        "sealmail: warning: %s; logging to %s instead (and to stderr until "
		        "the server detaches)\n",
		        lost, fallback);
		target = fallback;
		log_copy_to_stderr(1);
	}
	if (log_open("parent", target, &why) < 0) {
		fprintf(stderr, "sealmail: %s: [server] log: cannot open %s: %s\n", cfg->path,
		        target, why);
		return -1;
	}
	if (!foreground || strcmp(target, "stderr") != 0)
		fprintf(stderr, "sealmail: logs go to %s\n",
		        strcmp(target, "syslog") == 0 ? "syslog (facility mail)" : target);
	return 0;
}

void parent_log_detached(void)
{
	log_copy_to_stderr(0);
}

static void parent_log_funnel_cb(evutil_socket_t fd, short what, void *arg)
{
	log_funnel_drain();
}

void parent_log_watch(struct event_base *base)
{
	int fd = log_funnel_fd();

	if (fd >= 0)
		event_add(event_new(base, fd, EV_READ | EV_PERSIST, parent_log_funnel_cb, NULL), NULL);
}

void parent_log_reopen(const struct config *cfg)
{
	const char *why;

	if (log_reopen(&why) < 0)
		log_error("event=log-reopen-failed path=%s reason=\"%s\"", cfg->log, why);
	else if (log_funnel_fd() >= 0)
		log_info("event=log-reopened");
}

void parent_log_reload_failed(const char *errors)
{
	const char *line = errors;

	while (line != NULL && *line) {
		const char *nl = strchr(line, '\n');
		int len = nl ? (int)(nl - line) : (int)strlen(line);
		char v[1024], tmp[1024];
		snprintf(tmp, sizeof(tmp), "%.*s", len, line);
		log_error("event=reload-failed reason=%s", log_value(tmp, v, sizeof(v)));
		line = nl ? nl + 1 : NULL;
	}
}
