/*
 * fuzz_ipc_queue.c: libFuzzer harness for what the queue role (src/queue/:
 * queue.c and the files it calls) takes from others: from a dispatcher,
 * IMSG_QUEUE_POOL (queue_handle_pool), IMSG_QUEUE_COMMIT
 * (queue_handle_commit, proto_queue_commit_decode), IMSG_QUEUE_ABORT, IMSG_MTA_RESULT
 * (queue_task_result, proto_task_result_decode), IMSG_DISPATCHER_RETIRING; from
 * the parent, IMSG_CTL_ADD_CHANNEL and IMSG_CTL_CONFIG; any other type to
 * either; and the request lines of `sealmail queue ...` clients on the
 * control socket (queue_ctl_read_cb, queue_ctl_run).
 *
 * The role's files are included whole, so the loop's static callbacks can
 * be called (queue.c, queue_ctl.c, queue_local.c, queue_remote.c,
 * queue_retry.c, queue_bounce.c, queue_state_file.c, queue_msg.c; the
 * formats and Maildir files, spool_file.c, queue_state.c, dsn.c and
 * maildir.c, come from the core library), and the queue built as queue_main
 * builds it, in a scratch directory emptied before each input, without
 * signals or the listening control socket: control clients are socket
 * pairs handed to the same read callback the accepted ones get. The
 * dispatcher is a channel whose far end the harness reads: it writes a
 * small message into every spool file it is given (so commits can
 * succeed) and remembers the pool file names and task ids it saw.
 *
 * Input: records as fuzz_ipc_input.h describes. Targets: 0 the dispatcher
 * peer's handler, 1 the parent's handler (an fd is a socket pair's end:
 * a new dispatcher that hangs up at once), 2 a control client that sends
 * the payload and hangs up, 3 the dispatcher hangs up and a new one joins.
 * ID mode 1 makes ID the (ID mod n)-th task id seen, newest first; mode
 * 2 prefixes the payload with the name of the (ID mod n)-th pool file
 * seen, newest first (for a control line: appends " NAME\n" to it). An fd
 * for a dispatcher message is /dev/null.
 */
#include "../../src/queue/queue.c"
#include "../../src/queue/queue_bounce.c"
#include "../../src/queue/queue_ctl.c"
#include "../../src/queue/queue_local.c"
#include "../../src/queue/queue_msg.c"
#include "../../src/queue/queue_remote.c"
#include "../../src/queue/queue_retry.c"
#include "../../src/queue/queue_state_file.c"

#include <sys/socket.h>

#include "fuzz_ipc_input.h"

#define MAX_SEEN 64

static const char config_text[] = "[server]\n"
                                  "hostname = mx.local.test\n"
                                  "local_domains = local.test\n"
                                  "[listen mx]\n"
                                  "address = 127.0.0.1:2525\n"
                                  "tls = none\n";

static const char spool_text[] = "Subject: fuzz\r\n\r\nbody\r\n";

static struct config cfg;

struct seen {
	uint64_t ids[MAX_SEEN];
	char names[MAX_SEEN][32];
	unsigned n_ids, n_names;
};

struct harness {
	struct queue *q;
	struct queue_peer *peer;
	struct ipc_channel *far;
	int parent_far;
	struct seen seen;
};

static void far_end_handler(struct ipc_channel *ch, uint32_t type, uint64_t id, const void *data,
                            size_t len, int fd, void *arg)
{
	struct harness *h = arg;
	struct seen *s = &h->seen;
	struct ipc_reader r;
	char name[32];

	if (type == IMSG_QUEUE_POOL_FILE && fd >= 0) {
		CHECK(pwrite(fd, spool_text, sizeof(spool_text) - 1, 0) == sizeof(spool_text) - 1);
		ipc_reader_init(&r, data, len);
		(void)ipc_get_u32(&r);
		ipc_get_str(&r, name, sizeof(name));
		CHECK(ipc_reader_done(&r) == 0);
		if (s->n_names == MAX_SEEN) {
			memmove(s->names, s->names + 1, (MAX_SEEN - 1) * sizeof(s->names[0]));
			s->n_names--;
		}
		memcpy(s->names[s->n_names++], name, sizeof(name));
	}
	if (type == IMSG_MTA_DELIVER) {
		CHECK(fd >= 0);
		if (s->n_ids == MAX_SEEN) {
			memmove(s->ids, s->ids + 1, (MAX_SEEN - 1) * sizeof(s->ids[0]));
			s->n_ids--;
		}
		s->ids[s->n_ids++] = id;
	}
	if (fd >= 0)
		close(fd);
}

static void far_end_closed(struct ipc_channel *ch, void *arg)
{
	abort(); /* the queue never hangs up on a dispatcher */
}

static void run_loop(struct harness *h, unsigned turns)
{
	for (unsigned i = 0; i < turns + 1; i++)
		event_base_loop(h->q->base, EVLOOP_NONBLOCK);
}

/* A dispatcher joins, as IMSG_CTL_ADD_CHANNEL makes one join. */
static void peer_join(struct harness *h)
{
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	queue_add_peer(h->q, sv[0]);
	h->peer = TAILQ_LAST(&h->q->peers, queue_peer_list);
	h->far = ipc_channel_new(h->q->base, sv[1], far_end_handler, far_end_closed, h);
}

static void peer_leave(struct harness *h)
{
	if (h->peer == NULL)
		return;
	queue_peer_closed(h->peer->ch, h->peer);
	ipc_channel_free(&h->far);
	h->peer = NULL;
}

/* A `sealmail queue ...` client sends LINE and hangs up; its answer is
 * read and dropped. */
static void control_client(struct harness *h, const void *line, size_t len)
{
	struct queue_ctl_conn *conn = xcalloc(1, sizeof(*conn)); /* freed with the connection */
	struct bufferevent *bev;
	char buf[4096];
	int sv[2], eof = 0;

	conn->q = h->q;
	conn->uid = 0;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	bev = bufferevent_socket_new(h->q->base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, queue_ctl_read_cb, NULL, queue_ctl_event_cb, conn);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (len > 0)
		(void)!write(sv[1], line, len);
	shutdown(sv[1], SHUT_WR);
	for (int i = 0; i < 50 && !eof; i++) {
		ssize_t n;
		event_base_loop(h->q->base, EVLOOP_NONBLOCK);
		while ((n = read(sv[1], buf, sizeof(buf))) > 0)
			;
		eof = n == 0;
	}
	CHECK(eof); /* every request is answered, or the client dropped */
	close(sv[1]);
}

static struct queue *queue_build(struct harness *h)
{
	struct queue *q = xcalloc(1, sizeof(*q));
	const char *why;
	int sv[2];

	memcpy(&q->cfg, &cfg, sizeof(q->cfg));
	TAILQ_INIT(&q->peers);
	TAILQ_INIT(&q->open);
	TAILQ_INIT(&q->batch);
	TAILQ_INIT(&q->ready);
	TAILQ_INIT(&q->active);
	TAILQ_INIT(&q->deferred);
	for (unsigned i = 0; i < QUEUE_TASK_BUCKETS; i++)
		TAILQ_INIT(&q->tasks[i]);
	CHECK(queue_prepare_dirs(&why) == 0);
	q->sync_fd = open("queue", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(q->sync_fd >= 0);
	q->base = event_base_new();
	q->ev_flush = evtimer_new(q->base, queue_flush_cb, q);
	q->ev_retry = event_new(q->base, -1, EV_PERSIST, queue_retry_cb, q);
	event_add(q->ev_retry, &(struct timeval){1, 0});
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	q->parent = ipc_channel_new(q->base, sv[0], queue_parent_handler, queue_parent_closed, q);
	h->parent_far = sv[1];
	q->tls_seen = tls_memory_open();
	queue_recover(q);
	return q;
}

static void free_list(struct queue_msg_list *list)
{
	struct queue_msg *m;

	while ((m = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, m, entry);
		queue_msg_free(m);
	}
}

static void queue_teardown(struct harness *h)
{
	struct queue *q = h->q;
	struct queue_peer *p;

	peer_leave(h);
	while ((p = TAILQ_FIRST(&q->peers)) != NULL)
		queue_peer_closed(p->ch, p);
	CHECK(q->n_tasks == 0);
	free_list(&q->open);
	free_list(&q->batch);
	free_list(&q->ready);
	free_list(&q->active);
	free_list(&q->deferred);
	event_free(q->ev_flush);
	event_free(q->ev_retry);
	ipc_channel_free(&q->parent);
	close(h->parent_far);
	close(q->sync_fd);
	event_base_free(q->base);
	tls_seen_map_free(&q->tls_seen);
	free(q);
}

static void parent_message(struct harness *h, const struct fuzz_record *rec)
{
	int fd = -1;

	if (FUZZ_OP_FD(rec->op)) {
		int sv[2];
		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
		close(sv[1]);
		fd = sv[0];
	}
	queue_parent_handler(h->q->parent, rec->type, rec->id, rec->payload, rec->len, fd, h->q);
}

static void peer_message(struct harness *h, const struct fuzz_record *rec, uint64_t id,
                         const char *name)
{
	struct ipc_writer w;
	int fd = -1;

	if (h->peer == NULL)
		return;
	ipc_writer_init(&w);
	if (name != NULL)
		ipc_put_str(&w, name);
	if (rec->len > 0)
		ipc_put_bytes(&w, rec->payload, rec->len);
	if (FUZZ_OP_FD(rec->op))
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	queue_peer_handler(h->peer->ch, rec->type, id, w.buf, w.len, fd, h->peer);
	ipc_writer_free(&w);
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
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	struct harness h = {0};
	struct fuzz_record rec;
	int back = fuzz_scratch_enter();

	h.q = queue_build(&h);
	peer_join(&h);
	run_loop(&h, 1);
	while (fuzz_next_record(&in, &rec)) {
		unsigned mode = FUZZ_OP_IDMODE(rec.op);
		const struct seen *s = &h.seen;
		const char *name = NULL;
		uint64_t id = rec.id;

		if (mode == FUZZ_ID_REF) {
			if (s->n_ids == 0)
				continue;
			id = s->ids[s->n_ids - 1 - rec.id % s->n_ids];
		} else if (mode == FUZZ_ID_REF_NAMED) {
			if (s->n_names == 0)
				continue;
			name = s->names[s->n_names - 1 - rec.id % s->n_names];
		}
		switch (FUZZ_OP_TARGET(rec.op)) {
		case 0:
			peer_message(&h, &rec, id, name);
			break;
		case 1:
			parent_message(&h, &rec);
			break;
		case 2: {
			struct ipc_writer w;
			ipc_writer_init(&w);
			if (rec.len > 0)
				ipc_put_bytes(&w, rec.payload, rec.len);
			if (name != NULL) {
				ipc_put_bytes(&w, " ", 1);
				ipc_put_bytes(&w, name, strlen(name));
				ipc_put_bytes(&w, "\n", 1);
			}
			control_client(&h, w.buf, w.len);
			ipc_writer_free(&w);
			break;
		}
		default:
			peer_leave(&h);
			peer_join(&h);
		}
		run_loop(&h, FUZZ_OP_TURNS(rec.op));
	}
	queue_teardown(&h);
	fuzz_scratch_leave(back);
	return 0;
}
