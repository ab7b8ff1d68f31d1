/*
 * tlsrpt_store.h: the TLS-RPT counts (RFC 8460 4) the queue keeps of its
 * remote deliveries: per UTC day and destination domain, per policy (its
 * type, the MTA-STS id, the MX host of a TLSA policy), the successful and
 * failed sessions, and per failure (result type, receiving MX host,
 * receiving address) the failed sessions; and the rua of each domain's
 * _smtp._tls record as the last delivery saw it. Bounded in every
 * dimension; what a bound refuses is counted as dropped, never grown.
 *
 * Memory and bytes only, plus the load and save of its one file (temp
 * file, fsync, rename) and the read of a domain's MTA-STS cache file for
 * its report. Called by queue_tlsrpt.c (the queue role's
 * counting, its daily report and `sealmail tls-report`), and the unit
 * tests.
 */
#ifndef SEALMAIL_QUEUE_TLSRPT_STORE_H
#define SEALMAIL_QUEUE_TLSRPT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "mail/delivery.h"
#include "policy/tlsrpt.h"
#include "proto/lookup.h"

struct ipc_writer;

#define TLSRPT_STORE_DAYS_MAX 4        /* UTC days kept: today, yesterday, two unsent */
#define TLSRPT_STORE_DOMAINS_MAX 10000 /* destination domains counted per day */
#define TLSRPT_STORE_POLICIES_MAX TLSRPT_POLICIES_MAX /* policies per domain and day */
#define TLSRPT_STORE_DETAILS_MAX TLSRPT_FAILURES_MAX  /* failure rows per policy */
#define TLSRPT_STORE_BUCKETS 1024                     /* hash chains per day */
#define TLSRPT_STORE_FILE_MAX (256u << 20)            /* the file read back, at most */
#define TLSRPT_STORE_FILE "counts"                    /* in the store's directory */
#define TLSRPT_DAY_SECONDS 86400

/* One failure-details row (4.3): how many sessions failed this way. */
struct tlsrpt_detail {
	char result_type[TLSRPT_TYPE_MAX];
	char mx[TLSRPT_NAME_MAX]; /* receiving-mx-hostname, or "" */
	char ip[TLSRPT_IP_MAX];   /* receiving-ip, or "" */
	uint64_t sessions;
};

/* One policy of one domain on one day and its sessions. */
struct tlsrpt_counts {
	char type[TLSRPT_TYPE_MAX]; /* "tlsa", "sts", "no-policy-found" */
	char sts_id[STS_ID_MAX];    /* sts: the policy's id, else "" */
	char mx[TLSRPT_NAME_MAX];   /* tlsa: the MX host its records are for, else "" */
	uint64_t successful, failed;
	uint32_t n_details;
	struct tlsrpt_detail *details; /* grown as needed, up to TLSRPT_STORE_DETAILS_MAX */
	uint64_t details_dropped;      /* failures past the row bound (still in failed) */
};

struct tlsrpt_domain {
	char name[TLSRPT_NAME_MAX]; /* lower case */
	char rua[PROTO_RUA_MAX];    /* as the last session saw it; "" = no reports */
	uint32_t n_policies;
	struct tlsrpt_counts *policies; /* grown as needed, up to TLSRPT_STORE_POLICIES_MAX */
	uint64_t dropped;               /* sessions of policies past the bound */
	struct tlsrpt_domain *hash_next;
};

struct tlsrpt_day {
	uint32_t day; /* UTC days since the epoch */
	uint32_t n_domains, cap;
	struct tlsrpt_domain **domains; /* in the order first seen */
	struct tlsrpt_domain *buckets[TLSRPT_STORE_BUCKETS];
	uint64_t dropped; /* sessions of domains past the bound */
};

struct tlsrpt_store {
	uint32_t n_days;
	struct tlsrpt_day *days[TLSRPT_STORE_DAYS_MAX]; /* oldest first */
	uint64_t dropped; /* sessions of days older than every kept one */
	int dirty;        /* changed since the last load or save */
};

/* The outcome of tlsrpt_store_count(). */
enum tlsrpt_counted {
	TLSRPT_COUNTED = 0, /* a session counted */
	TLSRPT_NOT_SESSION, /* the report describes no TLS session: nothing done */
	TLSRPT_DROPPED,     /* a bound refused it: counted as dropped */
};

struct tlsrpt_store *tlsrpt_store_new(void);
/* Frees *S and sets it to NULL; NULL is fine. */
void tlsrpt_store_free(struct tlsrpt_store **s);

/* Counts the delivery REPORT to DOMAIN at NOW (UTC seconds) as one
 * session of its policy: successful when rpt_type is "", else failed with
 * a row for (rpt_type, rpt_mx, rpt_ip). A report without rpt_policy, or
 * without both a relay and a result type (no host was reached and no
 * policy failed), is not a session. The domain's rua becomes the
 * report's. A day newer than every kept one pushes out the oldest. */
enum tlsrpt_counted tlsrpt_store_count(struct tlsrpt_store *s, const char *domain, uint64_t now,
                                       const struct mta_report *report);

/* The kept day DAY, or NULL. */
struct tlsrpt_day *tlsrpt_store_day(const struct tlsrpt_store *s, uint32_t day);
/* The domain NAME (any case) on day D, or NULL. */
struct tlsrpt_domain *tlsrpt_day_domain(const struct tlsrpt_day *d, const char *name);
/* Forgets day DAY (once its reports are sent); nothing when not kept. */
void tlsrpt_store_forget_day(struct tlsrpt_store *s, uint32_t day);

/* Fills the policies and date range of R (the rest is the caller's: names,
 * report-id) from DOM's counts on day DAY: the whole UTC day, its last
 * second as the end. */
void tlsrpt_store_fill_report(const struct tlsrpt_domain *dom, uint32_t day,
                              struct tlsrpt_report *r);

/* Fills the policy-string and mx-host of R's "sts" policies (R filled from
 * DOM by tlsrpt_store_fill_report()) from the MTA-STS cache file DIR/NAME
 * of DOM (policy/sts.h: the lookup role keeps it), for the policies whose
 * counted id is the file's. When the file is missing, unreadable, not a
 * cache file, or of another id, those policies stay without them. */
void tlsrpt_store_fill_sts(const struct tlsrpt_domain *dom, const char *dir,
                           struct tlsrpt_report *r);

/* The store as bytes (its file): a magic, a version, the days, a CRC-32C. */
void tlsrpt_store_encode(const struct tlsrpt_store *s, struct ipc_writer *w);
/* Replaces S's contents with those of the LEN bytes DATA. Returns 0, or -1
 * with *ERROR_R (S then empty) when they are not a store file or break a
 * bound. */
int tlsrpt_store_decode(struct tlsrpt_store *s, const void *data, size_t len, const char **error_r);

/* Writes DIR/counts: DIR/counts.tmp, fsync, rename, fsync of DIR; clears
 * dirty. Returns 0, or -1 with *ERROR_R (dirty stays set). */
int tlsrpt_store_save(struct tlsrpt_store *s, const char *dir, const char **error_r);
/* Reads DIR/counts back. A missing file is an empty store (0). Returns 0,
 * or -1 with *ERROR_R (S empty). */
int tlsrpt_store_load(struct tlsrpt_store *s, const char *dir, const char **error_r);

#endif
