/*
 * parent_changes.h: what a reload changed, for the parent's
 * `event=reloaded ... changed=` line. The parent keeps a snapshot of what
 * the running generation was made from (a digest of the configuration's
 * text, the listeners, the certificates and CA files, the users and the
 * aliases file) and compares the next one with it. Digests are FNV-1a
 * (lib/hash.h): a change that collides goes unreported on that one line,
 * which decides nothing else.
 */
#ifndef SEALMAIL_PARENT_CHANGES_H
#define SEALMAIL_PARENT_CHANGES_H

#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "lib/tls.h"

struct parent_snapshot {
	uint64_t config;       /* the file's text */
	uint64_t listeners;    /* names, addresses, protocols, TLS and auth modes */
	uint64_t certificates; /* every certificate chain and key, client_ca and
	                          [outbound] ca_file as loaded */
	uint64_t users;        /* the users file's path and content */
	uint64_t aliases;      /* the aliases file's path and content */
};

/* Fills *S from CFG, its TEXT of LEN bytes and the loaded CERTS; reads the
 * users and aliases files (an unreadable one digests as its path alone). */
void parent_snapshot_take(struct parent_snapshot *s, const struct config *cfg, const char *text,
                          size_t len, const struct tls_cert_set *certs);

/* The parts that differ between BEFORE and AFTER, in the order
 * "config,listeners,certificates,users,aliases", or "unchanged", into BUF
 * of SIZE bytes (64 is enough). Returns BUF. */
const char *parent_snapshot_changes(const struct parent_snapshot *before,
                                    const struct parent_snapshot *after, char *buf, size_t size);

/* Logs `event=reloaded generation=GENERATION changed=...
 * certificates_kept=KEPT`, comparing *MADE_FROM (the generation before)
 * with a snapshot of CFG, TEXT, LEN and CERTS, which then replaces it; a
 * warning when KEPT certificates failed to load and stay as they were. */
void parent_log_reloaded(struct parent_snapshot *made_from, unsigned generation, unsigned kept,
                         const struct config *cfg, const char *text, size_t len,
                         const struct tls_cert_set *certs);

#endif
