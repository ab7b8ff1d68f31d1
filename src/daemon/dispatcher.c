/*
 * dispatcher.c: see dispatcher.h.
 *
 * Sessions are found again from a reply's request id through a handle
 * table (lib/handle.h): the id holds the slot and a generation number, so
 * a reply for a session that is gone finds nothing. Messages to and from
 * the other roles are the typed structs of proto/queue.h and
 * proto/lookup.h.
 */
#include "daemon/dispatcher.h"
#include "daemon/local_users.h"
#include "daemon/dispatcher_private.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <event2/listener.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/config.h"
#include "daemon/limits.h"
#include "daemon/tls_settings.h"
#include "lib/handle.h"
#include "lib/hash.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/readiness.h"
#include "lib/tls.h"
#include "lib/tls_client.h"
#include "lib/util.h"
#include "mail/envelope.h"
#include "proto/lookup.h"
#include "proto/metrics.h"
#include "proto/queue.h"
#include "smtp/mta.h"
#include "smtp/smtp_session.h"

struct dispatcher_conn *dispatcher_conn(struct dispatcher *d, uint64_t handle)
{
	return handle_table_get(&d->sessions, handle);
}

static struct smtp_session *dispatcher_session(struct dispatcher *d, uint64_t handle)
{
	struct dispatcher_conn *c = dispatcher_conn(d, handle);

	return c != NULL ? c->session : NULL;
}

/* ---- callbacks from sessions ---------------------------------------- */

static unsigned dispatcher_rcpt_bucket(const struct dispatcher *d, const char *address)
{
	return (unsigned)(hash_str(d->rcpt_key, address) % DISPATCHER_RCPT_CACHE);
}

static void dispatcher_rcpt_clear(struct dispatcher_rcpt *r)
{
	unsigned i;

	for (i = 0; i < r->n; i++)
		free(r->targets[i]);
	free(r->targets);
	free(r->address);
	memset(r, 0, sizeof(*r));
}

static int dispatcher_lookup_cached(void *owner, const char *address, const char *const **targets_r,
                                    unsigned *n_r)
{
	struct dispatcher *d = owner;
	struct dispatcher_rcpt *r = &d->rcpt_cache[dispatcher_rcpt_bucket(d, address)];

	if (r->address == NULL || strcmp(r->address, address) != 0)
		return 0;
	*targets_r = (const char *const *)r->targets;
	*n_r = r->n;
	return 1;
}

static void dispatcher_rcpt_remember(struct dispatcher *d, const char *address, char **targets,
                                     unsigned n)
{
	struct dispatcher_rcpt *r = &d->rcpt_cache[dispatcher_rcpt_bucket(d, address)];
	unsigned i;

	dispatcher_rcpt_clear(r);
	r->address = xstrdup(address);
	r->targets = xcalloc(n ? n : 1, sizeof(char *));
	for (i = 0; i < n; i++)
		r->targets[i] = xstrdup(targets[i]);
	r->n = n;
}

static void dispatcher_lookup_rcpt(void *owner, uint64_t handle, const char *address)
{
	struct dispatcher *d = owner;
	struct dispatcher_conn *c = dispatcher_conn(d, handle);
	struct proto_lookup_rcpt msg;
	struct ipc_writer w;

	if (c != NULL)
		strlcpy_checked(c->lookup, address, sizeof(c->lookup));
	strlcpy_checked(msg.address, address, sizeof(msg.address));
	ipc_writer_init(&w);
	proto_lookup_rcpt_encode(&msg, &w);
	proto_send(d->lookup, IMSG_LOOKUP_RCPT, handle, &w, -1);
}

static void dispatcher_queue_abort(void *owner, uint64_t handle, const char *queue_id);

/* Asks the queue for spool files when few are left. */
static void dispatcher_pool_refill(struct dispatcher *d)
{
	struct proto_queue_pool msg;
	struct ipc_writer w;

	if (d->n_pool + d->pool_requested >= DISPATCHER_POOL_LOW + d->n_waiting)
		return;
	msg.count = DISPATCHER_POOL - d->n_pool - d->pool_requested;
	d->pool_requested += msg.count;
	ipc_writer_init(&w);
	proto_queue_pool_encode(&msg, &w);
	proto_send(d->queue, IMSG_QUEUE_POOL, 0, &w, -1);
}

static int dispatcher_queue_file(void *owner, uint64_t handle, char *id_r, int *fd_r)
{
	struct dispatcher *d = owner;

	if (d->n_pool == 0) {
		if (d->n_waiting == d->cap_waiting) {
			d->cap_waiting = d->cap_waiting ? d->cap_waiting * 2 : 16;
			d->pool_waiting =
			    xrealloc(d->pool_waiting, d->cap_waiting * sizeof(d->pool_waiting[0]));
		}
		d->pool_waiting[d->n_waiting++] = handle;
		dispatcher_pool_refill(d);
		return 0;
	}
	d->n_pool--;
	strlcpy_checked(id_r, d->pool[d->n_pool].id, PROTO_QUEUE_ID_MAX);
	*fd_r = d->pool[d->n_pool].fd;
	dispatcher_pool_refill(d);
	return 1;
}

/* Gives a pool file (FD, or -1 with a failed STATUS) to the first session
 * still waiting; returns 0 when none waits. */
static int dispatcher_pool_give(struct dispatcher *d, int status, const char *text, int fd)
{
	while (d->n_waiting > 0) {
		uint64_t handle = d->pool_waiting[0];
		struct smtp_session *s = dispatcher_session(d, handle);
		memmove(d->pool_waiting, d->pool_waiting + 1, --d->n_waiting * sizeof(uint64_t));
		if (s == NULL)
			continue;
		smtp_session_open_done(s, status, text, fd);
		return 1;
	}
	return 0;
}

/* IMSG_QUEUE_POOL_FILE: to a waiting session first, else into the pool. */
static void dispatcher_pool_file(struct dispatcher *d, const void *data, size_t len, int fd)
{
	struct proto_queue_pool_file msg;
	const char *why;
	int status;

	if (proto_queue_pool_file_decode(&msg, data, len, &why) < 0)
		strlcpy_checked(msg.id, why, sizeof(msg.id));
	status = msg.result == QUEUE_RESULT_OK && fd < 0 ? QUEUE_RESULT_FAILED : (int)msg.result;
	if (d->pool_requested > 0)
		d->pool_requested--;
	if (status != QUEUE_RESULT_OK) {
		if (fd >= 0)
			close(fd);
		fd = -1;
		log_error("event=queue-error reason=\"no spool file: %s\"", msg.id);
	}
	if (dispatcher_pool_give(d, status, msg.id, fd) || status != QUEUE_RESULT_OK)
		return;
	if (d->n_pool == DISPATCHER_POOL) {
		dispatcher_queue_abort(d, 0, msg.id);
		close(fd);
		return;
	}
	strlcpy_checked(d->pool[d->n_pool].id, msg.id, sizeof(d->pool[0].id));
	d->pool[d->n_pool++].fd = fd;
}

/* Into OUT: the address of C's peer, as the lookup role counts failed
 * logins by it ("local" for the submission socket). */
static void dispatcher_peer_address(const struct dispatcher_conn *c, char *out, size_t size)
{
	const struct sockaddr *sa = (const struct sockaddr *)&c->peer;
	const void *addr = NULL;

	if (sa->sa_family == AF_INET6)
		addr = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	else if (sa->sa_family == AF_INET)
		addr = &((const struct sockaddr_in *)sa)->sin_addr;
	if (addr == NULL || inet_ntop(sa->sa_family, addr, out, (socklen_t)size) == NULL)
		strlcpy_checked(out, "local", size);
}

void dispatcher_auth_check(void *owner, uint64_t handle, const char *user, const char *password)
{
	struct dispatcher *d = owner;
	struct proto_auth_check msg = {.has_password = password != NULL};
	struct dispatcher_conn *c = dispatcher_conn(d, handle);
	struct ipc_writer w;

	if (c != NULL)
		dispatcher_peer_address(c, msg.client, sizeof(msg.client));
	strlcpy_checked(msg.user, user, sizeof(msg.user));
	strlcpy_checked(msg.password, password ? password : "", sizeof(msg.password));
	ipc_writer_init(&w);
	proto_auth_check_encode(&msg, &w);
	explicit_bzero(&msg, sizeof(msg));
	ipc_send(d->lookup, IMSG_AUTH_CHECK, handle, w.buf, w.len, -1);
	explicit_bzero(w.buf, w.len);
	ipc_writer_free(&w);
}

static void dispatcher_queue_commit(void *owner, uint64_t handle, const char *queue_id,
                                    uint64_t size, uint32_t crc, const struct envelope *env)
{
	struct dispatcher *d = owner;
	struct proto_queue_commit msg = {.size = size, .crc = crc, .env = *env};
	struct ipc_writer w;

	strlcpy_checked(msg.queue_id, queue_id, sizeof(msg.queue_id));
	ipc_writer_init(&w);
	proto_queue_commit_encode(&msg, &w); /* msg.env shares the session's recipients */
	proto_send(d->queue, IMSG_QUEUE_COMMIT, handle, &w, -1);
}

static void dispatcher_queue_abort(void *owner, uint64_t handle, const char *queue_id)
{
	struct dispatcher *d = owner;
	struct proto_queue_abort msg;
	struct ipc_writer w;

	strlcpy_checked(msg.queue_id, queue_id, sizeof(msg.queue_id));
	ipc_writer_init(&w);
	proto_queue_abort_encode(&msg, &w);
	proto_send(d->queue, IMSG_QUEUE_ABORT, handle, &w, -1);
}

/* A retiring dispatcher leaves once no session and no delivery is left. */
static void dispatcher_maybe_exit(struct dispatcher *d)
{
	if (d->retiring && d->active == 0 && mta_busy(d->mta) == 0)
		event_base_loopexit(d->base, NULL);
}

/* The session will read no more: its place under the connection limits is
 * given back now. A client that sends one message per connection opens
 * its next connection as soon as it has read 221, often before this
 * session's last bytes and close_notify are out. */
void dispatcher_session_ending(void *owner, uint64_t handle)
{
	struct dispatcher *d = owner;
	struct dispatcher_conn *c = dispatcher_conn(d, handle);

	if (c == NULL || !c->counted)
		return;
	conn_limits_release(d->limits, d->limit_slot,
	                    c->per_client ? (struct sockaddr *)&c->peer : NULL);
	c->counted = 0;
}

void dispatcher_session_closed(void *owner, uint64_t handle)
{
	struct dispatcher *d = owner;
	struct dispatcher_conn *c = dispatcher_conn(d, handle);

	if (c == NULL)
		return;
	dispatcher_session_ending(owner, handle);
	handle_table_remove(&d->sessions, handle);
	free(c);
	d->active--;
	dispatcher_maybe_exit(d);
}

/* ---- callbacks from the SMTP client ------------------------------------ */

static void dispatcher_mta_resolve(void *owner, uint64_t handle, const char *name, int mx_lookup,
                                   unsigned port, unsigned policy)
{
	struct dispatcher *d = owner;
	struct proto_lookup_hosts msg = {
	    .mx_lookup = mx_lookup != 0, .port = port, .policy = policy};
	struct ipc_writer w;

	strlcpy_checked(msg.name, name, sizeof(msg.name));
	ipc_writer_init(&w);
	proto_lookup_hosts_encode(&msg, &w);
	proto_send(d->lookup, IMSG_LOOKUP_HOSTS, handle, &w, -1);
}

/* The SMTP client's task finished: its outcome goes back to the queue. */
static void dispatcher_mta_done(void *owner, struct mta_task *task)
{
	struct dispatcher *d = owner;
	struct proto_task_result msg = {.report = task->report, .n_rcpts = task->n_rcpts};
	struct ipc_writer w;
	unsigned i;

	msg.rcpts = xcalloc(task->n_rcpts ? task->n_rcpts : 1, sizeof(msg.rcpts[0]));
	for (i = 0; i < task->n_rcpts; i++) {
		msg.rcpts[i].index = task->rcpts[i].index;
		msg.rcpts[i].outcome = task->rcpts[i].outcome;
		msg.rcpts[i].status = task->rcpts[i].status;
	}
	ipc_writer_init(&w);
	proto_task_result_encode(&msg, &w);
	proto_send(d->queue, IMSG_MTA_RESULT, task->id, &w, -1);
	proto_task_result_free(&msg);
	mta_task_free(task);
}

/* ---- messages from other roles ---------------------------------------- */

/* The SMTP client's task for the queue's IMSG_MTA_DELIVER (ID, with the
 * spool file FD, which it takes). */
static struct mta_task *dispatcher_task_new(uint64_t id, const struct proto_task *msg, int fd)
{
	struct mta_task *t = xcalloc(1, sizeof(*t));
	unsigned i;

	t->id = id;
	t->fd = fd;
	strlcpy_checked(t->queue_id, msg->queue_id, sizeof(t->queue_id));
	strlcpy_checked(t->domain, msg->domain, sizeof(t->domain));
	strlcpy_checked(t->sender, msg->sender, sizeof(t->sender));
	strlcpy_checked(t->body, msg->body, sizeof(t->body));
	strlcpy_checked(t->ret, msg->ret, sizeof(t->ret));
	strlcpy_checked(t->envid, msg->envid, sizeof(t->envid));
	t->header_len = msg->header_len;
	t->body_len = msg->body_len;
	t->flags = msg->flags;
	t->seen_level = msg->seen_level;
	t->seen_time = msg->seen_time;
	t->rcpts = xcalloc(msg->n_rcpts, sizeof(t->rcpts[0]));
	t->n_rcpts = msg->n_rcpts;
	for (i = 0; i < msg->n_rcpts; i++) {
		t->rcpts[i].r = msg->rcpts[i].r;
		t->rcpts[i].index = msg->rcpts[i].index;
	}
	return t;
}

/* IMSG_MTA_DELIVER: a task for the SMTP client. */
static void dispatcher_deliver(struct dispatcher *d, uint64_t id, const void *data, size_t len,
                               int fd)
{
	struct proto_task msg;
	const char *why = "no spool file";

	if (fd < 0 || proto_task_decode(&msg, data, len, &why) < 0) {
		log_error("event=ipc-error reason=\"%s\"", why);
		if (fd >= 0)
			close(fd);
		return;
	}
	mta_submit(d->mta, dispatcher_task_new(id, &msg, fd));
	proto_task_free(&msg);
}

/* IMSG_QUEUE_COMMIT_RESULT: the session's message is safe, or not. */
static void dispatcher_commit_result(struct dispatcher *d, uint64_t id, const void *data,
                                     size_t len)
{
	struct smtp_session *s = dispatcher_session(d, id);
	struct proto_queue_commit_result msg;
	const char *why;

	if (s == NULL)
		return; /* the session left while its message was being committed */
	if (proto_queue_commit_result_decode(&msg, data, len, &why) < 0)
		log_error("event=ipc-error reason=\"%s\"", why);
	smtp_session_commit_done(s, (int)msg.result, msg.text);
}

static void dispatcher_queue_handler(struct ipc_channel *ch, uint32_t type, uint64_t id,
                                     const void *data, size_t len, int fd, void *arg)
{
	struct dispatcher *d = arg;

	switch (type) {
	case IMSG_MTA_DELIVER:
		dispatcher_deliver(d, id, data, len, fd);
		return;
	case IMSG_QUEUE_POOL_FILE:
		dispatcher_pool_file(d, data, len, fd);
		return;
	case IMSG_QUEUE_COMMIT_RESULT:
		dispatcher_commit_result(d, id, data, len);
		break;
	default:
		log_error("event=ipc-error reason=\"unexpected message %u from the queue\"", type);
	}
	if (fd >= 0)
		close(fd);
}

static void dispatcher_auth_result(struct smtp_session *s, const void *data, size_t len)
{
	struct proto_auth_result msg;
	const char *why;

	if (proto_auth_result_decode(&msg, data, len, &why) < 0)
		log_error("event=ipc-error reason=\"%s\"", why);
	smtp_session_auth_done(s, (int)msg.ok, (int)msg.by_certificate, msg.user,
	                       (const char *const *)msg.owned.v, msg.owned.n);
	proto_auth_result_free(&msg);
}

static void dispatcher_rcpt_result(struct dispatcher *d, struct dispatcher_conn *c,
                                   const void *data, size_t len)
{
	struct proto_lookup_rcpt_result msg;
	const char *why;

	if (proto_lookup_rcpt_result_decode(&msg, data, len, &why) < 0) {
		log_error("event=ipc-error reason=\"%s\"", why);
		msg.result = LOOKUP_TEMPFAIL;
	}
	/* a user, not an alias: alias expansions are logged by the lookup role
	 * each time, so they are always asked */
	if (msg.result == LOOKUP_OK && msg.targets.n == 1 &&
	    strcmp(msg.targets.v[0], c->lookup) == 0)
		dispatcher_rcpt_remember(d, msg.targets.v[0], msg.targets.v, msg.targets.n);
	smtp_session_lookup_done(c->session, msg.result, (const char *const *)msg.targets.v,
	                         msg.targets.n);
	proto_lookup_rcpt_result_free(&msg);
}

/* IMSG_LOOKUP_HOSTS_RESULT: the host list for the SMTP client (a malformed
 * one is a temporary failure). */
static void dispatcher_hosts_result(struct dispatcher *d, uint64_t id, const void *data, size_t len)
{
	struct proto_lookup_hosts_result msg;
	const char *why;

	if (proto_lookup_hosts_result_decode(&msg, data, len, &why) < 0) {
		log_error("event=ipc-error reason=\"%s\"", why);
		msg.status = LOOKUP_HOSTS_TEMPFAIL;
	}
	mta_resolved(d->mta, id, &msg);
	proto_lookup_hosts_result_free(&msg);
	dispatcher_maybe_exit(d);
}

/* IMSG_LOOKUP_FORGET: the users or aliases changed. */
static void dispatcher_forget(struct dispatcher *d, const void *data, size_t len)
{
	const char *why;
	unsigned i;

	if (proto_lookup_forget_decode(data, len, &why) < 0)
		log_error("event=ipc-error reason=\"%s\"", why);
	for (i = 0; i < DISPATCHER_RCPT_CACHE; i++)
		dispatcher_rcpt_clear(&d->rcpt_cache[i]);
}

static void dispatcher_lookup_handler(struct ipc_channel *ch, uint32_t type, uint64_t id,
                                      const void *data, size_t len, int fd, void *arg)
{
	struct dispatcher *d = arg;
	struct dispatcher_conn *c = dispatcher_conn(d, id);

	if (fd >= 0)
		close(fd);
	if (type == IMSG_LOOKUP_HOSTS_RESULT)
		dispatcher_hosts_result(d, id, data, len);
	else if (type == IMSG_LOOKUP_FORGET)
		dispatcher_forget(d, data, len);
	else if (type == IMSG_LOOKUP_RCPT_RESULT && c != NULL && c->session != NULL)
		dispatcher_rcpt_result(d, c, data, len);
	else if (type == IMSG_AUTH_RESULT && c != NULL && c->session != NULL)
		dispatcher_auth_result(c->session, data, len);
	else if (type == IMSG_AUTH_RESULT && c != NULL)
		dispatcher_mailbox_auth_result(c, data, len);
}

static void dispatcher_role_closed(struct ipc_channel *ch, void *arg)
{
	struct dispatcher *d = arg;

	log_error("event=fatal reason=\"lost the channel to the %s role\"",
	          ch == d->queue ? "queue" : ch == d->lookup ? "lookup" : "store");
	exit(1);
}

/* ---- accepting ---------------------------------------------------------- */

/* Starts a session on FD for listener L; the peer's address is already in
 * C, which the session's handle names. */
static void dispatcher_session_start(struct dispatcher *d, struct dispatcher_conn *c,
                                     const struct config_listener *l, int fd, socklen_t salen,
                                     unsigned local_uid, int local)
{
	uint64_t handle = handle_table_add(&d->sessions, c);
	struct smtp_session *s;

	evutil_make_socket_nonblocking(fd);
	evutil_make_socket_closeonexec(fd);
	d->active++;
	METRICS_LISTENER_COUNT(l->metrics_index, sessions);
	if (!local) {
		/* Answers go out as written. With Nagle, a reply written after
		 * an earlier one still unacknowledged (a RCPT's after MAIL's,
		 * the greeting or EHLO's after the TLS session tickets) waited
		 * for the client's delayed ACK, 40 ms each time. Replies are
		 * already gathered per event-loop turn, so nothing is lost. */
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (l->protocol == LISTENER_IMAP || l->protocol == LISTENER_POP3) {
		dispatcher_mailbox_start(d, c, l, fd, salen, handle);
		return;
	}
	s = smtp_session_new(&d->env, l, fd, (struct sockaddr *)&c->peer, salen, handle);
	/* a session that failed at once has been closed already, C with it */
	if (s == NULL || (c = dispatcher_conn(d, handle)) == NULL)
		return;
	c->session = s;
	if (local) {
		char name[64];
		(void)local_users_name((uid_t)local_uid, name, sizeof(name));
		smtp_session_set_local(s, local_uid, name);
	}
}

/* Tells a client over the connection limits so in its own protocol (RFC
 * 5321 3.8 421, RFC 9051 7.1.5 BYE, RFC 2449 SYS/TEMP), then closes FD. On
 * an implicit TLS listener nothing can be said before the handshake, which
 * the limit exists to spare: the connection is just closed. */
static void dispatcher_refuse(const struct config_listener *l, int fd)
{
	static const char smtp[] = "421 4.7.0 Too many connections, try again later\r\n";
	static const char imap[] = "* BYE [UNAVAILABLE] Too many connections, try again later\r\n";
	static const char pop3[] = "-ERR [SYS/TEMP] Too many connections, try again later\r\n";
	const char *msg = l->protocol == LISTENER_IMAP   ? imap
	                  : l->protocol == LISTENER_POP3 ? pop3
	                                                 : smtp;

	if (l->tls != LISTENER_TLS_IMPLICIT)
		(void)!write(fd, msg, strlen(msg));
	close(fd);
}

static void dispatcher_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
                                 struct sockaddr *sa, int salen, void *arg)
{
	struct dispatcher *d = arg;
	const struct config_listener *l = NULL;
	struct dispatcher_conn *c;
	const char *which;
	unsigned i;
	int trusted = config_is_trusted_client(d->cfg, sa);

	for (i = 0; i < d->n_listeners; i++)
		if (d->listeners[i] == lev)
			l = &d->cfg->listeners[i];
	METRICS_LISTENER_COUNT(l->metrics_index, connections);
	/* trusted_networks (a relay's own clients) have no per-client limit,
	 * as Postfix exempts mynetworks, and count in the total only (in their
	 * address's bucket they would refuse the addresses sharing it); the
	 * total still holds */
	if (conn_limits_acquire(d->limits, d->limit_slot, trusted ? NULL : sa,
	                        d->cfg->limits.connections, d->cfg->limits.connections_per_client,
	                        &which) < 0) {
		dispatcher_refuse(l, fd);
		METRICS_LISTENER_COUNT(l->metrics_index, refused);
		log_info("event=connection-refused reason=limit limit=%s", which);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->counted = 1;
	c->per_client = !trusted;
	memcpy(&c->peer, sa, (size_t)salen);
	dispatcher_session_start(d, c, l, fd, (socklen_t)salen, 0, 0);
}

/* The local submission socket: SMTP from `sealmail send`, as a local user
 * the kernel names (SO_PEERCRED). */
static const struct config_listener dispatcher_local_listener = {
    .name = "local",
    .address_text = "local",
    .protocol = LISTENER_SUBMISSION,
    .tls = LISTENER_TLS_NONE,
    .auth = LISTENER_AUTH_NONE,
    .metrics_index = METRICS_LISTENER_LOCAL,
};

static void dispatcher_local_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
                                       struct sockaddr *sa, int salen, void *arg)
{
	struct dispatcher *d = arg;
	struct dispatcher_conn *c;
	struct ucred cred;
	socklen_t len = sizeof(cred);

	METRICS_LISTENER_COUNT(METRICS_LISTENER_LOCAL, connections);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		close(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->peer.ss_family = AF_UNIX;
	dispatcher_session_start(d, c, &dispatcher_local_listener, fd, sizeof(sa_family_t),
	                         (unsigned)cred.uid, 1);
}

static void dispatcher_stop_accepting(struct dispatcher *d)
{
	unsigned i;

	if (d->local != NULL)
		evconnlistener_free(d->local);
	d->local = NULL;
	for (i = 0; i < d->n_listeners; i++)
		if (d->listeners[i] != NULL)
			evconnlistener_free(d->listeners[i]);
	d->n_listeners = 0;
}

static void dispatcher_retire_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	dispatcher_maybe_exit(arg);
}

static void dispatcher_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct dispatcher *d = arg;

	if (sig == SIGUSR2 && d->retiring)
		return;
	if (sig == SIGUSR2) {
		/* Retire: the parent started a new generation. */
		d->retiring = 1;
		dispatcher_stop_accepting(d);
		/* outbound connections end on their own time: look again each second */
		event_add(event_new(d->base, -1, EV_PERSIST, dispatcher_retire_tick_cb, d),
		          &(struct timeval){1, 0});
		ipc_send(d->queue, IMSG_DISPATCHER_RETIRING, 0, NULL, 0, -1); /* no payload */
		log_info("event=retiring sessions=%u deliveries=%u", d->active, mta_busy(d->mta));
		dispatcher_maybe_exit(d);
		return;
	}
	event_base_loopexit(d->base, NULL);
}

/* The TLS server (when a listener speaks TLS) and the client contexts. */
static void dispatcher_tls_new(struct dispatcher *d, const struct config *cfg,
                               const struct tls_cert_set *certs, int needs_tls)
{
	struct tls_settings server;
	struct tls_client_settings client;
	const char *why;

	tls_settings_from_config(cfg, &server);
	if (needs_tls && (d->env.tls = tls_server_new(&server, certs, &why)) == NULL)
		fatal("event=fatal reason=\"TLS: %s\"", why);
	tls_client_settings_from_config(cfg, certs->outbound_ca_pem, &client);
	if ((d->tls_client = tls_client_new(&client, &why)) == NULL)
		fatal("event=fatal reason=\"outbound TLS: %s\"", why);
}

/* A dispatcher with its TLS contexts and SMTP client, not yet connected to
 * the other roles. The certificates' PEM (the fork's copy of the parent's)
 * is wiped once the contexts hold them. */
static struct dispatcher *dispatcher_new(const struct dispatcher_args *args)
{
	struct dispatcher *d = xcalloc(1, sizeof(*d));
	const struct config *cfg = args->cfg;
	struct mta_env menv;
	int needs_tls = 0;
	const char *why;
	unsigned i, inherited;

	d->cfg = cfg;
	d->limits = args->limits;
	d->limit_slot = args->slot;
	random_bytes(&d->rcpt_key, sizeof(d->rcpt_key));
	d->base = event_base_new();
	handle_table_init(&d->sessions);
	for (i = 0; i < cfg->n_listeners; i++)
		needs_tls |= cfg->listeners[i].tls != LISTENER_TLS_NONE;
	d->env = (struct smtp_env){
	    .base = d->base,
	    .cfg = cfg,
	    .owner = d,
	    .lookup_rcpt = dispatcher_lookup_rcpt,
	    .lookup_cached = dispatcher_lookup_cached,
	    .queue_file = dispatcher_queue_file,
	    .queue_commit = dispatcher_queue_commit,
	    .queue_abort = dispatcher_queue_abort,
	    .auth_check = dispatcher_auth_check,
	    .ending = dispatcher_session_ending,
	    .closed = dispatcher_session_closed,
	};
	dispatcher_tls_new(d, cfg, args->certs, needs_tls);
	dispatcher_mailbox_init(d);
	inherited = tls_cert_set_keys(args->certs);
	tls_cert_set_free(args->certs);
	log_info("event=role-keys private_keys=%u inherited=%u", tls_cert_set_keys(args->certs),
	         inherited);
	menv = (struct mta_env){
	    .base = d->base,
	    .cfg = cfg,
	    .owner = d,
	    .tls = d->tls_client,
	    .resolve = dispatcher_mta_resolve,
	    .task_done = dispatcher_mta_done,
	};
	d->mta = mta_new(&menv, &why);
	if (d->mta == NULL)
		fatal("event=fatal reason=\"outbound TLS: %s\"", why);
	return d;
}

/* Accepts on the parent's listening sockets and the local one. */
static void dispatcher_listen(struct dispatcher *d, const struct dispatcher_args *args)
{
	unsigned i;

	for (i = 0; i < d->cfg->n_listeners; i++) {
		d->listeners[i] =
		    evconnlistener_new(d->base, dispatcher_accept_cb, d, LEV_OPT_CLOSE_ON_FREE, -1,
		                       args->listen_fds[i]);
		if (d->listeners[i] == NULL)
			fatal("event=fatal reason=\"cannot listen on %s\"",
			      d->cfg->listeners[i].address_text);
	}
	d->n_listeners = d->cfg->n_listeners;
	if (args->local_fd >= 0)
		d->local = evconnlistener_new(d->base, dispatcher_local_accept_cb, d,
		                              LEV_OPT_CLOSE_ON_FREE, -1, args->local_fd);
}

int dispatcher_main(const struct dispatcher_args *args)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGUSR2};
	struct dispatcher *d = dispatcher_new(args);
	unsigned i;

	d->queue = ipc_channel_new(d->base, args->queue_fd, dispatcher_queue_handler,
	                           dispatcher_role_closed, d);
	d->lookup = ipc_channel_new(d->base, args->lookup_fd, dispatcher_lookup_handler,
	                            dispatcher_role_closed, d);
	d->store = ipc_channel_new(d->base, args->store_fd, dispatcher_store_handler,
	                           dispatcher_role_closed, d);
	dispatcher_pool_refill(d);
	dispatcher_listen(d, args);
	for (i = 0; i < 3; i++)
		event_add(evsignal_new(d->base, sigs[i], dispatcher_signal_cb, d), NULL);
	signal(SIGPIPE, SIG_IGN);
	readiness_report(); /* the parent waits for it before READY=1 */
	event_base_dispatch(d->base);
	/* deliveries in progress are reported as deferred (ipc_send writes at
	 * once when the socket takes it) */
	mta_free(&d->mta);
	tls_client_free(&d->tls_client);
	return 0;
}
