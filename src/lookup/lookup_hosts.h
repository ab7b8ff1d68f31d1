/*
 * lookup_hosts.h: the lookup role's answer to IMSG_LOOKUP_HOSTS (the hosts
 * the SMTP client may connect to for a destination, proto/lookup.h) and
 * what the destination publishes about TLS: each host's DNSSEC status and
 * TLSA records (RFC 7672 2.2), the domain's TLS-RPT rua (RFC 8460 3) and
 * MTA-STS policy (RFC 8461). Called by lookup/lookup.c for each request.
 *
 * One request is one struct lookup_hosts_req with a count of parts still
 * pending: the MX and address lookup, a TLSA lookup per host, the TLS-RPT
 * TXT lookup, and whatever part is added later. Each part starts with
 * lookup_hosts_part_start(), fills its piece of req->res, and ends with
 * lookup_hosts_part_done(); the answer goes when the count reaches zero.
 * lookup_hosts_parts_start() in lookup_hosts.c is where parts begin.
 */
#ifndef SEALMAIL_LOOKUP_HOSTS_H
#define SEALMAIL_LOOKUP_HOSTS_H

#include "proto/lookup.h"

struct dns_resolver;
struct sts_cache;

/* What the parts use; owned by the lookup role, outliving every request.
 * A new part adds its own state here (the MTA-STS cache, say). */
struct lookup_hosts_env {
	struct dns_resolver *dns;
	struct sts_cache *sts; /* MTA-STS policies (lookup/sts_cache.h) */
};

typedef void lookup_hosts_done_fn(void *arg, const struct proto_lookup_hosts_result *res);

struct lookup_hosts_req {
	const struct lookup_hosts_env *env;
	struct proto_lookup_hosts msg; /* what was asked */
	struct proto_lookup_hosts_result res;
	unsigned pending; /* parts not done yet */
	lookup_hosts_done_fn *done;
	void *arg;
};

/* Answers MSG through DONE(ARG, result) once every part is done (maybe
 * before this returns). The result is valid during the call only. */
void lookup_hosts_start(const struct lookup_hosts_env *env, const struct proto_lookup_hosts *msg,
                        lookup_hosts_done_fn *done, void *arg);

/* A part of REQ begins / ends; the last end sends the answer and frees REQ. */
void lookup_hosts_part_start(struct lookup_hosts_req *req);
void lookup_hosts_part_done(struct lookup_hosts_req *req);

#endif
