/*
 * dsn.h: delivery status notifications (RFC 3461, 3464, 3462/6522): the
 * message the queue sends back to a sender when recipients failed, or were
 * delayed. Pure: builds bytes from values.
 */
#ifndef SEALMAIL_DSN_H
#define SEALMAIL_DSN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum dsn_action {
	DSN_ACTION_FAILED,
	DSN_ACTION_DELAYED,
	DSN_ACTION_DELIVERED, /* for NOTIFY=SUCCESS */
	DSN_ACTION_RELAYED,   /* delivered to a server that does not do DSN */
};

enum dsn_ret {
	DSN_RET_DEFAULT, /* no RET given: headers for failures, as with HDRS */
	DSN_RET_HDRS,
	DSN_RET_FULL,
};

struct dsn_recipient {
	const char *address; /* the final recipient, local@domain */
	const char *orcpt;   /* ORCPT as given ("rfc822;user@example.com"), or NULL */
	enum dsn_action action;
	const char *status;      /* enhanced status code, "5.7.5" */
	const char *remote_mta;  /* host name of the server that answered, or NULL */
	const char *diagnostic;  /* "smtp; 550 5.1.1 user unknown" or our own reason */
	/* the diagnostic-type of DIAGNOSTIC ("smtp" for a remote reply, as the
	 * queue says), or NULL: see "Details" below */
	const char *diagnostic_type;
	time_t last_attempt;     /* 0 = unknown */
	time_t will_retry_until; /* for DELAYED */
	/* How the last attempt travelled (the queue's record), each NULL when
	 * not known: see "The record" below. */
	const char *relay;         /* "host[address]:port" */
	const char *tls;           /* "TLSv1.3/TLS_AES_256_GCM_SHA384", "" for plaintext */
	const char *peer;          /* "dane", "sts", "verified", "unchecked", "none" */
	const char *policy;        /* the TLS level applied */
	const char *policy_source; /* which rule chose it */
	const char *evidence;      /* that rule in words */
	const char *testing;       /* "would have failed: ..." */
};

struct dsn_params {
	const char *reporting_mta; /* our host name */
	const char *queue_id;
	const char *envid;  /* ENVID as given, or NULL */
	const char *sender; /* the original envelope sender (the DSN's recipient) */
	time_t arrival;
	enum dsn_ret ret;
	const struct dsn_recipient *rcpts;
	unsigned n_rcpts;
	const char *message;       /* the original message (CRLF line ends), its headers */
	size_t message_len;        /* are always found; the body too with RET=FULL */
	time_t now;                /* Date: of the DSN */
	const char *boundary_seed; /* makes the MIME boundary unique; e.g. the queue id */
};

/* Builds the whole DSN message (headers and body, CRLF line ends): From:
 * MAILER-DAEMON@reporting_mta, To: sender, a Subject that says what happened
 * ("Undelivered Mail Returned to Sender" / "Delayed Mail (still being
 * retried)" / "Successful Mail Delivery Report"), Auto-Submitted:
 * auto-replied (RFC 3834), a multipart/report; report-type=delivery-status
 * with: a human-readable part that names each recipient and the exact
 * reason; the message/delivery-status part (per-message fields, then per
 * recipient fields: Final-Recipient, Original-Recipient, Action, Status,
 * Remote-MTA, Diagnostic-Code, Last-Attempt-Date, Will-Retry-Until); and the
 * original as text/rfc822-headers (headers only) or message/rfc822 (full,
 * RET=FULL). Returns malloc'ed bytes, *len_r their length.
 *
 * Details: the original goes back whole only with RET=FULL and at least one
 * failed recipient (RFC 3461 4.3), else its header block (up to and
 * including the empty line; all of it when it has none). A diagnostic that
 * starts with a diagnostic-type ("smtp;", "X-Foo;") keeps it; one starting
 * with a reply code ("550 5.1.1 ...") gets "smtp;", anything else
 * "X-Sealmail;", unless diagnostic_type is given: then it is the type and
 * DIAGNOSTIC the text. ORCPT and ENVID are xtext-decoded when they are valid
 * xtext. Values from outside (diagnostics, addresses, host names) have
 * control characters (CR, LF) turned into spaces and octets above 127 into
 * '?', so they cannot start a line; long lines are folded (continuation
 * lines start with a space) and no line exceeds 998 octets. A status that is
 * not an enhanced code is replaced by the generic one of the action (5.0.0,
 * 4.0.0, 2.0.0). The boundary is made from boundary_seed and now, and varied
 * until it occurs in none of the parts. NULL strings count as empty.
 *
 * The record. A recipient with a TLS value (tls non-NULL) gets, in part 1,
 * a line under its reason, "  relay RELAY, TLS TLS|none, peer PEER, policy
 * LEVEL (SOURCE)", and lines "  policy chosen by: EVIDENCE" and "  testing:
 * TESTING" when they are not empty; in part 2, Remote-MTA from the relay's
 * host name when remote_mta is NULL, and these per-recipient extension
 * fields (RFC 3464 3: "X-" names are private to sealmail; each only when it
 * has a value, in this order, after the standard fields, as 2.3 puts
 * extension fields):
 *   X-Sealmail-TLS: TLSv1.3/TLS_AES_256_GCM_SHA384   (or "none": plaintext)
 *   X-Sealmail-TLS-Peer: unchecked      dane, sts, verified, unchecked, none
 *   X-Sealmail-TLS-Policy: may          the level applied
 *   X-Sealmail-TLS-Policy-Source: default   default, local, dane, sts,
 *                                       requiretls, memory, override, ...
 *   X-Sealmail-TLS-Evidence: rule example.com at /etc/sealmail.conf:12
 *   X-Sealmail-TLS-Testing: would have failed: ...
 */
char *dsn_build(const struct dsn_params *p, size_t *len_r);

#endif
