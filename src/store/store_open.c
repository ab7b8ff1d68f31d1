/*
 * store_open.c: the open folders. Every session that selects a folder (and
 * every STATUS, COPY or APPEND that needs one for a moment) shares one
 * struct mailbox per directory, reference-counted, watched with inotify
 * while open (store_watch.c). The last STORE_FOLDERS_IDLE_MAX folders left
 * by every session stay open (committed, still watched), so a client that
 * logs in again selects without reading a 100,000-message index again. Changes one session makes reach the others
 * as IMSG_STORE_CHANGED, at most one until each asks UPDATES.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "store/store_private.h"

struct store_folder *store_folder_lookup(struct store *s, const char *dir)
{
	struct store_folder *f;

	LIST_FOREACH(f, &s->folders, entry)
	if (f->refs > 0 && strcmp(f->dir, dir) == 0)
		return f;
	return NULL;
}

static void store_folder_close(struct store_folder *f)
{
	store_watch_remove(f->store, f);
	LIST_REMOVE(f, entry);
	mailbox_close(&f->mb);
	free(f);
}

/* The idle folder of DIR taken back into use, or NULL. */
static struct store_folder *store_folder_reuse(struct store *s, const char *dir)
{
	struct store_folder *f;

	LIST_FOREACH(f, &s->folders, entry)
	if (f->refs == 0 && strcmp(f->dir, dir) == 0) {
		f->refs = 1;
		f->idle = 0;
		s->n_idle--;
		return f;
	}
	return NULL;
}

/* Closes the least recently left idle folder. */
static void store_folder_evict(struct store *s)
{
	struct store_folder *f, *oldest = NULL;

	LIST_FOREACH(f, &s->folders, entry)
	if (f->refs == 0 && (oldest == NULL || f->idle < oldest->idle))
		oldest = f;
	if (oldest != NULL) {
		s->n_idle--;
		store_folder_close(oldest);
	}
}

void store_folders_close_idle(struct store *s)
{
	while (s->n_idle > 0)
		store_folder_evict(s);
}

struct store_folder *store_folder_open(struct store *s, const char *dir, const char **error_r)
{
	struct store_folder *f = store_folder_lookup(s, dir);
	struct mailbox *mb;

	if (f != NULL) {
		f->refs++;
		return f;
	}
	if ((f = store_folder_reuse(s, dir)) != NULL) {
		if (mailbox_sync(f->mb, error_r) < 0) {
			store_folder_unref(&f);
			return NULL;
		}
		return f;
	}
	if (mailbox_open(dir, store_hostname(s), &mb, error_r) < 0)
		return NULL;
	f = xcalloc(1, sizeof(*f));
	f->store = s;
	strlcpy_checked(f->dir, dir, sizeof(f->dir));
	f->mb = mb;
	f->refs = 1;
	f->wd_new = f->wd_cur = -1;
	TAILQ_INIT(&f->selected);
	LIST_INSERT_HEAD(&s->folders, f, entry);
	/* watched before the first sync, so nothing falls in between */
	store_watch_add(s, f);
	if (mailbox_sync(mb, error_r) < 0) {
		store_folder_unref(&f);
		return NULL;
	}
	return f;
}

void store_folder_unref(struct store_folder **fp)
{
	struct store_folder *f = *fp;
	const char *why;

	*fp = NULL;
	if (f == NULL || --f->refs > 0)
		return;
	if (mailbox_commit(f->mb, &why) < 0) {
		store_folder_close(f);
		return;
	}
	f->idle = ++f->store->idle_clock;
	if (++f->store->n_idle > STORE_FOLDERS_IDLE_MAX)
		store_folder_evict(f->store);
}

void store_folder_notify(struct store_folder *f, struct store_session *except)
{
	struct store_session *s;
	struct ipc_writer w;

	TAILQ_FOREACH(s, &f->selected, fentry)
	{
		if (s == except || s->changed_sent)
			continue;
		s->changed_sent = 1;
		ipc_writer_init(&w);
		store_send(s->peer, IMSG_STORE_CHANGED, s->id, &w, -1);
	}
}

int store_folder_sync(struct store_folder *f, struct store_session *except)
{
	const char *why;
	int n;

	f->dirty = 0;
	n = mailbox_sync(f->mb, &why);
	if (n < 0) {
		log_error("event=store-error folder=%s reason=\"sync: %s\"", f->dir, why);
		return -1;
	}
	if (n > 0)
		store_folder_notify(f, except);
	return n;
}

int store_folder_commit(struct store_folder *f, const char **error_r)
{
	if (mailbox_commit(f->mb, error_r) < 0) {
		log_error("event=store-error folder=%s reason=\"commit: %s\"", f->dir, *error_r);
		return -1;
	}
	return 0;
}
