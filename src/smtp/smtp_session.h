/*
 * smtp_session.h: one SMTP server session (RFC 5321, RFC 3207 STARTTLS,
 * RFC 2920 PIPELINING), as the dispatcher runs it.
 *
 * The session knows nothing of other roles: it asks its owner, through the
 * callbacks in struct smtp_env, to check a recipient or to open and commit a
 * spool file, and the owner answers with smtp_session_*_done(). While such an
 * answer is pending the session reads no further command, so pipelined
 * commands are answered in order.
 */
#ifndef SEALMAIL_SMTP_SESSION_H
#define SEALMAIL_SMTP_SESSION_H

#include <stdint.h>
#include <sys/socket.h>

struct config;
struct config_listener;
struct envelope;
struct event_base;
struct smtp_session;
struct tls_server;

struct smtp_env {
	struct event_base *base;
	const struct config *cfg;
	struct tls_server *tls;
	void *owner;
	void (*lookup_rcpt)(void *owner, uint64_t handle, const char *address);
	/* What an earlier lookup said ADDRESS goes to, if it is remembered:
	 * 1 with *targets_r and *n_r, else 0. */
	int (*lookup_cached)(void *owner, const char *address, const char *const **targets_r,
	                     unsigned *n_r);
	/* A spool file for a new message: 1 with its queue id and descriptor
	 * at once (the dispatcher keeps some ready), or 0 when the answer comes
	 * later through smtp_session_open_done(). */
	int (*queue_file)(void *owner, uint64_t handle, char *id_r, int *fd_r);
	/* SIZE octets (CRC-32C CRC) were written to the file; the envelope
	 * goes with them. */
	void (*queue_commit)(void *owner, uint64_t handle, const char *queue_id, uint64_t size,
	                     uint32_t crc, const struct envelope *env);
	void (*queue_abort)(void *owner, uint64_t handle, const char *queue_id);
	/* Checks a password (or, with PASSWORD NULL, that USER exists, for a
	 * client certificate); answered by smtp_session_auth_done(). */
	void (*auth_check)(void *owner, uint64_t handle, const char *user, const char *password);
	/* The session takes no more commands (its last reply is queued, or
	 * the client left): the connection's place under [limits] may go to
	 * the client's next connection now, not when this one's memory goes.
	 * closed() follows. May be NULL. */
	void (*ending)(void *owner, uint64_t handle);
	/* The session is gone; HANDLE will not be used again. */
	void (*closed)(void *owner, uint64_t handle);
};

/* Starts a session on the accepted socket FD. HANDLE identifies it in
 * callbacks. Takes ownership of FD. */
struct smtp_session *smtp_session_new(const struct smtp_env *env, const struct config_listener *l,
                                      int fd, const struct sockaddr *sa, socklen_t salen,
                                      uint64_t handle);
/* For the local submission socket: the client is the local user UID,
 * whose login name is NAME ("" when unknown). */
void smtp_session_set_local(struct smtp_session *s, unsigned uid, const char *name);

/* Answers to the callbacks; see proto/proto.h for RESULT and OK. TARGETS
 * are the recipients an alias expands to (the address itself otherwise). */
void smtp_session_lookup_done(struct smtp_session *s, unsigned result, const char *const *targets,
                              unsigned n_targets);
/* USER is the canonical name; OWNED the addresses it may send as. */
void smtp_session_auth_done(struct smtp_session *s, int ok, int by_certificate, const char *user,
                            const char *const *owned, unsigned n_owned);
/* OK is an enum queue_result (proto/proto.h). */
void smtp_session_open_done(struct smtp_session *s, int ok, const char *text, int fd);
void smtp_session_commit_done(struct smtp_session *s, int ok, const char *text);

#endif
