/*
 * auth_service.h: the lookup role's answer to a login attempt. In order:
 * a client address or account blocked by the throttle (auth/throttle.h)
 * gets a temporary failure at once, without a hash computed; otherwise
 * the password is checked on the password thread (auth/verify_worker.h)
 * against the user's hash or a stand-in of the same cost (password.h), and
 * a full queue is a temporary failure too; a failure is counted and its
 * answer held back as the throttle says. Called by lookup/lookup.c.
 */
#ifndef SEALMAIL_AUTH_SERVICE_H
#define SEALMAIL_AUTH_SERVICE_H

#include <stddef.h>

#include "auth/throttle.h"

struct event_base;
struct auth_service;

/* The answer, as IMSG_AUTH_RESULT's ok carries it (proto/lookup.h). */
enum auth_outcome {
	AUTH_FAILED = 0,
	AUTH_OK = 1,
	AUTH_TEMPFAIL = 2, /* try again later: blocked, or too busy */
};

typedef void auth_done_fn(void *arg, enum auth_outcome outcome);

/* One login attempt; the strings are copied. */
struct auth_attempt {
	const char *client;   /* the client's address */
	const char *user;     /* lower-cased */
	const char *password; /* wiped by the caller after the call */
	const char *hash;     /* the user's stored hash; NULL: no such user */
};

struct auth_service *auth_service_new(struct event_base *base);

/* The users file changed: the stand-in for unknown users takes the most
 * common method and cost of its N HASHES. */
void auth_service_users_changed(struct auth_service *svc, const char *const *hashes, size_t n);

/* Answers ATTEMPT through DONE (maybe before returning) under LIMITS. */
void auth_service_check(struct auth_service *svc, const struct throttle_limits *limits,
                        const struct auth_attempt *attempt, auth_done_fn *done, void *arg);

#endif
