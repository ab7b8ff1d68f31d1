/*
 * fuzz_ipc_dispatcher.c: libFuzzer harness for what the dispatcher
 * (daemon/dispatcher.c) takes from the other roles: from the queue,
 * IMSG_QUEUE_POOL_FILE (dispatcher_pool_file), IMSG_QUEUE_COMMIT_RESULT
 * (dispatcher_commit_result), IMSG_MTA_DELIVER (dispatcher_deliver, then the
 * SMTP client); from the lookup role, IMSG_LOOKUP_RCPT_RESULT
 * (dispatcher_rcpt_result), IMSG_AUTH_RESULT (dispatcher_auth_result),
 * IMSG_LOOKUP_FORGET and IMSG_LOOKUP_HOSTS_RESULT (dispatcher_hosts_result,
 * then mta_resolved in smtp/mta.c); and any other type, to either handler. The parent sends the
 * dispatcher no message (its configuration comes with the fork).
 *
 * dispatcher.c is included whole and its state built as dispatcher_main
 * does, without listening sockets or signals; the queue and lookup roles
 * are channels on socket pairs whose far ends the harness reads (to learn
 * the request ids the dispatcher used). SMTP sessions are real ones on
 * socket pairs, made through dispatcher_accept_cb, so replies find
 * sessions that wait for them. connect() is a fake that refuses at once,
 * so the SMTP client walks the host lists it is given without the network.
 *
 * Input: records as fuzz_ipc_input.h describes. Targets: 0 the queue's
 * handler, 1 the lookup role's handler, 2 client bytes (the payload) to
 * session ID mod n, 3 a new session (ID bit 0: the AUTH listener, bit 1:
 * counts as after STARTTLS) that sends the payload. References (ID mode
 * 1, 2) are the handles of live sessions followed by the request ids the
 * dispatcher sent, newest first. An fd is a memory file holding a small
 * message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/bufferevent.h>
#include <fcntl.h>
#include <sys/mman.h>

#include "../../src/daemon/dispatcher.c"
/* whole, for struct io: the harness ends sessions as a failed connection would */
#include "../../src/lib/io.c"
#include "fuzz_ipc_input.h"
#include "smtp/smtp_session_private.h"

#define MAX_CLIENTS 16
#define MAX_SEEN 64

static const char config_text[] = "[server]\n"
                                  "hostname = mx.local.test\n"
                                  "local_domains = local.test\n"
                                  "trusted_networks = 10.0.0.0/8\n"
                                  "[limits]\n"
                                  "message_size = 4k\n"
                                  "[listen mx]\n"
                                  "address = 127.0.0.1:2525\n"
                                  "tls = none\n"
                                  "[listen sub]\n"
                                  "address = 127.0.0.1:2587\n"
                                  "tls = none\n";

static struct config cfg;
static struct conn_limits *limits;
static struct tls_cert_set no_certs;

/* The harness's ends: what the dispatcher sent to the other roles. */
struct harness {
	struct dispatcher *d;
	struct ipc_channel *queue_end, *lookup_end;
	int clients[MAX_CLIENTS];
	unsigned n_clients;
	uint64_t seen[MAX_SEEN]; /* request ids, newest at seen[n_seen - 1] */
	unsigned n_seen;
};

/* Refuses every outbound connection at once. */
int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	errno = ECONNREFUSED;
	return -1;
}

static void far_end_handler(struct ipc_channel *ch, uint32_t type, uint64_t id, const void *data,
                            size_t len, int fd, void *arg)
{
	struct harness *h = arg;

	if (fd >= 0)
		close(fd);
	if (id == 0)
		return;
	if (h->n_seen == MAX_SEEN) {
		memmove(h->seen, h->seen + 1, (MAX_SEEN - 1) * sizeof(h->seen[0]));
		h->n_seen--;
	}
	h->seen[h->n_seen++] = id;
}

static void far_end_closed(struct ipc_channel *ch, void *arg)
{
	abort(); /* the dispatcher never hangs up on its roles */
}

/* A spool file as the queue would hand one over: a small message. */
static int spool_fd(void)
{
	static const char msg[] = "Subject: fuzz\r\n\r\nbody\r\n";
	int fd = memfd_create("spool", MFD_CLOEXEC);

	CHECK(fd >= 0 && write(fd, msg, sizeof(msg) - 1) == sizeof(msg) - 1);
	return fd;
}

static unsigned live_sessions(const struct dispatcher *d, uint64_t *out, unsigned max)
{
	struct dispatcher_conn *c;
	unsigned pos = 0, n = 0;
	uint64_t handle;

	while (n < max && (c = handle_table_next(&d->sessions, &pos, &handle)) != NULL)
		if (c->session != NULL)
			out[n++] = handle;
	return n;
}

/* The (K mod n)-th reference: a live session, else a request id. */
static int reference(const struct harness *h, uint64_t k, uint64_t *id_r)
{
	uint64_t refs[MAX_CLIENTS + MAX_SEEN];
	unsigned n = live_sessions(h->d, refs, MAX_CLIENTS);

	for (unsigned i = 0; i < h->n_seen; i++)
		refs[n++] = h->seen[h->n_seen - 1 - i];
	if (n == 0)
		return 0;
	*id_r = refs[k % n];
	return 1;
}

static void run_loop(struct harness *h, unsigned turns)
{
	for (unsigned i = 0; i < turns + 1; i++)
		event_base_loop(h->d->base, EVLOOP_NONBLOCK);
}

static void drain_clients(struct harness *h)
{
	char buf[4096];

	for (unsigned i = 0; i < h->n_clients; i++)
		while (read(h->clients[i], buf, sizeof(buf)) > 0)
			;
}

/* A client connects (as dispatcher_accept_cb sees it) and sends DATA. */
static void new_session(struct harness *h, uint64_t how, const uint8_t *data, size_t len)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(40000)};
	struct dispatcher *d = h->d;
	int sv[2];

	if (h->n_clients == MAX_CLIENTS)
		return;
	inet_pton(AF_INET, (how & 4) ? "10.1.2.3" : "192.0.2.1", &sin.sin_addr);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	dispatcher_accept_cb(d->listeners[how & 1], sv[0], (struct sockaddr *)&sin, sizeof(sin), d);
	h->clients[h->n_clients++] = sv[1];
	{
		struct dispatcher_conn *c;
		unsigned pos = 0;
		uint64_t handle;

		while ((c = handle_table_next(&d->sessions, &pos, &handle)) != NULL) {
			struct smtp_session *s = c->session;
			if (s != NULL && s->io != NULL && s->io->fd == sv[0] && (how & 2))
				s->tls_active = 1; /* as if after STARTTLS: AUTH is offered */
		}
	}
	if (len > 0)
		(void)!write(sv[1], data, len);
}

static struct dispatcher *dispatcher_build(struct harness *h)
{
	struct dispatcher *d = xcalloc(1, sizeof(*d));
	struct mta_env menv;
	const char *why;
	int q[2], l[2];

	d->cfg = &cfg;
	d->limits = limits;
	d->base = event_base_new();
	d->env = (struct smtp_env){
	    .base = d->base,
	    .cfg = &cfg,
	    .owner = d,
	    .lookup_rcpt = dispatcher_lookup_rcpt,
	    .lookup_cached = dispatcher_lookup_cached,
	    .queue_file = dispatcher_queue_file,
	    .queue_commit = dispatcher_queue_commit,
	    .queue_abort = dispatcher_queue_abort,
	    .auth_check = dispatcher_auth_check,
	    .closed = dispatcher_session_closed,
	};
	dispatcher_tls_new(d, &cfg, &no_certs, 0);
	menv = (struct mta_env){
	    .base = d->base,
	    .cfg = &cfg,
	    .owner = d,
	    .tls = d->tls_client,
	    .resolve = dispatcher_mta_resolve,
	    .task_done = dispatcher_mta_done,
	};
	d->mta = mta_new(&menv, &why);
	CHECK(d->mta != NULL);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, q) == 0 &&
	      socketpair(AF_UNIX, SOCK_STREAM, 0, l) == 0);
	d->queue =
	    ipc_channel_new(d->base, q[0], dispatcher_queue_handler, dispatcher_role_closed, d);
	d->lookup =
	    ipc_channel_new(d->base, l[0], dispatcher_lookup_handler, dispatcher_role_closed, d);
	h->queue_end = ipc_channel_new(d->base, q[1], far_end_handler, far_end_closed, h);
	h->lookup_end = ipc_channel_new(d->base, l[1], far_end_handler, far_end_closed, h);
	/* dispatcher_accept_cb finds the listener by its evconnlistener:
	 * stand-ins that are never used as such */
	for (unsigned i = 0; i < cfg.n_listeners; i++)
		d->listeners[i] = (struct evconnlistener *)&cfg.listeners[i];
	d->n_listeners = cfg.n_listeners;
	dispatcher_pool_refill(d);
	return d;
}

/* Ends every session and delivery and frees what dispatcher_build made. */
static void dispatcher_teardown(struct harness *h)
{
	struct dispatcher *d = h->d;
	unsigned i;

	{
		struct dispatcher_conn *c;
		unsigned pos = 0;
		uint64_t handle;

		while ((c = handle_table_next(&d->sessions, &pos, &handle)) != NULL)
			if (c->session != NULL) {
				struct io *io = c->session->io;
				io->cb(io, IO_ERROR, io->arg);
			}
	}
	CHECK(d->active == 0);
	mta_free(&d->mta);
	tls_client_free(&d->tls_client);
	run_loop(h, 2);
	d->n_listeners = 0;
	for (i = 0; i < DISPATCHER_RCPT_CACHE; i++)
		dispatcher_rcpt_clear(&d->rcpt_cache[i]);
	for (i = 0; i < d->n_pool; i++)
		close(d->pool[i].fd);
	ipc_channel_free(&d->queue);
	ipc_channel_free(&d->lookup);
	ipc_channel_free(&h->queue_end);
	ipc_channel_free(&h->lookup_end);
	for (i = 0; i < h->n_clients; i++)
		close(h->clients[i]);
	free(d->pool_waiting);
	handle_table_free(&d->sessions);
	event_base_free(d->base);
	free(d);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *errors = NULL;

	if (getenv("FUZZ_LOGS") == NULL) /* FUZZ_LOGS=1 shows what the seeds reach */
		fuzz_quiet_logs();
	signal(SIGPIPE, SIG_IGN);
	if (config_load_string(&cfg, "fuzz.conf", config_text, &errors) < 0) {
		(void)!write(2, errors, strlen(errors));
		abort();
	}
	cfg.listeners[1].auth = LISTENER_AUTH_OPTIONAL;
	limits = conn_limits_new();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	struct harness h = {0};
	struct fuzz_record rec;
	struct ipc_writer w;

	h.d = dispatcher_build(&h);
	run_loop(&h, 1);
	while (fuzz_next_record(&in, &rec)) {
		unsigned target = FUZZ_OP_TARGET(rec.op), mode = FUZZ_OP_IDMODE(rec.op);
		uint64_t id = rec.id;
		int fd = -1;

		if ((mode == FUZZ_ID_REF || mode == FUZZ_ID_REF_NAMED) && !reference(&h, id, &id))
			continue;
		if (target == 2) {
			if (h.n_clients > 0)
				(void)!write(h.clients[id % h.n_clients], rec.payload, rec.len);
		} else if (target == 3) {
			new_session(&h, id, rec.payload, rec.len);
		} else {
			ipc_writer_init(&w);
			if (mode == FUZZ_ID_REF_NAMED) {
				/* the queue id of a spool file this dispatcher holds */
				ipc_put_str(&w, h.d->n_pool ? h.d->pool[0].id : "");
			}
			if (rec.len > 0)
				ipc_put_bytes(&w, rec.payload, rec.len);
			if (FUZZ_OP_FD(rec.op))
				fd = spool_fd();
			if (target == 0)
				dispatcher_queue_handler(h.d->queue, rec.type, id, w.buf, w.len, fd,
				                         h.d);
			else
				dispatcher_lookup_handler(h.d->lookup, rec.type, id, w.buf, w.len,
				                          fd, h.d);
			ipc_writer_free(&w);
		}
		run_loop(&h, FUZZ_OP_TURNS(rec.op));
		drain_clients(&h);
	}
	dispatcher_teardown(&h);
	return 0;
}
