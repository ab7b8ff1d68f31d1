/*
 * pop3_session.h: one POP3 server session (RFC 1939, RFC 2449 CAPA, RFC
 * 2595 STLS, RFC 5034 AUTH PLAIN), as the dispatcher runs it.
 *
 * The session knows nothing of other roles: it asks its owner, through the
 * callbacks of struct pop3_env, to check a password (the lookup role) and
 * to send requests to the store role (proto/store.h); the answers come back
 * through pop3_session_auth_done() and pop3_session_store_reply(). While an
 * answer is pending the session reads no further command, so pipelined
 * commands (RFC 2449 6.6) are answered in order.
 *
 * The maildrop is the user's INBOX, selected exclusively (a second POP3
 * session gets -ERR [IN-USE]); DELE only marks, and the marked messages
 * are removed when QUIT ends the TRANSACTION state, never when the
 * connection drops or times out (RFC 1939 6).
 */
#ifndef SEALMAIL_POP3_SESSION_H
#define SEALMAIL_POP3_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct config;
struct config_listener;
struct event_base;
struct ipc_writer;
struct pop3_session;
struct tls_server;

struct pop3_env {
	struct event_base *base;
	const struct config *cfg;
	struct tls_server *tls;
	void *owner;
	/* Checks USER's PASSWORD with the lookup role (which applies the
	 * brute-force delays); answered by pop3_session_auth_done(). */
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

/* Starts a session on the accepted socket FD (owned from now on), on
 * listener L; HANDLE identifies it in callbacks. NULL when it could not
 * start (closed() was called). */
struct pop3_session *pop3_session_new(const struct pop3_env *env, const struct config_listener *l,
                                      int fd, const struct sockaddr *sa, socklen_t salen,
                                      uint64_t handle);
/* OK is an enum proto_auth_ok (proto/lookup.h); USER the canonical name. */
void pop3_session_auth_done(struct pop3_session *s, int ok, const char *user);
/* A store message for this session (TYPE of proto/store.h, its payload
 * DATA of LEN octets); takes FD (or -1). */
void pop3_session_store_reply(struct pop3_session *s, uint32_t type, const void *data, size_t len,
                              int fd);
/* Ends the session at once (the dispatcher is stopping); calls closed().
 * Nothing is deleted. */
void pop3_session_abort(struct pop3_session *s);

#endif
