/*
 * auth_service.c: see auth_service.h. The throttle's clock is
 * CLOCK_MONOTONIC in seconds; a failure's answer waits on a libevent timer.
 */
#include "auth/auth_service.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/password.h"
#include "auth/verify_worker.h"
#include "lib/log.h"
#include "lib/util.h"

struct auth_service {
	struct event_base *base;
	struct verify_worker *verify;
	struct throttle *throttle;
	char dummy_hash[PASSWORD_HASH_MAX]; /* checked against for unknown users */
};

/* An attempt waiting for the password thread or for its delay. */
struct auth_pending {
	struct auth_service *svc;
	struct throttle_limits limits;
	char client[VERIFY_CLIENT_MAX];
	char user[THROTTLE_KEY_MAX];
	auth_done_fn *done;
	void *arg;
	struct event *delay;
};

static uint64_t auth_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

struct auth_service *auth_service_new(struct event_base *base)
{
	struct auth_service *svc = xcalloc(1, sizeof(*svc));
	const char *why;

	svc->base = base;
	svc->throttle = throttle_new();
	if (password_dummy_like(NULL, svc->dummy_hash, sizeof(svc->dummy_hash), &why) < 0)
		fatal("event=fatal reason=\"password hashing: %s\"", why);
	svc->verify = verify_worker_new(base);
	return svc;
}

void auth_service_users_changed(struct auth_service *svc, const char *const *hashes, size_t n)
{
	const char *like = password_most_common(hashes, n), *why;
	char dummy[PASSWORD_HASH_MAX];

	if (password_dummy_like(like, dummy, sizeof(dummy), &why) < 0) {
		log_warn("event=auth-dummy-error reason=\"%s\"", why);
		return;
	}
	memcpy(svc->dummy_hash, dummy, sizeof(dummy));
}

/* Logs a temporary failure for CLIENT and USER with REASON. */
static void auth_log_throttled(const char *client, const char *user, const char *reason)
{
	char v[THROTTLE_KEY_MAX + 8];

	log_info("event=auth-throttled client=%s user=%s reason=%s", client,
	         log_value(user, v, sizeof(v)), reason);
}

static void auth_pending_finish(struct auth_pending *p, enum auth_outcome outcome)
{
	p->done(p->arg, outcome);
	if (p->delay != NULL)
		event_free(p->delay);
	free(p);
}

static void auth_delay_over(evutil_socket_t fd, short what, void *arg)
{
	auth_pending_finish(arg, AUTH_FAILED);
}

/* The password thread's answer: counted, and a failure held back. */
static void auth_verified(void *arg, enum verify_result result)
{
	struct auth_pending *p = arg;
	struct auth_service *svc = p->svc;
	struct timeval tv;
	unsigned ms;

	if (result == VERIFY_DROPPED) {
		auth_log_throttled(p->client, p->user, "waited-too-long");
		auth_pending_finish(p, AUTH_TEMPFAIL);
		return;
	}
	if (result == VERIFY_OK) {
		throttle_success(svc->throttle, p->client, p->user);
		auth_pending_finish(p, AUTH_OK);
		return;
	}
	ms = throttle_failure(svc->throttle, &p->limits, p->client, p->user, auth_now());
	if (ms == 0) {
		auth_pending_finish(p, AUTH_FAILED);
		return;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	p->delay = evtimer_new(svc->base, auth_delay_over, p);
	evtimer_add(p->delay, &tv);
}

void auth_service_check(struct auth_service *svc, const struct throttle_limits *limits,
                        const struct auth_attempt *attempt, auth_done_fn *done, void *arg)
{
	enum throttle_verdict verdict =
	    throttle_check(svc->throttle, limits, attempt->client, attempt->user, auth_now());
	struct password_target target;
	struct auth_pending *p;

	if (verdict != THROTTLE_ALLOW) {
		auth_log_throttled(attempt->client, attempt->user, throttle_reason(verdict));
		done(arg, AUTH_TEMPFAIL);
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->svc = svc;
	p->limits = *limits;
	strlcpy_checked(p->client, attempt->client, sizeof(p->client));
	strlcpy_checked(p->user, attempt->user, sizeof(p->user));
	p->done = done;
	p->arg = arg;
	password_target_for(attempt->hash, svc->dummy_hash, &target);
	if (verify_worker_submit(svc->verify, p->client, attempt->password, &target, auth_verified,
	                         p) < 0) {
		auth_log_throttled(p->client, p->user, "busy");
		auth_pending_finish(p, AUTH_TEMPFAIL);
	}
}
