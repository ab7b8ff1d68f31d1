/*
 * verify_worker.h: password checks off the event loop. A yescrypt check
 * costs tens of milliseconds by design; on a thread of its own it does not
 * hold up the lookup role's other answers (recipients, DNS) meanwhile.
 *
 * The checks waiting are bounded (VERIFY_QUEUE_MAX in all,
 * VERIFY_PER_CLIENT_MAX per client address) and served round-robin by
 * client address, so one address hammering AUTH delays another's login by
 * at most one check. A check that waited VERIFY_WAIT_MAX_MS is dropped
 * unchecked: its session is most likely gone, and one still there is
 * better told at once to try again.
 */
#ifndef SEALMAIL_VERIFY_WORKER_H
#define SEALMAIL_VERIFY_WORKER_H

#include "auth/password.h"

#define VERIFY_QUEUE_MAX 64
/* Mail clients log in several sessions at once (Thunderbird opens up to
 * five IMAP connections, plus submission), and a household or office
 * behind one address has several clients: 4 refused real logins. */
#define VERIFY_PER_CLIENT_MAX 12
#define VERIFY_WAIT_MAX_MS 5000
#define VERIFY_CLIENT_MAX 64 /* octets of a client address, NUL included */

struct event_base;
struct verify_worker;

enum verify_result {
	VERIFY_FAILED = 0,
	VERIFY_OK = 1,
	VERIFY_DROPPED = 2, /* waited too long: not checked */
};

/* Called on the event loop's thread with the caller's ARG and the result. */
typedef void verify_done_fn(void *arg, enum verify_result result);

struct verify_worker *verify_worker_new(struct event_base *base);

/* Checks PASSWORD against TARGET (see password.h) for CLIENT on the worker
 * thread; everything is copied (the copy of the password is wiped after
 * use). Returns 0, or -1 when the queue or CLIENT's share of it is full:
 * then DONE is not called. */
int verify_worker_submit(struct verify_worker *w, const char *client, const char *password,
                         const struct password_target *target, verify_done_fn *done, void *arg);

#endif
