/*
 * dispatcher_private.h: the dispatcher's state, shared by dispatcher.c
 * (accepting, SMTP sessions, the SMTP client, the queue and lookup roles)
 * and dispatcher_mailbox.c (IMAP and POP3 sessions and the store role).
 * Private to src/daemon.
 */
#ifndef SEALMAIL_DISPATCHER_PRIVATE_H
#define SEALMAIL_DISPATCHER_PRIVATE_H

#include <sys/socket.h>

#include "conf/config.h"
#include "imap/imap_session.h"
#include "lib/handle.h"
#include "mail/envelope.h"
#include "pop3/pop3_session.h"
#include "proto/queue.h"
#include "smtp/smtp_session.h"

struct config;
struct config_listener;
struct conn_limits;
struct evconnlistener;
struct ipc_channel;
struct mta;
struct tls_client;

#define DISPATCHER_POOL 32     /* spool files kept ready */
#define DISPATCHER_POOL_LOW 12 /* ask for more below this */

/* One server session (SMTP, IMAP or POP3), named by its handle: exactly
 * one of the session pointers is set. */
struct dispatcher_conn {
	struct smtp_session *session;
	struct imap_session *imap;
	struct pop3_session *pop3;
	struct sockaddr_storage peer;
	int counted;    /* holds a connection slot (network sessions; never local ones) */
	int per_client; /* ... counted under its address too (not trusted_networks) */
	char lookup[ENVELOPE_ADDR_MAX]; /* the recipient being looked up */
};

/* Users the lookup role accepted as recipients, until it says the users or
 * aliases changed: spares a round trip per recipient. */
#define DISPATCHER_RCPT_CACHE 4096

struct dispatcher_rcpt {
	char *address;
	char **targets;
	unsigned n;
};

struct dispatcher {
	uint64_t rcpt_key; /* random: recipients are a client's choice (lib/hash.h) */
	const struct config *cfg;
	struct event_base *base;
	struct smtp_env env;
	struct imap_env imap_env;
	struct pop3_env pop3_env;
	struct tls_client *tls_client; /* outbound STARTTLS */
	struct ipc_channel *queue, *lookup, *store;
	struct evconnlistener *listeners[CONFIG_MAX_LISTENERS];
	unsigned n_listeners;
	struct evconnlistener *local;
	struct conn_limits *limits;
	unsigned limit_slot;

	struct handle_table sessions; /* of struct dispatcher_conn */
	unsigned active;
	int retiring;
	struct mta *mta;
	struct dispatcher_rcpt rcpt_cache[DISPATCHER_RCPT_CACHE];

	/* spool files made in advance by the queue */
	struct {
		char id[PROTO_QUEUE_ID_MAX];
		int fd;
	} pool[DISPATCHER_POOL];
	unsigned n_pool, pool_requested;
	uint64_t *pool_waiting; /* sessions whose DATA waits for a file */
	unsigned n_waiting, cap_waiting;
};

struct dispatcher_conn *dispatcher_conn(struct dispatcher *d, uint64_t handle);

/* The session callbacks SMTP, IMAP and POP3 share (dispatcher.c). */
void dispatcher_auth_check(void *owner, uint64_t handle, const char *user, const char *password);
void dispatcher_session_ending(void *owner, uint64_t handle);
void dispatcher_session_closed(void *owner, uint64_t handle);

/* dispatcher_mailbox.c: fills d->imap_env and d->pop3_env. */
void dispatcher_mailbox_init(struct dispatcher *d);
/* Starts an IMAP or POP3 session (L's protocol) on FD for C, named HANDLE. */
void dispatcher_mailbox_start(struct dispatcher *d, struct dispatcher_conn *c,
                              const struct config_listener *l, int fd, socklen_t salen,
                              uint64_t handle);
/* The lookup role's answer to an IMAP or POP3 login. */
void dispatcher_mailbox_auth_result(struct dispatcher_conn *c, const void *data, size_t len);
/* The store role's messages (an ipc_handler_fn). */
void dispatcher_store_handler(struct ipc_channel *ch, uint32_t type, uint64_t id, const void *data,
                              size_t len, int fd, void *arg);

#endif
