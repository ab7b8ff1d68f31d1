/*
 * dns_private.h: what the resolver's files share (dns.c: the context, MX
 * and addresses; dns_records.c: TLSA and TXT). Nothing else includes it.
 */
#ifndef SEALMAIL_DNS_PRIVATE_H
#define SEALMAIL_DNS_PRIVATE_H

#include <stdint.h>

#define DNS_TYPE_A 1
#define DNS_TYPE_MX 15
#define DNS_TYPE_TXT 16
#define DNS_TYPE_AAAA 28
#define DNS_TYPE_TLSA 52
#define DNS_CLASS_IN 1

struct ub_ctx;
struct ub_result;
struct event;

struct dns_resolver {
	struct ub_ctx *ctx;
	struct event *ev;
	char anchor[4096]; /* the trust anchor file read, "" = none */
};

/* enum dnssec_status of RESULT (RFC 4035 4.3). */
uint32_t dns_result_status(const struct ub_result *result);

/* "DNSSEC validation failed for NAME: WHY" into BUF. */
void dns_bogus_text(char *buf, size_t size, const char *name, const struct ub_result *result);

#endif
