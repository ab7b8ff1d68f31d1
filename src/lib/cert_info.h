/*
 * cert_info.h: what a PEM certificate file says about itself, for the
 * people who run the server: each certificate's subject, issuer and
 * validity, how many the file holds, and whether the leaf came with the
 * chain clients need. Used by `sealmail config check`
 * (ctl/config_check_cmd.c) and the parent's start-up and reload log
 * (daemon/parent_certs.c); they print; this file only reads.
 */
#ifndef SEALMAIL_CERT_INFO_H
#define SEALMAIL_CERT_INFO_H

#include <stdint.h>

#define CERT_INFO_TEXT_MAX 512   /* one subject or issuer */
#define CERT_EXPIRY_WARN_DAYS 30 /* closer than this to notAfter: a warning */

struct cert_info {
	char subject[CERT_INFO_TEXT_MAX]; /* "/CN=mail.example.org", as tls-check shows */
	char issuer[CERT_INFO_TEXT_MAX];
	char not_after[32];      /* "2026-12-31T23:59:59Z" */
	int64_t not_before_time; /* seconds since the epoch */
	int64_t not_after_time;
	int self_signed;    /* its own key signed it: a root, or a lone leaf */
	int is_ca;          /* basicConstraints CA:TRUE */
	int issued_by_next; /* the next certificate of the file issued it
	                       (1), did not (0), there is none (-1) */
};

/* How far certificate INFO is from its validity at NOW. */
enum cert_validity {
	CERT_VALID,
	CERT_EXPIRES_SOON, /* within CERT_EXPIRY_WARN_DAYS days */
	CERT_EXPIRED,
	CERT_NOT_YET_VALID,
};

/* How many certificates the PEM text holds. */
unsigned cert_info_count(const char *pem);

/* Describes certificate INDEX (0 = the first, the leaf of a chain) of the
 * PEM text PEM into *OUT. Returns 0, or -1 when there is no such one. */
int cert_info_read(const char *pem, unsigned index, struct cert_info *out);

/* Where NOW stands against INFO's validity; *DAYS_LEFT_R: whole days to
 * notAfter (negative once expired). */
enum cert_validity cert_info_validity(const struct cert_info *info, int64_t now,
                                      int64_t *days_left_r);

/* 1 when a server certificate file of COUNT certificates starting with
 * LEAF holds only a leaf some CA issued: clients that do not have the
 * intermediate already fail with "unable to verify the first
 * certificate". A self-signed leaf alone is complete. */
int cert_info_leaf_only(const struct cert_info *leaf, unsigned count);

/* What a certificate file of the server's (CERT_FILE_SERVER: a leaf and
 * its chain) or a list of trust anchors (CERT_FILE_CA: client_ca) has
 * wrong at NOW, in words for people: an expired leaf (or CA) is an
 * error; expiry within CERT_EXPIRY_WARN_DAYS days, a leaf without its
 * chain, a chain out of order, an expired intermediate are warnings. */
enum cert_file_kind { CERT_FILE_SERVER, CERT_FILE_CA };

#define CERT_PROBLEM_TEXT_MAX 1400
#define CERT_PROBLEMS_MAX 8

struct cert_problem {
	int error; /* 1: refuse; 0: warn */
	char text[CERT_PROBLEM_TEXT_MAX];
};

/* Fills PROBLEMS (at most CERT_PROBLEMS_MAX) for the PEM text PEM;
 * returns how many. */
unsigned cert_info_problems(const char *pem, enum cert_file_kind kind, int64_t now,
                            struct cert_problem *problems);

#endif
