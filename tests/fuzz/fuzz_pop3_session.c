/*
 * fuzz_pop3_session.c: libFuzzer harness for the whole POP3 server session
 * (pop3/pop3_session.c, pop3_command.c, pop3_maildrop.c, pop3_retr.c and
 * the line parser): the input is what a client sends, through a socket
 * pair inside one event loop, to a real session whose owner is a fake:
 * every password is accepted (but "wrong" and "later"), and a fake store
 * answers each typed request (proto/store.h, decoded with its codec, so
 * what the session encodes must decode) from a maildrop of a few
 * messages, each a real file handed over for RETR and TOP; DELE's UIDs
 * are really flagged and expunged, so a second look must agree.
 *
 * The first input byte sets how the owner behaves: bit 0 makes the
 * listener tls = required (the cleartext refusals), bit 1 answers one
 * loop turn later, bit 2 refuses now and then (LOGIN [LIMIT], SELECT
 * [IN-USE], a failed FETCH), bits 3-4 the maildrop's size (3 messages,
 * none, 1100 for scans in batches, 3), bit 5 sends CHANGED now and then.
 * The second byte says how the rest is cut into writes. The loop runs
 * until the session is idle or gone; then the client hangs up and
 * everything must be freed: the session closed, no file descriptor left
 * open, the output bounded by the input.
 */
#include <dirent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/config.h"
#include "fuzz_common.h"
#include "lib/ipc.h"
#include "lib/util.h"
#include "mail/seqset.h"
#include "pop3/pop3_session.h"
#include "proto/lookup.h"
#include "proto/proto.h"
#include "proto/store.h"

#define MAX_TURNS 20000
#define QUEUE_MAX 8
#define MSGS_MAX 1100
#define N_TEXTS 4
#define UIDVALIDITY 1700000001u
/* RETR of every message for each input octet is the most it may write */
#define OUTPUT_BASE (256 * 1024)
#define OUTPUT_PER_OCTET 2048

static const char *const texts[N_TEXTS] = {
    "Subject: one\n\nHello\n.dot line\n..two dots\nbye\n",
    "Subject: two\nFrom: a@b\n\nl1\nl2\nl3\nl4\nl5\n", "Subject: three\n\nno final newline",
    "", /* an empty file */
};

static struct config cfg;
static char text_dir[64];
static char text_path[N_TEXTS][96];
static int show; /* FUZZ_SHOW=1: what the server sends goes to fd 2 */

struct request {
	uint32_t type;
	unsigned char *data;
	size_t len;
	int fd;
};

struct fake_msg {
	uint32_t uid, flags;
	int expunged;
};

struct harness {
	struct event_base *base;
	struct pop3_session *s;
	unsigned mode;
	struct request q[QUEUE_MAX];
	unsigned n_q;
	int pending_auth, auth_ok;
	unsigned requests;
	int logged_in;
	struct fake_msg msgs[MSGS_MAX];
	unsigned n_msgs;
	unsigned turn;
};

/* ---- the fake owner ------------------------------------------------------ */

static void auth_check(void *owner, uint64_t handle, const char *user, const char *password)
{
	struct harness *h = owner;

	CHECK(h->s != NULL && !h->pending_auth);
	CHECK(user != NULL && password != NULL);
	h->pending_auth = 1;
	h->auth_ok = strcmp(password, "wrong") == 0   ? PROTO_AUTH_FAILED
	             : strcmp(password, "later") == 0 ? PROTO_AUTH_TEMPFAIL
	                                              : PROTO_AUTH_OK;
}

static void store_send(void *owner, uint64_t handle, uint32_t type, struct ipc_writer *w, int fd)
{
	struct harness *h = owner;
	struct request *r;

	CHECK(h->n_q < QUEUE_MAX);
	CHECK(fd == -1); /* POP3 never appends */
	r = &h->q[h->n_q++];
	r->type = type;
	r->len = w->len;
	r->data = xmalloc(w->len + 1);
	if (w->len > 0)
		memcpy(r->data, w->buf, w->len);
	r->fd = fd;
	ipc_writer_free(w);
}

static void closed(void *owner, uint64_t handle)
{
	struct harness *h = owner;

	h->s = NULL;
}

/* ---- the fake store ------------------------------------------------------ */

static void reply(struct harness *h, uint32_t type, struct ipc_writer *w, int fd)
{
	if (h->s != NULL)
		pop3_session_store_reply(h->s, type, w->buf, w->len, fd);
	else if (fd >= 0)
		close(fd);
	ipc_writer_free(w);
}

static int refuse(const struct harness *h)
{
	return (h->mode & 4) && h->requests % 3 == 1;
}

static void reply_result(struct harness *h, uint32_t status, const char *code)
{
	struct proto_store_result m = {.status = status};
	struct ipc_writer w;

	snprintf(m.code, sizeof(m.code), "%s", code);
	ipc_writer_init(&w);
	proto_store_result_encode(&m, &w);
	reply(h, IMSG_STORE_RESULT, &w, -1);
}

static void reply_done(struct harness *h, uint32_t status, uint32_t more)
{
	struct proto_store_fetch_done m = {.status = status, .more = more};
	struct ipc_writer w;

	m.vanished = m.modified = "";
	ipc_writer_init(&w);
	proto_store_fetch_done_encode(&m, &w);
	reply(h, IMSG_STORE_FETCH_DONE, &w, -1);
}

static uint64_t crlf_size(const char *text)
{
	uint64_t n = 0;

	for (; *text; text++)
		n += *text == '\n' ? 2 : 1;
	return n;
}

/* Message INDEX as sequence number SEQ, with its file when WITH_FILE. */
static void reply_item(struct harness *h, unsigned index, uint32_t seq, int with_file)
{
	const char *text = texts[index % N_TEXTS];
	struct proto_store_item m = {.seq = seq, .uid = h->msgs[index].uid};
	struct ipc_writer w;
	int fd = -1;

	m.flags = h->msgs[index].flags;
	m.size = crlf_size(text);
	m.file_size = strlen(text);
	m.envelope = m.bodystructure = m.body = m.headers = "";
	if (with_file) {
		fd = open(text_path[index % N_TEXTS], O_RDONLY | O_CLOEXEC);
		CHECK(fd >= 0);
	}
	ipc_writer_init(&w);
	proto_store_item_encode(&m, &w);
	reply(h, IMSG_STORE_FETCH_ITEM, &w, fd);
}

static void answer_select(struct harness *h, const struct request *r)
{
	struct proto_store_select *m = xcalloc(1, sizeof(*m));
	struct proto_store_select_result res = {.uidvalidity = UIDVALIDITY};
	struct ipc_writer w;
	const char *why;

	CHECK(proto_store_select_decode(m, r->data, r->len, &why) == 0);
	CHECK(strcmp(m->name, "INBOX") == 0 && m->pop3 == 1);
	free(m);
	res.vanished = "";
	if (refuse(h)) {
		res.status = PROTO_STORE_NO;
		snprintf(res.code, sizeof(res.code), "IN-USE");
	} else {
		for (unsigned i = 0; i < h->n_msgs; i++)
			res.exists += !h->msgs[i].expunged;
		res.uidnext = h->msgs[h->n_msgs > 0 ? h->n_msgs - 1 : 0].uid + 1;
	}
	ipc_writer_init(&w);
	proto_store_select_result_encode(&res, &w);
	reply(h, IMSG_STORE_SELECT_RESULT, &w, -1);
}

/* FETCH 1:* (the scan, in batches) or UID FETCH n (RETR, TOP). */
static void answer_fetch(struct harness *h, const struct request *r)
{
	struct proto_store_fetch *m = xcalloc(1, sizeof(*m));
	struct seqset set;
	uint32_t seq = 0, sent = 0, matched = 0;
	const char *why;

	CHECK(proto_store_fetch_decode(m, r->data, r->len, &why) == 0);
	CHECK(m->max <= PROTO_STORE_FETCH_BATCH);
	CHECK(seqset_parse(m->set, &set, &why) == 0);
	seqset_resolve(&set, UINT32_MAX - 1);
	if (refuse(h)) {
		seqset_free(&set);
		free(m);
		reply_done(h, PROTO_STORE_NO, 0);
		return;
	}
	for (unsigned i = 0; i < h->n_msgs; i++) {
		if (h->msgs[i].expunged)
			continue;
		seq++;
		if (!seqset_contains(&set, m->uid ? h->msgs[i].uid : seq))
			continue;
		if (matched++ < m->start || (m->max > 0 && sent >= m->max))
			continue;
		if (m->want & STORE_WANT_MARK_SEEN)
			h->msgs[i].flags |= STORE_FLAG_SEEN;
		reply_item(h, i, seq, (m->want & STORE_WANT_FILE) != 0);
		sent++;
	}
	reply_done(h, PROTO_STORE_OK, m->start + sent < matched);
	seqset_free(&set);
	free(m);
}

/* QUIT: +\Deleted on UIDs, reported in batches. */
static void answer_flags(struct harness *h, const struct request *r)
{
	struct proto_store_flags *m = xcalloc(1, sizeof(*m));
	struct seqset set;
	uint32_t seq = 0, sent = 0, changed = 0;
	const char *why;

	CHECK(proto_store_flags_decode(m, r->data, r->len, &why) == 0);
	CHECK(m->uid == 1 && m->op == STORE_FLAGS_ADD && m->flags == STORE_FLAG_DELETED);
	CHECK(seqset_parse(m->set, &set, &why) == 0);
	seqset_resolve(&set, UINT32_MAX - 1);
	for (unsigned i = 0; i < h->n_msgs; i++) {
		if (h->msgs[i].expunged)
			continue;
		seq++;
		if (!seqset_contains(&set, h->msgs[i].uid))
			continue;
		h->msgs[i].flags |= STORE_FLAG_DELETED;
		if (changed++ < m->start || sent >= m->max)
			continue;
		reply_item(h, i, seq, 0);
		sent++;
	}
	reply_done(h, refuse(h) ? PROTO_STORE_NO : PROTO_STORE_OK, m->start + sent < changed);
	seqset_free(&set);
	free(m);
}

static void answer_expunge(struct harness *h, const struct request *r)
{
	struct proto_store_expunge *m = xcalloc(1, sizeof(*m));
	struct seqset set;
	const char *why;

	CHECK(proto_store_expunge_decode(m, r->data, r->len, &why) == 0);
	CHECK(m->uid_only == 1);
	CHECK(seqset_parse(m->uids, &set, &why) == 0);
	seqset_resolve(&set, UINT32_MAX - 1);
	for (unsigned i = 0; i < h->n_msgs; i++)
		if (seqset_contains(&set, h->msgs[i].uid) &&
		    (h->msgs[i].flags & STORE_FLAG_DELETED))
			h->msgs[i].expunged = 1;
	seqset_free(&set);
	free(m);
	reply_result(h, PROTO_STORE_OK, "");
}

static void answer_one(struct harness *h)
{
	struct request r = h->q[0];
	struct proto_store_login l;
	const char *why;

	memmove(h->q, h->q + 1, --h->n_q * sizeof(h->q[0]));
	switch (r.type) {
	case IMSG_STORE_LOGIN:
		CHECK(proto_store_login_decode(&l, r.data, r.len, &why) == 0);
		CHECK(l.service == STORE_SERVICE_POP3 && !h->logged_in);
		h->logged_in = 1; /* the session says LOGOUT even after a NO */
		reply_result(h, refuse(h) ? PROTO_STORE_NO : PROTO_STORE_OK,
		             refuse(h) ? "LIMIT" : "");
		break;
	case IMSG_STORE_LOGOUT:
		CHECK(r.len == 0 && h->logged_in);
		h->logged_in = 0;
		break;
	case IMSG_STORE_SELECT:
		answer_select(h, &r);
		break;
	case IMSG_STORE_FETCH:
		answer_fetch(h, &r);
		break;
	case IMSG_STORE_FLAGS:
		answer_flags(h, &r);
		break;
	case IMSG_STORE_EXPUNGE:
		answer_expunge(h, &r);
		break;
	default:
		CHECK(0); /* nothing else is a POP3 session's to ask */
	}
	free(r.data);
	h->requests++;
}

static int answer(struct harness *h)
{
	int busy = 0;

	if ((h->mode & 2) && h->turn % 2 == 0)
		return h->n_q > 0 || h->pending_auth;
	while (h->n_q > 0) {
		answer_one(h);
		busy = 1;
	}
	if (h->pending_auth && h->s != NULL) {
		h->pending_auth = 0;
		pop3_session_auth_done(h->s, h->auth_ok, "alice@local.test");
		busy = 1;
	}
	if ((h->mode & 32) && h->s != NULL && h->turn % 7 == 3)
		pop3_session_store_reply(h->s, IMSG_STORE_CHANGED, NULL, 0, -1);
	return busy;
}

/* ---- the run ------------------------------------------------------------- */

static unsigned open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	unsigned n = 0;

	CHECK(d != NULL);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void remove_texts(void)
{
	for (unsigned i = 0; i < N_TEXTS; i++)
		unlink(text_path[i]);
	rmdir(text_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	signal(SIGPIPE, SIG_IGN);
	show = getenv("FUZZ_SHOW") != NULL;
	config_defaults(&cfg);
	snprintf(cfg.hostname, sizeof(cfg.hostname), "pop.test");
	cfg.n_listeners = 2;
	snprintf(cfg.listeners[0].name, sizeof(cfg.listeners[0].name), "pop3");
	cfg.listeners[0].protocol = LISTENER_POP3;
	cfg.listeners[0].tls = LISTENER_TLS_NONE;
	cfg.listeners[1] = cfg.listeners[0];
	cfg.listeners[1].tls = LISTENER_TLS_REQUIRED;
	snprintf(text_dir, sizeof(text_dir), "/tmp/fuzz_pop3_session.XXXXXX");
	CHECK(mkdtemp(text_dir) != NULL);
	atexit(remove_texts);
	for (unsigned i = 0; i < N_TEXTS; i++) {
		int fd;

		snprintf(text_path[i], sizeof(text_path[i]), "%s/%u", text_dir, i);
		fd = open(text_path[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		CHECK(fd >= 0 && write_all(fd, texts[i], strlen(texts[i])) == 0);
		close(fd);
	}
	return 0;
}

static ssize_t drain(int fd)
{
	char buf[16384];
	ssize_t n, total = 0;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		total += n;
		if (show)
			(void)!write(2, buf, (size_t)n);
	}
	return n == 0 && total == 0 ? -1 : total;
}

static void fill_maildrop(struct harness *h)
{
	static const unsigned sizes[4] = {3, 0, MSGS_MAX, 3};

	h->n_msgs = sizes[(h->mode >> 3) & 3];
	for (unsigned i = 0; i < h->n_msgs; i++)
		h->msgs[i] =
		    (struct fake_msg){.uid = 10 + 2 * i, .flags = i == 1 ? STORE_FLAG_SEEN : 0};
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness *h;
	struct pop3_env env;
	size_t off = 2, chunk, out = 0;
	unsigned fds = open_fds();
	int sv[2], shut = 0;

	if (size < 2)
		return 0;
	h = xcalloc(1, sizeof(*h));
	h->base = event_base_new();
	h->mode = data[0];
	fill_maildrop(h);
	env = (struct pop3_env){.base = h->base,
	                        .cfg = &cfg,
	                        .owner = h,
	                        .auth_check = auth_check,
	                        .store_send = store_send,
	                        .closed = closed};
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
	h->s = pop3_session_new(&env, &cfg.listeners[h->mode & 1], sv[0], NULL, 0, 1);
	CHECK(h->s != NULL);
	chunk = 1 + data[1] % 64;
	if (data[1] >= 0xc0)
		chunk = size;
	while (h->s != NULL && h->turn++ < MAX_TURNS) {
		int busy = 0;
		ssize_t got;

		if (off < size) {
			size_t n = size - off < chunk ? size - off : chunk;
			ssize_t w = write(sv[1], data + off, n);
			if (w > 0)
				off += (size_t)w;
			busy = 1;
		}
		event_base_loop(h->base, EVLOOP_NONBLOCK);
		got = drain(sv[1]);
		out += got > 0 ? (size_t)got : 0;
		busy |= got > 0;
		busy |= answer(h);
		if (!busy && off >= size && !shut && h->turn > 4) {
			shutdown(sv[1], SHUT_WR);
			shut = 1;
		}
	}
	CHECK(h->s == NULL);
	while (h->n_q > 0)
		answer_one(h);
	CHECK(!h->logged_in);
	for (int i = 0; i < 100; i++) {
		ssize_t got;

		event_base_loop(h->base, EVLOOP_NONBLOCK);
		got = drain(sv[1]);
		if (got < 0)
			break;
		out += (size_t)got;
	}
	CHECK(out <= OUTPUT_BASE + OUTPUT_PER_OCTET * size);
	close(sv[1]);
	event_base_free(h->base);
	free(h);
	CHECK(open_fds() == fds);
	return 0;
}
