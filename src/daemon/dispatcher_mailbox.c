/*
 * dispatcher_mailbox.c: the dispatcher's side of IMAP and POP3. It starts
 * the sessions, sends their logins to the lookup role (which applies the
 * same brute-force delays as for SMTP AUTH) and their requests to the
 * store role, and hands the store's answers back by the session's handle.
 * A reply for a session that is gone finds no handle and is dropped (its
 * descriptor closed).
 */
#include "daemon/dispatcher_private.h"

#include <unistd.h>

#include "conf/config.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "proto/lookup.h"
#include "proto/store.h"

static void dispatcher_store_send(void *owner, uint64_t handle, uint32_t type,
                                  struct ipc_writer *w, int fd)
{
	struct dispatcher *d = owner;

	proto_send(d->store, type, handle, w, fd);
}

void dispatcher_mailbox_init(struct dispatcher *d)
{
	d->imap_env = (struct imap_env){
	    .base = d->base,
	    .cfg = d->cfg,
	    .tls = d->env.tls,
	    .owner = d,
	    .auth_check = dispatcher_auth_check,
	    .store_send = dispatcher_store_send,
	    .ending = dispatcher_session_ending,
	    .closed = dispatcher_session_closed,
	};
	d->pop3_env = (struct pop3_env){
	    .base = d->base,
	    .cfg = d->cfg,
	    .tls = d->env.tls,
	    .owner = d,
	    .auth_check = dispatcher_auth_check,
	    .store_send = dispatcher_store_send,
	    .ending = dispatcher_session_ending,
	    .closed = dispatcher_session_closed,
	};
}

void dispatcher_mailbox_start(struct dispatcher *d, struct dispatcher_conn *c,
                              const struct config_listener *l, int fd, socklen_t salen,
                              uint64_t handle)
{
	const struct sockaddr *sa = (const struct sockaddr *)&c->peer;

	if (l->protocol == LISTENER_IMAP) {
		struct imap_session *s = imap_session_new(&d->imap_env, l, fd, sa, salen, handle);
		/* a session that failed at once has been closed already, C with it */
		if (s != NULL && (c = dispatcher_conn(d, handle)) != NULL)
			c->imap = s;
		return;
	}
	struct pop3_session *s = pop3_session_new(&d->pop3_env, l, fd, sa, salen, handle);
	if (s != NULL && (c = dispatcher_conn(d, handle)) != NULL)
		c->pop3 = s;
}

void dispatcher_mailbox_auth_result(struct dispatcher_conn *c, const void *data, size_t len)
{
	struct proto_auth_result msg;
	const char *why;

	if (proto_auth_result_decode(&msg, data, len, &why) < 0)
		log_error("event=ipc-error reason=\"%s\"", why); /* msg is zeroed: a failure */
	if (c->imap != NULL)
		imap_session_auth_done(c->imap, (int)msg.ok, msg.user);
	else if (c->pop3 != NULL)
		pop3_session_auth_done(c->pop3, (int)msg.ok, msg.user);
	proto_auth_result_free(&msg);
}

void dispatcher_store_handler(struct ipc_channel *ch, uint32_t type, uint64_t id, const void *data,
                              size_t len, int fd, void *arg)
{
	struct dispatcher_conn *c = dispatcher_conn(arg, id);

	if (c != NULL && c->imap != NULL)
		imap_session_store_reply(c->imap, type, data, len, fd);
	else if (c != NULL && c->pop3 != NULL)
		pop3_session_store_reply(c->pop3, type, data, len, fd);
	else if (fd >= 0)
		close(fd);
}
