/*
 * parent_ready.c: see parent_ready.h. The notifications follow
 * sd_notify(3): READY=1 after start-up and after each reload, RELOADING=1
 * when a reload begins, STOPPING=1 when shutdown begins, STATUS= a line
 * for `systemctl status`.
 */
#include "daemon/parent_ready.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "lib/log.h"
#include "lib/readiness.h"

static void parent_ready_check(struct parent_ready *r)
{
	if (!r->armed || r->n_pending > 0)
		return;
	r->armed = 0;
	r->done(r->arg);
}

static void parent_ready_remove(struct parent_ready *r, pid_t pid)
{
	for (unsigned i = 0; i < r->n_pending; i++)
		if (r->pending[i] == pid) {
			r->pending[i] = r->pending[--r->n_pending];
			return;
		}
}

static void parent_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct parent_ready *r = arg;
	pid_t pid;

	while (readiness_read(fd, &pid))
		parent_ready_remove(r, pid);
	parent_ready_check(r);
}

int parent_ready_init(struct parent_ready *r, struct event_base *base, void (*done)(void *),
                      void *arg)
{
	*r = (struct parent_ready){.done = done, .arg = arg};
	if (readiness_pipe(r->fds) < 0)
		return -1;
	r->ev = event_new(base, r->fds[0], EV_READ | EV_PERSIST, parent_ready_cb, r);
	return event_add(r->ev, NULL);
}

void parent_ready_child(struct parent_ready *r)
{
	close(r->fds[0]);
	readiness_child(r->fds[1]);
	/* the parent's socket, not the child's: only the main process speaks */
	unsetenv("NOTIFY_SOCKET");
}

void parent_ready_expect(struct parent_ready *r, pid_t pid)
{
	if (r->n_pending < PARENT_READY_MAX)
		r->pending[r->n_pending++] = pid;
	else
		log_warn("event=ready-warning reason=\"too many children to wait for\"");
}

void parent_ready_forget(struct parent_ready *r, pid_t pid)
{
	parent_ready_remove(r, pid);
	parent_ready_check(r);
}

void parent_ready_arm(struct parent_ready *r)
{
	r->armed = 1;
	parent_ready_check(r);
}

/* Sends STATE plus STATUS=TEXT; a failure only means no manager listens. */
static void parent_notify(const char *state, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void parent_notify(const char *state, const char *fmt, va_list ap)
{
	char status[512];

	vsnprintf(status, sizeof(status), fmt, ap);
	(void)sd_notifyf(0, "%s%sSTATUS=%s", state, state[0] ? "\n" : "", status);
}

void parent_notify_ready(const char *status_fmt, ...)
{
	va_list ap;

	va_start(ap, status_fmt);
	parent_notify("READY=1", status_fmt, ap);
	va_end(ap);
}

void parent_notify_status(const char *status_fmt, ...)
{
	va_list ap;

	va_start(ap, status_fmt);
	parent_notify("", status_fmt, ap);
	va_end(ap);
}

void parent_notify_reloading(void)
{
	struct timespec now;
	char state[64];

	/* MONOTONIC_USEC: what systemd 253's Type=notify-reload asks for */
	clock_gettime(CLOCK_MONOTONIC, &now);
	snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%llu",
	         (unsigned long long)now.tv_sec * 1000000ULL +
	             (unsigned long long)now.tv_nsec / 1000);
	(void)sd_notifyf(0, "%s\nSTATUS=reloading the configuration", state);
}

void parent_notify_stopping(void)
{
	(void)sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}
