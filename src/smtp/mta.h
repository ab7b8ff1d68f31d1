/*
 * mta.h: the SMTP client that delivers to other servers, as the dispatcher
 * runs it (RFC 5321, RFC 3207 STARTTLS, RFC 2920 PIPELINING, RFC 3461 DSN).
 *
 * The queue hands the dispatcher one task per message and destination
 * domain. Tasks for one domain share a destination: its connections (up
 * to MTA_MAX_SESSIONS) take tasks one after another and stay open a few
 * seconds for the next one. Each connection applies the domain's TLS policy
 * (policy/policy.h); a policy failure never lets MAIL go out in plaintext.
 * The task and its result are mail/delivery.h.
 */
#ifndef SEALMAIL_MTA_H
#define SEALMAIL_MTA_H

#include <stdint.h>

#include "mail/delivery.h"
#include "proto/lookup.h"

struct config;
struct event_base;
struct mta;
struct tls_client;

struct mta_env {
	struct event_base *base;
	const struct config *cfg;
	struct tls_client *tls; /* the client side of STARTTLS (lib/tls_client.h) */
	void *owner;
	/* Asks the lookup role for the hosts of NAME (its MX hosts when
	 * MX_LOOKUP) connected to on PORT, and what POLICY (PROTO_LOOKUP_*
	 * flags, proto/lookup.h) asks for: TLSA at _PORT._tcp, and for the
	 * recipient domain its MTA-STS policy and TLS-RPT record; the answer
	 * comes back through mta_resolved(). */
	void (*resolve)(void *owner, uint64_t handle, const char *name, int mx_lookup,
	                unsigned port, unsigned policy);
	/* The task is finished (every recipient has an outcome); the callee
	 * reports it and frees it with mta_task_free(). */
	void (*task_done)(void *owner, struct mta_task *task);
};

struct mta *mta_new(const struct mta_env *env, const char **error_r);
/* Closes every connection; unfinished tasks are reported as deferred. */
void mta_free(struct mta **m);

/* Takes a task (and its fd). */
void mta_submit(struct mta *m, struct mta_task *task);

/* The lookup role's host list for HANDLE (proto/lookup.h); a stale
 * handle is ignored. */
void mta_resolved(struct mta *m, uint64_t handle, const struct proto_lookup_hosts_result *res);

/* Number of open connections and queued tasks, for a graceful exit. */
unsigned mta_busy(const struct mta *m);

#endif
