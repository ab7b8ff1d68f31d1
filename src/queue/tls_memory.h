/*
 * tls_memory.h: the queue's downgrade memory (tls_memory.c): the table of
 * policy/tls_seen.h, loaded from data_dir/policy/seen at start-up, read for
 * every task, raised by delivered results, written back (temporary file,
 * fsync, rename) within a second of a change and at shutdown, and cleared
 * for a domain by `sealmail policy forget DOMAIN`. [outbound] remember_tls
 * (seconds, 0 = off) is read at each use, so a reload takes effect at once.
 * Used by queue.c (start-up, the timer, shutdown), queue_remote.c (tasks
 * and results) and queue_ctl.c (`policy forget`).
 */
#ifndef SEALMAIL_TLS_MEMORY_H
#define SEALMAIL_TLS_MEMORY_H

#include <stdint.h>

#include "mail/delivery.h"
#include "policy/tls_seen.h"

/* Loads data_dir/policy/seen (the working directory is data_dir), making
 * policy/ when needed; an unreadable or invalid file is logged and the
 * memory starts empty (the file is replaced at the next save). */
struct tls_seen_map *tls_memory_open(void);
/* Fills the task's SEEN_LEVEL and SEEN_TIME for DOMAIN (0, 0 when nothing
 * is remembered or REMEMBER is 0). */
void tls_memory_for_task(const struct tls_seen_map *m, const char *domain, unsigned remember,
                         uint32_t *seen_level_r, uint64_t *seen_time_r);
/* A task for DOMAIN delivered DELIVERED recipients over the connection
 * REPORT describes: what it achieved is remembered (not under an override:
 * that delivery was allowed below what is remembered). */
void tls_memory_delivered(struct tls_seen_map *m, const char *domain,
                          const struct mta_report *report, unsigned delivered, unsigned remember);
/* Writes the memory when it changed; expired entries go. Returns 0, or -1
 * (logged; dirty stays set, so the next call tries again). */
int tls_memory_save(struct tls_seen_map *m, unsigned remember);

#endif
