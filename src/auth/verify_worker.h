/*
 * verify_worker.h: password checks off the event loop. A yescrypt check
 * costs tens of milliseconds by design; on a thread of its own it does not
 * hold up the lookup role's other answers (recipients, DNS) meanwhile.
 */
#ifndef SEALMAIL_VERIFY_WORKER_H
#define SEALMAIL_VERIFY_WORKER_H

struct event_base;
struct verify_worker;

/* Called on the event loop's thread with the caller's ARG and the result
 * (1 when PASSWORD matched HASH). */
typedef void verify_done_fn(void *arg, int ok);

struct verify_worker *verify_worker_new(struct event_base *base);

/* Checks PASSWORD against HASH on the worker thread; both are copied (the
 * copy of the password is wiped after use). Results come in order. */
void verify_worker_submit(struct verify_worker *w, const char *password, const char *hash,
                          verify_done_fn *done, void *arg);

#endif
