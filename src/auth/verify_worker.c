/*
 * verify_worker.c: see verify_worker.h. One thread, a FIFO of jobs under a
 * mutex, and a pipe that wakes the event loop when results are ready.
 */
#include "auth/verify_worker.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/password.h"
#include "lib/log.h"
#include "lib/util.h"

struct verify_job {
	char *password, *hash;
	int ok;
	verify_done_fn *done;
	void *arg;
	struct verify_job *next;
};

struct verify_list {
	struct verify_job *head, *tail;
};

struct verify_worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct verify_list todo, done;
	int notify[2];
	struct event *ev;
};

static void verify_push(struct verify_list *l, struct verify_job *j)
{
	j->next = NULL;
	if (l->tail != NULL)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static struct verify_job *verify_pop(struct verify_list *l)
{
	struct verify_job *j = l->head;

	if (j != NULL && (l->head = j->next) == NULL)
		l->tail = NULL;
	return j;
}

static void *verify_thread(void *arg)
{
	struct verify_worker *w = arg;
	struct verify_job *j;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while ((j = verify_pop(&w->todo)) == NULL)
			pthread_cond_wait(&w->wake, &w->lock);
		pthread_mutex_unlock(&w->lock);
		j->ok = password_verify(j->password, j->hash);
		explicit_bzero(j->password, strlen(j->password));
		pthread_mutex_lock(&w->lock);
		verify_push(&w->done, j);
		(void)!write(w->notify[1], "x", 1);
	}
	return NULL;
}

/* On the event loop: hands each result to its caller, in order. */
static void verify_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct verify_worker *w = arg;
	struct verify_list done;
	struct verify_job *j;
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&w->lock);
	done = w->done;
	w->done.head = w->done.tail = NULL;
	pthread_mutex_unlock(&w->lock);
	while ((j = verify_pop(&done)) != NULL) {
		j->done(j->arg, j->ok);
		free(j->password);
		free(j->hash);
		free(j);
	}
}

struct verify_worker *verify_worker_new(struct event_base *base)
{
	struct verify_worker *w = xcalloc(1, sizeof(*w));

	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	if (pipe2(w->notify, O_NONBLOCK | O_CLOEXEC) < 0)
		fatal("event=fatal reason=\"pipe: %s\"", strerror(errno));
	w->ev = event_new(base, w->notify[0], EV_READ | EV_PERSIST, verify_done_cb, w);
	event_add(w->ev, NULL);
	if (pthread_create(&w->thread, NULL, verify_thread, w) != 0)
		fatal("event=fatal reason=\"cannot start the password thread\"");
	return w;
}

void verify_worker_submit(struct verify_worker *w, const char *password, const char *hash,
                          verify_done_fn *done, void *arg)
{
	struct verify_job *j = xcalloc(1, sizeof(*j));

	j->password = xstrdup(password);
	j->hash = xstrdup(hash);
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&w->lock);
	verify_push(&w->todo, j);
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}
