/*
 * verify_worker.c: see verify_worker.h. One thread; under a mutex, a ring
 * of client addresses that have checks waiting, each with its own FIFO;
 * a pipe wakes the event loop when results are ready.
 */
#include "auth/verify_worker.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

struct verify_job {
	char *password, *hash;
	int can_match;
	uint64_t queued_ms;
	enum verify_result result;
	verify_done_fn *done;
	void *arg;
	struct verify_job *next;
};

struct verify_list {
	struct verify_job *head, *tail;
};

/* A client address with checks waiting. */
struct verify_client {
	char address[VERIFY_CLIENT_MAX];
	struct verify_list jobs;
	unsigned n_jobs;
	struct verify_client *next; /* in the ring */
};

struct verify_worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct verify_client *ring_head, *ring_tail; /* served from the head */
	unsigned n_todo;
	struct verify_list done;
	int notify[2];
	struct event *ev;
};

static uint64_t verify_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

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

static void verify_ring_append(struct verify_worker *w, struct verify_client *c)
{
	c->next = NULL;
	if (w->ring_tail != NULL)
		w->ring_tail->next = c;
	else
		w->ring_head = c;
	w->ring_tail = c;
}

/* The next job, round-robin by client: the head client's first job; the
 * client goes to the back of the ring, or away when it has no more. Under
 * the lock. */
static struct verify_job *verify_next(struct verify_worker *w)
{
	struct verify_client *c = w->ring_head;
	struct verify_job *j;

	if (c == NULL)
		return NULL;
	if ((w->ring_head = c->next) == NULL)
		w->ring_tail = NULL;
	j = verify_pop(&c->jobs);
	c->n_jobs--;
	w->n_todo--;
	if (c->n_jobs > 0)
		verify_ring_append(w, c);
	else
		free(c);
	return j;
}

/* Checks J, unless it waited too long. */
static void verify_run(struct verify_job *j)
{
	struct password_target target = {.hash = j->hash, .can_match = j->can_match};

	if (verify_now_ms() - j->queued_ms > VERIFY_WAIT_MAX_MS)
		j->result = VERIFY_DROPPED;
	else
		j->result =
		    password_verify_target(j->password, &target) ? VERIFY_OK : VERIFY_FAILED;
	explicit_bzero(j->password, strlen(j->password));
}

static void *verify_thread(void *arg)
{
	struct verify_worker *w = arg;
	struct verify_job *j;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while ((j = verify_next(w)) == NULL)
			pthread_cond_wait(&w->wake, &w->lock);
		pthread_mutex_unlock(&w->lock);
		verify_run(j);
		pthread_mutex_lock(&w->lock);
		verify_push(&w->done, j);
		(void)!write(w->notify[1], "x", 1);
	}
	return NULL;
}

/* On the event loop: hands each result to its caller. */
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
		j->done(j->arg, j->result);
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

/* CLIENT's place in the ring, made when it has none and there is room
 * for it; NULL when the queue or CLIENT's share is full. Under the lock. */
static struct verify_client *verify_client_for(struct verify_worker *w, const char *client)
{
	struct verify_client *c;

	if (w->n_todo >= VERIFY_QUEUE_MAX)
		return NULL;
	for (c = w->ring_head; c != NULL; c = c->next)
		if (strcmp(c->address, client) == 0)
			return c->n_jobs < VERIFY_PER_CLIENT_MAX ? c : NULL;
	c = xcalloc(1, sizeof(*c));
	strlcpy_checked(c->address, client, sizeof(c->address));
	verify_ring_append(w, c);
	return c;
}

int verify_worker_submit(struct verify_worker *w, const char *client, const char *password,
                         const struct password_target *target, verify_done_fn *done, void *arg)
{
	struct verify_client *c;
	struct verify_job *j;

	pthread_mutex_lock(&w->lock);
	c = verify_client_for(w, client);
	if (c != NULL) {
		j = xcalloc(1, sizeof(*j));
		j->password = xstrdup(password);
		j->hash = xstrdup(target->hash);
		j->can_match = target->can_match;
		j->queued_ms = verify_now_ms();
		j->done = done;
		j->arg = arg;
		verify_push(&c->jobs, j);
		c->n_jobs++;
		w->n_todo++;
		pthread_cond_signal(&w->wake);
	}
	pthread_mutex_unlock(&w->lock);
	return c != NULL ? 0 : -1;
}
