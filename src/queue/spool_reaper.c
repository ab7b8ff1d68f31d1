/*
 * spool_reaper.c: see spool_reaper.h. A ring of descriptors under one
 * mutex; the thread sleeps on a condition while the ring is empty.
 */
#include "queue/spool_reaper.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

static struct {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int ring[SPOOL_REAPER_RING];
	unsigned head, n;
	int running, stop;
} reaper = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static void *spool_reaper_run(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&reaper.lock);
	for (;;) {
		int fd;

		if (reaper.n == 0) {
			if (reaper.stop)
				break;
			pthread_cond_wait(&reaper.wake, &reaper.lock);
			continue;
		}
		fd = reaper.ring[reaper.head];
		reaper.head = (reaper.head + 1) % SPOOL_REAPER_RING;
		reaper.n--;
		pthread_mutex_unlock(&reaper.lock);
		close(fd);
		pthread_mutex_lock(&reaper.lock);
	}
	pthread_mutex_unlock(&reaper.lock);
	return NULL;
}

int spool_reaper_start(void)
{
	sigset_t all, old;
	int err;

	/* signals stay the loop's */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&reaper.thread, NULL, spool_reaper_run, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	reaper.running = err == 0;
	return err == 0 ? 0 : -1;
}

void spool_reaper_close(int fd)
{
	pthread_mutex_lock(&reaper.lock);
	if (!reaper.running || reaper.n == SPOOL_REAPER_RING) {
		pthread_mutex_unlock(&reaper.lock);
		close(fd);
		return;
	}
	reaper.ring[(reaper.head + reaper.n) % SPOOL_REAPER_RING] = fd;
	reaper.n++;
	pthread_cond_signal(&reaper.wake);
	pthread_mutex_unlock(&reaper.lock);
}

void spool_reaper_stop(void)
{
	pthread_mutex_lock(&reaper.lock);
	if (!reaper.running) {
		pthread_mutex_unlock(&reaper.lock);
		return;
	}
	reaper.stop = 1;
	pthread_cond_signal(&reaper.wake);
	pthread_mutex_unlock(&reaper.lock);
	pthread_join(reaper.thread, NULL);
	reaper.running = 0;
}
