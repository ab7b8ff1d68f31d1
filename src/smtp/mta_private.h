/*
 * mta_private.h: what the SMTP client's files share (mta.c, mta_destination.c,
 * mta_session.c, mta_tls.c): the limits, the states of a connection's
 * dialog, the structs of the client, its destinations and connections, and
 * the functions one file calls in another. Nothing outside the client
 * includes it; the dispatcher sees mta.h.
 */
#ifndef SEALMAIL_MTA_PRIVATE_H
#define SEALMAIL_MTA_PRIVATE_H

#include <event2/util.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/handle.h"
#include "lib/io.h"
#include "mail/delivery.h"
#include "mail/dotstuff.h"
#include "mail/tls_evidence.h"
#include "policy/decide.h"
#include "policy/policy.h"
#include "smtp/mta.h"
#include "smtp/smtp_reply.h"

struct event;

#define MTA_MAX_SESSIONS 10  /* connections per destination */
#define MTA_IDLE_SECONDS 5   /* an idle connection waits this long for a task */
#define MTA_MAX_HOSTS 32     /* candidate addresses per destination */
#define MTA_MAX_PENDING 2200 /* replies awaited at once (a pipelined group) */
#define MTA_DATA_CHUNK 65536
#define MTA_POLICY_STATUS "4.7.5" /* RFC 3463: cryptographic failure */

struct mta_dest;

enum mta_state {
	MTA_STATE_RESOLVING,
	MTA_STATE_CONNECTING,
	MTA_STATE_GREETING,
	MTA_STATE_EHLO,
	MTA_STATE_HELO,
	MTA_STATE_STARTTLS,
	MTA_STATE_HANDSHAKE,
	MTA_STATE_READY,    /* no transaction */
	MTA_STATE_TXN,      /* MAIL/RCPT/DATA replies awaited */
	MTA_STATE_BODY,     /* streaming the message */
	MTA_STATE_BODY_END, /* waiting for the reply to the final dot */
	MTA_STATE_RSET,     /* a refused transaction is being reset */
	MTA_STATE_QUIT,
};

struct mta_host {
	char name[256];
	char addr[64];
	unsigned pref;
	uint32_t secure;      /* enum dnssec_status of its address records */
	uint32_t tlsa_status; /* enum dnssec_status of its TLSA lookup */
	unsigned n_tlsa;
	struct tlsa_record *tlsa; /* n_tlsa records, malloc'ed; NULL when none */
};

/* The envelope and task flags that change the TLS decision: tasks differing
 * in them go to different destinations (struct mta_dest), so that every
 * connection serves tasks held to the same policy. */
#define MTA_DEST_FLAGS (ENVELOPE_REQUIRETLS | ENVELOPE_TLS_OPTIONAL | MTA_TASK_TLS_OVERRIDE)

struct mta_session {
	struct mta *mta;
	struct mta_dest *dest;
	uint64_t handle;
	enum mta_state state;
	struct io *io; /* the connection to the current host */
	struct event *ev_idle;
	struct event *ev_free; /* the struct itself goes from the event loop */
	int closed;            /* callbacks higher on the stack must stop */

	struct mta_host hosts[MTA_MAX_HOSTS];
	unsigned n_hosts, cur;
	char last_error[512];   /* why the previous host failed */
	int policy_failed;      /* the last error was a TLS policy failure */
	int plaintext_fallback; /* "may": the handshake failed; retry without TLS */
	unsigned hosts_policy_failed, hosts_other_failed; /* how the hosts so far failed */

	/* what the lookup said about the destination (proto/lookup.h) */
	uint32_t mx_status; /* enum dnssec_status of the MX RRset */
	struct sts_policy sts;
	char rua[512];
	/* the TLS decision for the current host (policy/decide.h), and what
	 * the connection to it achieved */
	struct tls_decision dec;
	struct tls_judgement judged; /* peer etc.: valid once judged */
	char rpt_type[40];           /* of the last policy failure, for TLS-RPT */
	char fail_mx[256], fail_ip[64]; /* the host that failed last */

	struct smtp_reply_parser parser;
	struct smtp_reply reply;
	int esmtp;
	int ext_pipelining, ext_starttls, ext_8bitmime, ext_dsn;
	uint64_t ext_size;
	int tls_active;
	char tls_desc[160];
	char peer[16];
	char relay[320];

	/* the task in progress */
	struct mta_task *task;
	unsigned expect_rcpt; /* RCPT replies still to come */
	unsigned rcpt_next;   /* index of the recipient whose reply comes next */
	unsigned accepted;    /* recipients the peer took */
	int mail_pending;     /* the MAIL reply is still to come */
	int mail_failed;      /* MAIL was refused: the RCPT replies do not count */
	int data_pending;     /* the DATA reply is still to come */
	uint64_t body_off;
	struct smtp_dotstuff dot;

	struct mta_session *next;
};

/* All tasks and connections for one domain. */
struct mta_dest {
	struct mta *mta;
	char domain[256];
	uint32_t flags;      /* the tasks' MTA_DEST_FLAGS */
	uint32_t seen_level; /* downgrade memory, from the latest task */
	uint64_t seen_time;
	struct tls_policy policy;
	struct tls_route route; /* route.host "" = the domain's MX hosts */
	struct mta_task *queue, *queue_tail;
	struct mta_session *sessions;
	unsigned n_sessions;
	struct mta_dest *next;
};

struct mta {
	struct mta_env env;
	struct mta_dest *dests;
	struct handle_table sessions; /* connections waiting for DNS find theirs */
	int closing;
};

/* mta.c: tasks */
void mta_task_settle_status(struct mta_task *t, enum mta_outcome outcome,
                            const struct delivery_status *st);
void mta_task_settle(struct mta_task *t, enum mta_outcome outcome, const char *status,
                     const char *text);
void mta_task_finish(struct mta *m, struct mta_task *t);

/* mta_destination.c: destinations and the host list */
/* Fails every queued task of D with TEXT; their report is REP (NULL: only
 * the level). */
void mta_dest_fail_queued(struct mta_dest *d, enum mta_outcome outcome, const char *status,
                          const char *text, const struct mta_report *rep);
uint16_t mta_dest_port(const struct mta_dest *d);
void mta_dest_kick(struct mta_dest *d);
/* The destination of tasks for DOMAIN whose MTA_DEST_FLAGS are FLAGS. */
struct mta_dest *mta_dest_get(struct mta *m, const char *domain, uint32_t flags);
/* Connects to the current host, or the first after it the TLS decision
 * does not skip (when none is left, the tasks fail). */
void mta_session_try_host(struct mta_session *s);
/* Takes the lookup answer's hosts (at most MTA_MAX_HOSTS) and facts. */
void mta_session_set_hosts(struct mta_session *s, const struct proto_lookup_hosts_result *res);
int mta_host_sockaddr(const struct mta_host *h, uint16_t port, struct sockaddr_storage *ss,
                      socklen_t *len);
void mta_session_disconnect(struct mta_session *s);
/* QUIT and a clean close, or dropped when the dialog is not at a command. */
void mta_session_quit_host(struct mta_session *s);
/* Fails the task in progress and the queued ones (OUTCOME, STATUS, REASON,
 * the last failure's report) and frees S. */
void mta_session_give_up(struct mta_session *s, enum mta_outcome outcome, const char *status,
                         const char *reason);
void mta_session_next_host(struct mta_session *s, const char *reason, int policy);
void mta_session_host_failed(struct mta_session *s, const char *status, const char *reason,
                             int policy);
void mta_session_free(struct mta_session *s);

/* mta_session.c: the dialog */
void mta_send(struct mta_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mta_reply_text(const struct smtp_reply *r, char *buf, size_t size);
void mta_session_connect(struct mta_session *s);
/* Moves S to STATE and sends what STATE begins with: the one place a
 * connection changes state. */
void mta_session_enter_state(struct mta_session *s, enum mta_state state);
void mta_session_start_task(struct mta_session *s);

/* mta_tls.c: STARTTLS and the TLS policy */
void mta_policy_error(struct mta_session *s, char *buf, size_t size, const char *what);
/* The TLS decision for the current host (policy/decide.h) into s->dec. */
void mta_tls_decide(struct mta_session *s);
/* EHLO (or HELO) was answered: STARTTLS as decided, or judge the plaintext
 * connection (and go ready, or leave the host). */
void mta_tls_after_ehlo(struct mta_session *s);
/* Fills the TLS and policy fields of REP from the connection. */
void mta_tls_report(const struct mta_session *s, struct mta_report *rep);
/* The same for a task that no connection carried: the last failure's. */
void mta_tls_report_failure(const struct mta_session *s, struct mta_report *rep);
void mta_session_on_starttls(struct mta_session *s, const struct smtp_reply *r);
void mta_session_tls_ready(struct mta_session *s);
void mta_session_handshake_failed(struct mta_session *s, enum io_event event);

#endif
