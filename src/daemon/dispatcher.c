/*
 * dispatcher.c: see dispatcher.h.
 *
 * Sessions are found again from a reply's request id through a slot table:
 * the id holds the slot and a generation number, so a reply for a session
 * that is gone finds nothing.
 */
#include "daemon/dispatcher.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/config.h"
#include "daemon/limits.h"
#include "daemon/proto.h"
#include "daemon/tls_settings.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/tls.h"
#include "lib/tls_client.h"
#include "lib/util.h"
#include "mail/envelope.h"
#include "smtp/mta.h"
#include "smtp/smtp_session.h"

#define DISPATCHER_POOL 32     /* spool files kept ready */
#define DISPATCHER_POOL_LOW 12 /* ask for more below this */

struct dispatcher_slot {
	struct smtp_session *session;
	uint32_t generation;
	struct sockaddr_storage peer;
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
	const struct config *cfg;
	struct event_base *base;
	struct smtp_env env;
	struct tls_client *tls_client; /* outbound STARTTLS */
	struct ipc_channel *queue, *lookup;
	struct evconnlistener *listeners[CONFIG_MAX_LISTENERS];
	unsigned n_listeners;
	struct evconnlistener *local;
	struct conn_limits *limits;
	unsigned limit_slot;

	struct dispatcher_slot *slots;
	unsigned n_slots, cap_slots;
	unsigned *free_slots;
	unsigned n_free;
	unsigned active;
	int retiring;
	struct mta *mta;
	struct dispatcher_rcpt rcpt_cache[DISPATCHER_RCPT_CACHE];

	/* spool files made in advance by the queue */
	struct {
		char id[32];
		int fd;
	} pool[DISPATCHER_POOL];
	unsigned n_pool, pool_requested;
	uint64_t *pool_waiting; /* sessions whose DATA waits for a file */
	unsigned n_waiting, cap_waiting;
};

static uint64_t dispatcher_handle(unsigned slot, uint32_t generation)
{
	return ((uint64_t)generation << 32) | slot;
}

static struct smtp_session *dispatcher_session(struct dispatcher *d, uint64_t handle)
{
	unsigned slot = (unsigned)(handle & 0xffffffffu);

	if (slot >= d->n_slots || d->slots[slot].generation != (uint32_t)(handle >> 32))
		return NULL;
	return d->slots[slot].session;
}

static unsigned dispatcher_slot_take(struct dispatcher *d)
{
	if (d->n_free > 0)
		return d->free_slots[--d->n_free];
	if (d->n_slots == d->cap_slots) {
		d->cap_slots = d->cap_slots ? d->cap_slots * 2 : 64;
		d->slots = xrealloc(d->slots, d->cap_slots * sizeof(d->slots[0]));
		d->free_slots = xrealloc(d->free_slots, d->cap_slots * sizeof(unsigned));
	}
	memset(&d->slots[d->n_slots], 0, sizeof(d->slots[0]));
	return d->n_slots++;
}

/* ---- callbacks from sessions ---------------------------------------- */

static unsigned dispatcher_rcpt_bucket(const char *address)
{
	unsigned h = 2166136261u;

	for (; *address; address++)
		h = (h ^ (unsigned char)*address) * 16777619u;
	return h % DISPATCHER_RCPT_CACHE;
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
	struct dispatcher_rcpt *r = &d->rcpt_cache[dispatcher_rcpt_bucket(address)];

	if (r->address == NULL || strcmp(r->address, address) != 0)
		return 0;
	*targets_r = (const char *const *)r->targets;
	*n_r = r->n;
	return 1;
}

static void dispatcher_rcpt_remember(struct dispatcher *d, const char *address, char **targets,
                                     unsigned n)
{
	struct dispatcher_rcpt *r = &d->rcpt_cache[dispatcher_rcpt_bucket(address)];
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
	unsigned slot = (unsigned)(handle & 0xffffffffu);
	struct ipc_writer w;

	strlcpy_checked(d->slots[slot].lookup, address, sizeof(d->slots[slot].lookup));
	ipc_writer_init(&w);
	ipc_put_str(&w, address);
	ipc_send(d->lookup, IMSG_LOOKUP_RCPT, handle, w.buf, w.len, -1);
	ipc_writer_free(&w);
}

static int dispatcher_read_result(const void *data, size_t len, char *text, size_t size);
static void dispatcher_queue_abort(void *owner, uint64_t handle, const char *queue_id);

/* Asks the queue for spool files when few are left. */
static void dispatcher_pool_refill(struct dispatcher *d)
{
	uint32_t want;

	if (d->n_pool + d->pool_requested >= DISPATCHER_POOL_LOW + d->n_waiting)
		return;
	want = DISPATCHER_POOL - d->n_pool - d->pool_requested;
	d->pool_requested += want;
	ipc_send(d->queue, IMSG_QUEUE_POOL, 0, &want, sizeof(want), -1);
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
	strlcpy_checked(id_r, d->pool[d->n_pool].id, 32);
	*fd_r = d->pool[d->n_pool].fd;
	dispatcher_pool_refill(d);
	return 1;
}

/* IMSG_QUEUE_POOL_FILE: to a waiting session first, else into the pool. */
static void dispatcher_pool_file(struct dispatcher *d, const void *data, size_t len, int fd)
{
	char id[32];
	int ok = dispatcher_read_result(data, len, id, sizeof(id));

	if (d->pool_requested > 0)
		d->pool_requested--;
	if (!ok || fd < 0) {
		if (fd >= 0)
			close(fd);
		log_error("event=queue-error reason=\"no spool file: %s\"", id);
	}
	while (d->n_waiting > 0) {
		uint64_t handle = d->pool_waiting[0];
		struct smtp_session *s = dispatcher_session(d, handle);
		memmove(d->pool_waiting, d->pool_waiting + 1, --d->n_waiting * sizeof(uint64_t));
		if (s == NULL)
			continue;
		smtp_session_open_done(
		    s, ok == QUEUE_RESULT_OK && fd < 0 ? QUEUE_RESULT_FAILED : ok, id, fd);
		return;
	}
	if (!ok || fd < 0)
		return;
	if (d->n_pool == DISPATCHER_POOL) {
		dispatcher_queue_abort(d, 0, id);
		close(fd);
		return;
	}
	strlcpy_checked(d->pool[d->n_pool].id, id, sizeof(d->pool[0].id));
	d->pool[d->n_pool++].fd = fd;
}

static void dispatcher_auth_check(void *owner, uint64_t handle, const char *user,
                                  const char *password)
{
	struct dispatcher *d = owner;
	struct ipc_writer w;

	ipc_writer_init(&w);
	ipc_put_str(&w, user);
	ipc_put_u32(&w, password != NULL);
	ipc_put_str(&w, password ? password : "");
	ipc_send(d->lookup, IMSG_AUTH_CHECK, handle, w.buf, w.len, -1);
	explicit_bzero(w.buf, w.len);
	ipc_writer_free(&w);
}

static void dispatcher_queue_commit(void *owner, uint64_t handle, const char *queue_id,
                                    uint64_t size, uint32_t crc, const struct envelope *env)
{
	struct dispatcher *d = owner;
	struct ipc_writer w;

	ipc_writer_init(&w);
	ipc_put_str(&w, queue_id);
	ipc_put_u64(&w, size);
	ipc_put_u32(&w, crc);
	envelope_encode(env, &w);
	ipc_send(d->queue, IMSG_QUEUE_COMMIT, handle, w.buf, w.len, -1);
	ipc_writer_free(&w);
}

static void dispatcher_queue_abort(void *owner, uint64_t handle, const char *queue_id)
{
	struct dispatcher *d = owner;
	struct ipc_writer w;

	ipc_writer_init(&w);
	ipc_put_str(&w, queue_id);
	ipc_send(d->queue, IMSG_QUEUE_ABORT, handle, w.buf, w.len, -1);
	ipc_writer_free(&w);
}

/* A retiring dispatcher leaves once no session and no delivery is left. */
static void dispatcher_maybe_exit(struct dispatcher *d)
{
	if (d->retiring && d->active == 0 && mta_busy(d->mta) == 0)
		event_base_loopexit(d->base, NULL);
}

static void dispatcher_session_closed(void *owner, uint64_t handle)
{
	struct dispatcher *d = owner;
	unsigned slot = (unsigned)(handle & 0xffffffffu);

	conn_limits_release(d->limits, d->limit_slot, (struct sockaddr *)&d->slots[slot].peer);
	d->slots[slot].session = NULL;
	d->slots[slot].generation++;
	d->free_slots[d->n_free++] = slot;
	d->active--;
	dispatcher_maybe_exit(d);
}

/* ---- callbacks from the SMTP client ------------------------------------ */

static void dispatcher_mta_resolve(void *owner, uint64_t handle, const char *name, int mx_lookup)
{
	struct dispatcher *d = owner;
	struct ipc_writer w;

	ipc_writer_init(&w);
	ipc_put_str(&w, name);
	ipc_put_u32(&w, (uint32_t)mx_lookup);
	ipc_send(d->lookup, IMSG_LOOKUP_HOSTS, handle, w.buf, w.len, -1);
	ipc_writer_free(&w);
}

static void dispatcher_mta_done(void *owner, struct mta_task *task)
{
	struct dispatcher *d = owner;
	struct ipc_writer w;

	ipc_writer_init(&w);
	mta_result_encode(task, &w);
	ipc_send(d->queue, IMSG_MTA_RESULT, task->id, w.buf, w.len, -1);
	ipc_writer_free(&w);
	mta_task_free(task);
}

/* ---- replies from other roles ---------------------------------------- */

/* Reads the common "u32 ok, str text" reply. */
static int dispatcher_read_result(const void *data, size_t len, char *text, size_t size)
{
	struct ipc_reader r;
	uint32_t ok;

	ipc_reader_init(&r, data, len);
	ok = ipc_get_u32(&r);
	ipc_get_str(&r, text, size);
	return ipc_reader_done(&r) == 0 ? (int)ok : 0;
}

static void dispatcher_queue_handler(struct ipc_channel *ch, uint32_t type, uint64_t id,
                                     const void *data, size_t len, int fd, void *arg)
{
	struct dispatcher *d = arg;
	struct smtp_session *s;
	char text[256];
	int ok;

	if (type == IMSG_MTA_DELIVER) {
		struct mta_task *t = mta_task_decode(id, data, len, fd);
		if (t == NULL) {
			log_error("event=ipc-error reason=\"malformed delivery task\"");
			if (fd >= 0)
				close(fd);
			return;
		}
		mta_submit(d->mta, t);
		return;
	}
	if (type == IMSG_QUEUE_POOL_FILE) {
		dispatcher_pool_file(d, data, len, fd);
		return;
	}
	s = dispatcher_session(d, id);
	ok = dispatcher_read_result(data, len, text, sizeof(text));

	if (s == NULL) {
		if (fd >= 0)
			close(fd);
		/* The session left while its file was being opened. */
		return;
	}
	if (type == IMSG_QUEUE_COMMIT_RESULT)
		smtp_session_commit_done(s, ok, text);
	else if (fd >= 0)
		close(fd);
}

/* Reads "u32 n, n x str" into a NULL-terminated array of strings. */
static char **dispatcher_read_strings(struct ipc_reader *r, unsigned *n_r)
{
	uint32_t n = ipc_get_u32(r), i;
	char **list;

	if (r->error || n > ENVELOPE_MAX_RCPTS) {
		*n_r = 0;
		return NULL;
	}
	list = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		list[i] = xmalloc(ENVELOPE_ADDR_MAX);
		ipc_get_str(r, list[i], ENVELOPE_ADDR_MAX);
	}
	*n_r = n;
	return list;
}

static void dispatcher_free_strings(char **list, unsigned n)
{
	unsigned i;

	for (i = 0; list != NULL && i < n; i++)
		free(list[i]);
	free(list);
}

static void dispatcher_auth_result(struct smtp_session *s, const void *data, size_t len)
{
	char user[ENVELOPE_ADDR_MAX];
	struct ipc_reader r;
	uint32_t ok, by_certificate;
	char **owned;
	unsigned n;

	ipc_reader_init(&r, data, len);
	ok = ipc_get_u32(&r);
	by_certificate = ipc_get_u32(&r);
	ipc_get_str(&r, user, sizeof(user));
	owned = dispatcher_read_strings(&r, &n);
	if (ipc_reader_done(&r) < 0)
		ok = 0;
	smtp_session_auth_done(s, (int)ok, (int)by_certificate, user, (const char *const *)owned,
	                       n);
	dispatcher_free_strings(owned, n);
}

static void dispatcher_rcpt_result(struct dispatcher *d, uint64_t id, struct smtp_session *s,
                                   const void *data, size_t len)
{
	struct ipc_reader r;
	uint32_t result;
	char **targets;
	unsigned n;

	ipc_reader_init(&r, data, len);
	result = ipc_get_u32(&r);
	targets = dispatcher_read_strings(&r, &n);
	if (ipc_reader_done(&r) < 0)
		result = LOOKUP_TEMPFAIL;
	/* a user, not an alias: alias expansions are logged by the lookup role
	 * each time, so they are always asked */
	if (result == LOOKUP_OK && n == 1 &&
	    strcmp(targets[0], d->slots[id & 0xffffffffu].lookup) == 0)
		dispatcher_rcpt_remember(d, targets[0], targets, n);
	smtp_session_lookup_done(s, result, (const char *const *)targets, n);
	dispatcher_free_strings(targets, n);
}

static void dispatcher_lookup_handler(struct ipc_channel *ch, uint32_t type, uint64_t id,
                                      const void *data, size_t len, int fd, void *arg)
{
	struct dispatcher *d = arg;
	struct smtp_session *s = dispatcher_session(d, id);

	if (fd >= 0)
		close(fd);
	if (type == IMSG_LOOKUP_HOSTS_RESULT) {
		mta_resolved(d->mta, id, data, len);
		dispatcher_maybe_exit(d);
		return;
	}
	if (type == IMSG_LOOKUP_FORGET) {
		unsigned i;
		for (i = 0; i < DISPATCHER_RCPT_CACHE; i++)
			dispatcher_rcpt_clear(&d->rcpt_cache[i]);
		return;
	}
	if (s == NULL)
		return;
	if (type == IMSG_LOOKUP_RCPT_RESULT)
		dispatcher_rcpt_result(d, id, s, data, len);
	else if (type == IMSG_AUTH_RESULT)
		dispatcher_auth_result(s, data, len);
}

static void dispatcher_role_closed(struct ipc_channel *ch, void *arg)
{
	struct dispatcher *d = arg;

	log_error("event=fatal reason=\"lost the channel to the %s role\"",
	          ch == d->queue ? "queue" : "lookup");
	exit(1);
}

/* ---- accepting ---------------------------------------------------------- */

static void dispatcher_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
                                 struct sockaddr *sa, int salen, void *arg)
{
	struct dispatcher *d = arg;
	const struct config_listener *l = NULL;
	const char *which;
	unsigned slot, i;

	for (i = 0; i < d->n_listeners; i++)
		if (d->listeners[i] == lev)
			l = &d->cfg->listeners[i];
	if (conn_limits_acquire(d->limits, d->limit_slot, sa, d->cfg->limits.connections,
	                        d->cfg->limits.connections_per_client, &which) < 0) {
		static const char msg[] = "421 4.7.0 Too many connections, try again later\r\n";
		(void)!write(fd, msg, sizeof(msg) - 1);
		close(fd);
		log_info("event=connection-refused reason=limit limit=%s", which);
		return;
	}
	evutil_make_socket_nonblocking(fd);
	evutil_make_socket_closeonexec(fd);
	slot = dispatcher_slot_take(d);
	memset(&d->slots[slot].peer, 0, sizeof(d->slots[slot].peer));
	memcpy(&d->slots[slot].peer, sa, (size_t)salen);
	d->active++;
	d->slots[slot].session =
	    smtp_session_new(&d->env, l, fd, sa, (socklen_t)salen,
	                     dispatcher_handle(slot, d->slots[slot].generation));
}

/* The local submission socket: SMTP from `sealmail send`, as a local user
 * the kernel names (SO_PEERCRED). */
static const struct config_listener dispatcher_local_listener = {
    .name = "local",
    .address_text = "local",
    .protocol = LISTENER_SUBMISSION,
    .tls = LISTENER_TLS_NONE,
    .auth = LISTENER_AUTH_NONE,
};

static void dispatcher_local_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
                                       struct sockaddr *sa, int salen, void *arg)
{
	struct dispatcher *d = arg;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	unsigned slot;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		close(fd);
		return;
	}
	evutil_make_socket_nonblocking(fd);
	evutil_make_socket_closeonexec(fd);
	slot = dispatcher_slot_take(d);
	memset(&d->slots[slot].peer, 0, sizeof(d->slots[slot].peer));
	d->slots[slot].peer.ss_family = AF_UNIX;
	d->active++;
	d->slots[slot].session = smtp_session_new(
	    &d->env, &dispatcher_local_listener, fd, (struct sockaddr *)&d->slots[slot].peer,
	    sizeof(sa_family_t), dispatcher_handle(slot, d->slots[slot].generation));
	if (d->slots[slot].session != NULL)
		smtp_session_set_local(d->slots[slot].session, (unsigned)cred.uid);
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
		ipc_send(d->queue, IMSG_DISPATCHER_RETIRING, 0, NULL, 0, -1);
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

int dispatcher_main(const struct dispatcher_args *args)
{
	struct dispatcher *d = xcalloc(1, sizeof(*d));
	const struct config *cfg = args->cfg;
	int needs_tls = 0;
	const char *why;
	unsigned i;

	d->cfg = cfg;
	d->limits = args->limits;
	d->limit_slot = args->slot;
	d->base = event_base_new();
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
	    .closed = dispatcher_session_closed,
	};
	dispatcher_tls_new(d, cfg, args->certs, needs_tls);
	{
		struct mta_env menv = {
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
	}
	d->queue = ipc_channel_new(d->base, args->queue_fd, dispatcher_queue_handler,
	                           dispatcher_role_closed, d);
	d->lookup = ipc_channel_new(d->base, args->lookup_fd, dispatcher_lookup_handler,
	                            dispatcher_role_closed, d);
	dispatcher_pool_refill(d);
	for (i = 0; i < cfg->n_listeners; i++) {
		d->listeners[i] =
		    evconnlistener_new(d->base, dispatcher_accept_cb, d, LEV_OPT_CLOSE_ON_FREE, -1,
		                       args->listen_fds[i]);
		if (d->listeners[i] == NULL)
			fatal("event=fatal reason=\"cannot listen on %s\"",
			      cfg->listeners[i].address_text);
	}
	d->n_listeners = cfg->n_listeners;
	if (args->local_fd >= 0)
		d->local = evconnlistener_new(d->base, dispatcher_local_accept_cb, d,
		                              LEV_OPT_CLOSE_ON_FREE, -1, args->local_fd);
	{
		static const int sigs[] = {SIGTERM, SIGINT, SIGUSR2};
		for (i = 0; i < 3; i++)
			event_add(evsignal_new(d->base, sigs[i], dispatcher_signal_cb, d), NULL);
	}
	signal(SIGPIPE, SIG_IGN);
	event_base_dispatch(d->base);
	/* deliveries in progress are reported as deferred (ipc_send writes at
	 * once when the socket takes it) */
	mta_free(&d->mta);
	tls_client_free(&d->tls_client);
	return 0;
}
