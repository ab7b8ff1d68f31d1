/*
 * imap_session.h: one IMAP server session (RFC 9051 IMAP4rev2 and RFC 3501
 * IMAP4rev1, STARTTLS, the extensions its CAPABILITY names), as the
 * dispatcher runs it, exactly as it runs SMTP sessions.
 *
 * The session knows nothing of other roles: it asks its owner, through
 * the callbacks in struct imap_env, to check a password (the lookup role)
 * or to carry a typed request to the store role (proto/store.h), and the
 * owner hands the answers back with imap_session_auth_done() and
 * imap_session_store_reply(). While such an answer is pending the session
 * reads no further command, so pipelined commands are answered in order.
 */
#ifndef SEALMAIL_IMAP_SESSION_H
#define SEALMAIL_IMAP_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct config;
struct config_listener;
struct event_base;
struct imap_session;
struct ipc_writer;
struct tls_server;

struct imap_env {
	struct event_base *base;
	const struct config *cfg;
	struct tls_server *tls;
	void *owner;
	/* Checks USER's PASSWORD with the lookup role (which applies the
	 * brute-force delays); answered by imap_session_auth_done(). */
	void (*auth_check)(void *owner, uint64_t handle, const char *user, const char *password);
	/* Sends one store request: TYPE, the payload of W (freed here), FD
	 * (given away) or -1. */
	void (*store_send)(void *owner, uint64_t handle, uint32_t type, struct ipc_writer *w,
	                   int fd);
	/* The session takes no more commands (its last reply is queued, or
	 * the client left): the connection's place under [limits] may go to
	 * the client's next connection now, not when this one's memory goes.
	 * closed() follows. May be NULL. */
	void (*ending)(void *owner, uint64_t handle);
	/* The session is gone; HANDLE will not be used again. */
	void (*closed)(void *owner, uint64_t handle);
};

/* Starts a session on the accepted socket FD (owned from now on) of
 * listener L; HANDLE identifies it in callbacks. NULL when it could not
 * start (closed() was called). */
struct imap_session *imap_session_new(const struct imap_env *env, const struct config_listener *l,
                                      int fd, const struct sockaddr *sa, socklen_t salen,
                                      uint64_t handle);
/* OK is an enum proto_auth_ok; USER the canonical name. */
void imap_session_auth_done(struct imap_session *s, int ok, const char *user);
/* A store message for this session (TYPE of proto/store.h); takes FD (or
 * -1). */
void imap_session_store_reply(struct imap_session *s, uint32_t type, const void *data, size_t len,
                              int fd);
/* Ends the session at once (the dispatcher is stopping); calls closed(). */
void imap_session_abort(struct imap_session *s);

#endif
