/*
 * store_watch.c: new mail and other tools' changes, noticed with inotify
 * on new/ and cur/ of every open folder. Events are coalesced for
 * STORE_NOTIFY_USEC (a delivery is a create and a rename, a flag change a
 * rename), then each folder that saw one is synced and, when the sync
 * found changes, every session with it selected hears CHANGED: IDLE wakes
 * well within a second of the queue's rename into new/. The store's own
 * changes are in the index already, so their events sync to nothing.
 * Without inotify (store_new() then has no watch), UPDATES syncs instead.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "store/store_private.h"

#define STORE_WATCH_MASK (IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM)

struct store_watch {
	struct store *store;
	int fd;
	struct event *ev_read, *ev_timer;
};

/* Marks the folders the events in BUF (LEN octets) name. */
static int store_watch_mark(struct store *s, const char *buf, size_t len)
{
	const struct inotify_event *e;
	struct store_folder *f;
	size_t off = 0;
	int marked = 0;

	while (off + sizeof(*e) <= len) {
		e = (const struct inotify_event *)(const void *)(buf + off);
		LIST_FOREACH(f, &s->folders, entry)
		if (e->wd == f->wd_new || e->wd == f->wd_cur || (e->mask & IN_Q_OVERFLOW)) {
			f->dirty = 1;
			marked = 1;
		}
		off += sizeof(*e) + e->len;
	}
	return marked;
}

/* Reads every pending event; 1 when a folder was marked. */
static int store_watch_read(struct store_watch *w)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	int marked = 0;

	while ((n = read(w->fd, buf, sizeof(buf))) > 0)
		marked |= store_watch_mark(w->store, buf, (size_t)n);
	return marked;
}

/* Syncs each marked folder, which tells its sessions. */
static void store_watch_sync(struct store *s)
{
	struct store_folder *f;

	LIST_FOREACH(f, &s->folders, entry)
	if (f->dirty)
		store_folder_sync(f, NULL);
}

static void store_watch_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store_watch *w = arg;

	store_watch_sync(w->store);
}

static void store_watch_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store_watch *w = arg;
	struct timeval delay = {0, STORE_NOTIFY_USEC};

	if (store_watch_read(w) && !evtimer_pending(w->ev_timer, NULL))
		evtimer_add(w->ev_timer, &delay);
}

struct store_watch *store_watch_new(struct store *s)
{
	struct store_watch *w;
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	if (fd < 0) {
		log_warn("event=store-warning reason=\"no inotify (%s): folders sync when asked\"",
		         strerror(errno));
		return NULL;
	}
	w = xcalloc(1, sizeof(*w));
	w->store = s;
	w->fd = fd;
	if (s->base != NULL) {
		w->ev_read = event_new(s->base, fd, EV_READ | EV_PERSIST, store_watch_read_cb, w);
		w->ev_timer = evtimer_new(s->base, store_watch_timer_cb, w);
		event_add(w->ev_read, NULL);
	}
	return w;
}

void store_watch_free(struct store_watch **wp)
{
	struct store_watch *w = *wp;

	if (w == NULL)
		return;
	if (w->ev_read != NULL)
		event_free(w->ev_read);
	if (w->ev_timer != NULL)
		event_free(w->ev_timer);
	close(w->fd);
	free(w);
	*wp = NULL;
}

static int store_watch_dir(struct store_watch *w, const char *dir, const char *sub)
{
	char path[STORE_PATH_MAX + 8];
	int wd;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	wd = inotify_add_watch(w->fd, path, STORE_WATCH_MASK);
	if (wd < 0)
		log_warn("event=store-warning folder=%s reason=\"inotify: %s\"", path,
		         strerror(errno));
	return wd;
}

void store_watch_add(struct store *s, struct store_folder *f)
{
	if (s->watch == NULL)
		return;
	f->wd_new = store_watch_dir(s->watch, f->dir, "new");
	f->wd_cur = store_watch_dir(s->watch, f->dir, "cur");
}

void store_watch_remove(struct store *s, struct store_folder *f)
{
	if (s->watch == NULL)
		return;
	if (f->wd_new >= 0)
		inotify_rm_watch(s->watch->fd, f->wd_new);
	if (f->wd_cur >= 0)
		inotify_rm_watch(s->watch->fd, f->wd_cur);
	f->wd_new = f->wd_cur = -1;
}

void store_watch_poll(struct store *s)
{
	if (s->watch != NULL)
		store_watch_read(s->watch);
}

void store_watch_flush(struct store *s)
{
	if (s->watch != NULL)
		store_watch_read(s->watch);
	store_watch_sync(s);
}
