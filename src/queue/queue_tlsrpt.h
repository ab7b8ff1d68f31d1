/*
 * queue_tlsrpt.h: TLS-RPT (RFC 8460) in the queue role: every remote
 * task's result is counted (tlsrpt_store.h), the counts are saved under
 * data_dir/tlsrpt/ every few seconds and at exit, and once a day, a little
 * after the UTC day ended, each domain whose _smtp._tls record names a
 * mailto: rua is sent its report as a mail the queue queues itself.
 * `sealmail tls-report show|send` reach it through the control socket.
 *
 * One per queue role process. Called by queue.c (start, stop),
 * queue_remote.c (each task result) and queue_ctl.c (requests); calls
 * tlsrpt_store.c, tlsrpt_mail.c and queue.c's queue_inject().
 *
 * A report's "sts" policies get their lines from the lookup role's MTA-STS
 * cache files: the queue runs in data_dir (its root when chrooted), as the
 * same user, so QUEUE_TLSRPT_STS_DIR is a path relative to it.
 */
#ifndef SEALMAIL_QUEUE_TLSRPT_H
#define SEALMAIL_QUEUE_TLSRPT_H

#include "mail/delivery.h"
#include "policy/sts.h"
#include "queue/queue_private.h"

struct evbuffer;

#define QUEUE_TLSRPT_DIR "tlsrpt"   /* under data_dir, the queue's directory */
#define QUEUE_TLSRPT_SAVE_SECONDS 5 /* the counts are written at most this often */
#define QUEUE_TLSRPT_DELAY_MIN 300  /* a day's reports go this long after midnight UTC */
#define QUEUE_TLSRPT_DELAY_MAX 3600 /* ... plus a random part up to this (5.1) */
#define QUEUE_TLSRPT_OWN_MAX 1024   /* report mails remembered, not to count their own */

/* the lookup role's MTA-STS cache files, relative to data_dir (see above) */
#define QUEUE_TLSRPT_STS_DIR STS_CACHE_DIR

/* Loads the saved counts and starts the timer, on Q's event base. */
void queue_tlsrpt_start(struct queue *q);
/* Saves the counts if they changed, stops the timer and frees it all. */
void queue_tlsrpt_stop(void);

/* Counts the result REPORT of a task of M to DOMAIN as one session. */
void queue_tlsrpt_task_result(const struct queue_msg *m, const char *domain,
                              const struct mta_report *report);

/* A control request whose first word is "tls-report" (ARGV, ARGC words):
 * "show [DOMAIN]" or "send [--today]". Writes the answer to OUT and
 * returns the exit status. */
int queue_tlsrpt_ctl(char **argv, int argc, struct evbuffer *out);

#endif
