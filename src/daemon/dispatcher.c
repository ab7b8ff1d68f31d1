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
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/tls.h"
#include "lib/util.h"
#include "queue/envelope.h"
#include "smtp/mta.h"
#include "smtp/smtp_session.h"

struct dispatcher_slot {
	struct smtp_session *session;
	uint32_t generation;
	struct sockaddr_storage peer;
};

struct dispatcher {
	const struct config *cfg;
	struct event_base *base;
	struct smtp_env env;
	struct ipc_channel *queue, *lookup;
	struct evconnlistener *listeners[CONFIG_MAX_LISTENERS];
	unsigned n_listeners;
	struct conn_limits *limits;
	unsigned limit_slot;

	struct dispatcher_slot *slots;
	unsigned n_slots, cap_slots;
	unsigned *free_slots;
	unsigned n_free;
	unsigned active;
	int retiring;
	struct mta *mta;
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

static void dispatcher_lookup_rcpt(void *owner, uint64_t handle, const char *address)
{
	struct dispatcher *d = owner;
	struct ipc_writer w;

	ipc_writer_init(&w);
	ipc_put_str(&w, address);
	ipc_send(d->lookup, IMSG_LOOKUP_RCPT, handle, w.buf, w.len, -1);
	ipc_writer_free(&w);
}

static void dispatcher_queue_open(void *owner, uint64_t handle, const struct envelope *env)
{
	struct dispatcher *d = owner;
	struct ipc_writer w;

	ipc_writer_init(&w);
	envelope_encode(env, &w);
	ipc_send(d->queue, IMSG_QUEUE_OPEN, handle, w.buf, w.len, -1);
	ipc_writer_free(&w);
}

static void dispatcher_queue_commit(void *owner, uint64_t handle, const char *queue_id,
                                    uint64_t size)
{
	struct dispatcher *d = owner;
	struct ipc_writer w;

	ipc_writer_init(&w);
	ipc_put_str(&w, queue_id);
	ipc_put_u64(&w, size);
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
	s = dispatcher_session(d, id);
	ok = dispatcher_read_result(data, len, text, sizeof(text));

	if (s == NULL) {
		if (fd >= 0)
			close(fd);
		/* The session left while its file was being opened. */
		if (type == IMSG_QUEUE_OPEN_RESULT && ok)
			dispatcher_queue_abort(d, id, text);
		return;
	}
	if (type == IMSG_QUEUE_OPEN_RESULT)
		smtp_session_open_done(s, ok, text, fd);
	else if (type == IMSG_QUEUE_COMMIT_RESULT)
		smtp_session_commit_done(s, ok, text);
	else if (fd >= 0)
		close(fd);
}

static void dispatcher_lookup_handler(struct ipc_channel *ch, uint32_t type, uint64_t id,
                                      const void *data, size_t len, int fd, void *arg)
{
	struct dispatcher *d = arg;
	struct smtp_session *s = dispatcher_session(d, id);
	uint32_t result = LOOKUP_TEMPFAIL;

	if (fd >= 0)
		close(fd);
	if (type == IMSG_LOOKUP_HOSTS_RESULT) {
		mta_resolved(d->mta, id, data, len);
		dispatcher_maybe_exit(d);
		return;
	}
	if (type != IMSG_LOOKUP_RCPT_RESULT || s == NULL)
		return;
	if (len == sizeof(result))
		memcpy(&result, data, sizeof(result));
	smtp_session_lookup_done(s, result);
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

static void dispatcher_stop_accepting(struct dispatcher *d)
{
	unsigned i;

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
	    .queue_open = dispatcher_queue_open,
	    .queue_commit = dispatcher_queue_commit,
	    .queue_abort = dispatcher_queue_abort,
	    .closed = dispatcher_session_closed,
	};
	if (needs_tls && (d->env.tls = tls_server_new(cfg, args->certs, &why)) == NULL)
		fatal("event=fatal reason=\"TLS: %s\"", why);
	{
		struct mta_env menv = {
			.base = d->base,
			.cfg = cfg,
			.owner = d,
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
	for (i = 0; i < cfg->n_listeners; i++) {
		d->listeners[i] =
		    evconnlistener_new(d->base, dispatcher_accept_cb, d, LEV_OPT_CLOSE_ON_FREE, -1,
		                       args->listen_fds[i]);
		if (d->listeners[i] == NULL)
			fatal("event=fatal reason=\"cannot listen on %s\"",
			      cfg->listeners[i].address_text);
	}
	d->n_listeners = cfg->n_listeners;
	{
		static const int sigs[] = {SIGTERM, SIGINT, SIGUSR2};
		for (i = 0; i < 3; i++)
			event_add(evsignal_new(d->base, sigs[i], dispatcher_signal_cb, d), NULL);
	}
	signal(SIGPIPE, SIG_IGN);
	event_base_dispatch(d->base);
	return 0;
}
