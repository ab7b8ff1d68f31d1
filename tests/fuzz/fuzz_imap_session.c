/*
 * fuzz_imap_session.c: libFuzzer harness for the whole IMAP server session
 * (imap/imap_session*.c, the command groups imap_cmd_*.c and what they
 * call: the parser, FETCH and SEARCH): the input is what a client sends,
 * through a socket pair inside one event loop, to a real session whose
 * owner is a fake: every password is accepted (but "wrong" and "later"),
 * and a fake store answers each typed request (proto/store.h, decoded
 * with its codec, so what the session encodes must decode) with plausible
 * typed replies about a folder of a few messages, FETCH items carrying a
 * real message file when the session asks for one.
 *
 * The first input byte sets how the owner behaves: bit 0 leaves TLS off
 * (the cleartext refusals), bit 1 answers one loop turn later, bit 2 makes
 * the store say CHANGED now and then, bit 3 answers every third request NO,
 * bit 4 hands FETCH results out one item per batch. The second byte says
 * how the rest is cut into writes. The loop runs until the session is
 * idle or gone; then the client hangs up and everything must be freed:
 * the session closed, no file descriptor left open, the output bounded by
 * the input.
 */
#include <dirent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/config.h"
#include "fuzz_common.h"
#include "imap/imap_session.h"
#include "imap/imap_session_private.h"
#include "lib/ipc.h"
#include "lib/util.h"
#include "mail/mime.h"
#include "proto/lookup.h"
#include "proto/proto.h"
#include "proto/store.h"

#define MAX_TURNS 20000
#define QUEUE_MAX 16
#define FOLDER_MESSAGES 3
#define UIDVALIDITY 42u
/* the most the session may write: a FETCH can ask many sections of each
 * message, but never more than this per input octet */
#define OUTPUT_BASE (256 * 1024)
#define OUTPUT_PER_OCTET 2048

static const char message_text[] = "Date: Wed, 7 Feb 2024 10:20:30 +0100\n"
                                   "From: Alice <alice@example.org>\n"
                                   "To: bob@example.org, \"Carol C.\" <carol@example.org>\n"
                                   "Subject: =?utf-8?q?h=C3=A9llo?= there\n"
                                   "Message-ID: <m1@example.org>\n"
                                   "MIME-Version: 1.0\n"
                                   "Content-Type: multipart/mixed; boundary=\"b1\"\n"
                                   "\n"
                                   "preamble\n"
                                   "--b1\n"
                                   "Content-Type: text/plain; charset=utf-8\n"
                                   "Content-Transfer-Encoding: quoted-printable\n"
                                   "\n"
                                   "caf=C3=A9 line one\n"
                                   ".line two\n"
                                   "--b1\n"
                                   "Content-Type: message/rfc822\n"
                                   "\n"
                                   "Subject: inner\n"
                                   "\n"
                                   "inner body\n"
                                   "--b1\n"
                                   "Content-Type: application/octet-stream\n"
                                   "Content-Transfer-Encoding: base64\n"
                                   "\n"
                                   "AAECAwQFBgcICQ==\n"
                                   "--b1--\n";

static struct config cfg;
/* FUZZ_SHOW=1 in the environment: what the server sends goes to fd 2
 * (to see how far an input gets). */
static int show;
static char message_path[256];
static char *envelope_text, *bodystructure_text, *body_text, *headers_text;
static uint64_t message_crlf_size;

struct request {
	uint32_t type;
	unsigned char *data;
	size_t len;
	int fd;
};

/* The fake owner, and the fake store's folder. */
struct harness {
	struct event_base *base;
	struct imap_session *s;
	unsigned mode; /* the first input byte */
	struct request q[QUEUE_MAX];
	unsigned n_q;
	int pending_auth, auth_ok;
	unsigned requests; /* answered so far */
	int logged_in;     /* the store said OK to LOGIN */
	uint32_t exists;   /* of the selected folder */
	int expunge_due;   /* an EXPUNGE or MOVE ran: the next UPDATES reports one */
	unsigned turn;
};

/* ---- the fake owner ------------------------------------------------------ */

static void auth_check(void *owner, uint64_t handle, const char *user, const char *password)
{
	struct harness *h = owner;

	CHECK(h->s != NULL && !h->pending_auth);
	CHECK(user != NULL && strlen(user) < 64 * 1024);
	h->pending_auth = 1;
	h->auth_ok = password == NULL                 ? PROTO_AUTH_FAILED
	             : strcmp(password, "wrong") == 0 ? PROTO_AUTH_FAILED
	             : strcmp(password, "later") == 0 ? PROTO_AUTH_TEMPFAIL
	                                              : PROTO_AUTH_OK;
}

static void store_send(void *owner, uint64_t handle, uint32_t type, struct ipc_writer *w, int fd)
{
	struct harness *h = owner;
	struct request *r;

	/* one request at a time, and LOGOUT as the session goes */
	CHECK(h->n_q < QUEUE_MAX);
	CHECK(w->len <= IPC_MAX_PAYLOAD);
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

/* ---- the fake store's answers -------------------------------------------- */

static void reply(struct harness *h, uint32_t type, struct ipc_writer *w, int fd)
{
	if (h->s != NULL)
		imap_session_store_reply(h->s, type, w->buf, w->len, fd);
	else if (fd >= 0)
		close(fd);
	ipc_writer_free(w);
}

/* Every third request of a NO-mode input fails. */
static int refuse(const struct harness *h)
{
	return (h->mode & 8) && h->requests % 3 == 2;
}

static void reply_result(struct harness *h, uint32_t status, const char *code)
{
	struct proto_store_result m = {.status = status};
	struct ipc_writer w;

	snprintf(m.code, sizeof(m.code), "%s", code);
	snprintf(m.text, sizeof(m.text), "%s", status == PROTO_STORE_OK ? "done" : "refused");
	ipc_writer_init(&w);
	proto_store_result_encode(&m, &w);
	reply(h, IMSG_STORE_RESULT, &w, -1);
}

static void answer_list(struct harness *h, const struct request *r)
{
	static struct proto_store_folder folders[] = {
	    {"INBOX", STORE_ATTR_HASNOCHILDREN | STORE_ATTR_SUBSCRIBED},
	    {"Sent", STORE_ATTR_SENT | STORE_ATTR_HASNOCHILDREN},
	    {"Trash", STORE_ATTR_TRASH | STORE_ATTR_HASNOCHILDREN | STORE_ATTR_SUBSCRIBED},
	    {"Work", STORE_ATTR_HASCHILDREN | STORE_ATTR_NOSELECT},
	    {"Work/Projets \xc3\xa9t\xc3\xa9", STORE_ATTR_HASNOCHILDREN},
	    {"Old", STORE_ATTR_NONEXISTENT | STORE_ATTR_SUBSCRIBED},
	};
	struct proto_store_list_result m = {.folders = folders, .n_folders = 6};
	struct proto_store_list l;
	struct ipc_writer w;
	const char *why;

	CHECK(proto_store_list_decode(&l, r->data, r->len, &why) == 0);
	if (refuse(h)) {
		m.status = PROTO_STORE_NO;
		m.n_folders = 0;
	}
	ipc_writer_init(&w);
	proto_store_list_result_encode(&m, &w);
	reply(h, IMSG_STORE_LIST_RESULT, &w, -1);
}

static void answer_status(struct harness *h, const struct request *r)
{
	struct proto_store_status_result m = {.messages = FOLDER_MESSAGES,
	                                      .recent = 1,
	                                      .unseen = 2,
	                                      .deleted = 1,
	                                      .uidnext = 13,
	                                      .uidvalidity = UIDVALIDITY,
	                                      .size = 3 * 1000,
	                                      .highestmodseq = 9};
	struct proto_store_status st;
	struct ipc_writer w;
	const char *why;

	CHECK(proto_store_status_decode(&st, r->data, r->len, &why) == 0);
	if (refuse(h)) {
		m.status = PROTO_STORE_NO;
		snprintf(m.code, sizeof(m.code), "NONEXISTENT");
	}
	ipc_writer_init(&w);
	proto_store_status_result_encode(&m, &w);
	reply(h, IMSG_STORE_STATUS_RESULT, &w, -1);
}

/* One FETCH_ITEM for message SEQ (1-based) with what WANT asks. */
static void reply_item(struct harness *h, uint32_t seq, uint32_t want, uint32_t flags)
{
	struct proto_store_item m = {.seq = seq,
	                             .uid = 9 + seq,
	                             .flags = flags,
	                             .modseq = 5 + seq,
	                             .internaldate = 1707297630 + seq,
	                             .tz_minutes = 60,
	                             .size = message_crlf_size,
	                             .file_size = sizeof(message_text) - 1};
	struct ipc_writer w;
	int fd = -1;

	snprintf(m.keywords, sizeof(m.keywords), "%s", seq == 2 ? "$Forwarded $Label1" : "");
	m.envelope = (want & STORE_WANT_ENVELOPE) ? envelope_text : "";
	m.bodystructure = (want & STORE_WANT_BODYSTRUCTURE) ? bodystructure_text : "";
	m.body = (want & STORE_WANT_BODY) ? body_text : "";
	/* the cache has the headers of some messages only */
	m.headers = (want & STORE_WANT_HEADERS) && seq != 1 ? headers_text : "";
	if (want & STORE_WANT_FILE) {
		fd = open(message_path, O_RDONLY | O_CLOEXEC);
		CHECK(fd >= 0);
	}
	ipc_writer_init(&w);
	proto_store_item_encode(&m, &w);
	reply(h, IMSG_STORE_FETCH_ITEM, &w, fd);
}

static void reply_fetch_done(struct harness *h, uint32_t status, uint32_t more,
                             const char *vanished, const char *modified)
{
	struct proto_store_fetch_done m = {.status = status, .more = more};
	struct ipc_writer w;

	m.vanished = (char *)vanished;
	m.modified = (char *)modified;
	ipc_writer_init(&w);
	proto_store_fetch_done_encode(&m, &w);
	reply(h, IMSG_STORE_FETCH_DONE, &w, -1);
}

static void answer_select(struct harness *h, const struct request *r)
{
	struct proto_store_select *m = xcalloc(1, sizeof(*m));
	struct proto_store_select_result res = {.exists = FOLDER_MESSAGES,
	                                        .recent = 1,
	                                        .first_unseen = 2,
	                                        .uidvalidity = UIDVALIDITY,
	                                        .uidnext = 13,
	                                        .highestmodseq = 9};
	struct ipc_writer w;
	const char *why;

	CHECK(proto_store_select_decode(m, r->data, r->len, &why) == 0);
	res.readonly = m->readonly;
	snprintf(res.keywords, sizeof(res.keywords), "$Forwarded $Label1");
	res.vanished = "";
	if (refuse(h)) {
		res.status = PROTO_STORE_NO;
		res.exists = 0;
		snprintf(res.code, sizeof(res.code), "NONEXISTENT");
	} else if (m->qresync_uidvalidity == UIDVALIDITY) {
		/* QRESYNC: the changes since the modseq come first */
		res.vanished = "1:9";
		reply_item(h, 2, STORE_WANT_FLAGS | STORE_WANT_MODSEQ, STORE_FLAG_SEEN);
	}
	h->exists = res.status == PROTO_STORE_OK ? res.exists : 0;
	h->expunge_due = 0;
	free(m);
	ipc_writer_init(&w);
	proto_store_select_result_encode(&res, &w);
	reply(h, IMSG_STORE_SELECT_RESULT, &w, -1);
}

static void answer_fetch(struct harness *h, const struct request *r)
{
	struct proto_store_fetch *m = xcalloc(1, sizeof(*m));
	uint32_t seq, end;
	const char *why;

	CHECK(proto_store_fetch_decode(m, r->data, r->len, &why) == 0);
	CHECK(m->max <= PROTO_STORE_FETCH_BATCH);
	if (refuse(h)) {
		free(m);
		reply_fetch_done(h, PROTO_STORE_NO, 0, "", "");
		return;
	}
	end = h->exists;
	if ((h->mode & 16) && m->start + 1 < end)
		end = m->start + 1;
	if (m->max > 0 && end > m->start + m->max)
		end = m->start + m->max;
	for (seq = m->start + 1; seq <= end; seq++)
		reply_item(h, seq, m->want, seq == 1 ? STORE_FLAG_SEEN : STORE_FLAG_RECENT);
	reply_fetch_done(h, PROTO_STORE_OK, end < h->exists, m->vanished ? "3:4" : "", "");
	free(m);
}

static void answer_flags(struct harness *h, const struct request *r)
{
	struct proto_store_flags *m = xcalloc(1, sizeof(*m));
	const char *why;

	CHECK(proto_store_flags_decode(m, r->data, r->len, &why) == 0);
	CHECK((m->flags & ~STORE_FLAGS_SETTABLE) == 0);
	if (!refuse(h)) {
		if (h->exists > 0)
			reply_item(h, 1, STORE_WANT_FLAGS,
			           m->op == STORE_FLAGS_REMOVE ? 0 : m->flags);
		if (h->exists > 1)
			reply_item(h, h->exists, STORE_WANT_FLAGS, m->flags | STORE_FLAG_SEEN);
	}
	reply_fetch_done(h, refuse(h) ? PROTO_STORE_NO : PROTO_STORE_OK, 0, "",
	                 m->unchangedsince ? "2" : "");
	free(m);
}

static void answer_search(struct harness *h, const struct request *r)
{
	struct proto_store_search p;
	struct proto_store_search_result m = {.highestmodseq = 7};
	uint32_t v[FOLDER_MESSAGES];
	struct ipc_writer w;
	const char *why;
	unsigned i;

	CHECK(proto_store_search_decode(&p, r->data, r->len, &why) == 0);
	for (i = 0; i < h->exists && i < FOLDER_MESSAGES; i += 2)
		v[m.n_matches++] = p.uid ? 10 + i : 1 + i;
	m.matches = v;
	proto_store_search_free(&p);
	if (refuse(h)) {
		m.status = PROTO_STORE_BAD;
		m.n_matches = 0;
	}
	ipc_writer_init(&w);
	proto_store_search_result_encode(&m, &w);
	reply(h, IMSG_STORE_SEARCH_RESULT, &w, -1);
}

static void answer_updates(struct harness *h, const struct request *r)
{
	struct proto_store_updates u;
	struct proto_store_updates_result m = {.recent = 0, .highestmodseq = 11};
	uint32_t gone[] = {1};
	struct ipc_writer w;
	const char *why;

	CHECK(proto_store_updates_decode(&u, r->data, r->len, &why) == 0);
	m.vanished = "";
	if (u.expunges && h->expunge_due && h->exists > 0) {
		h->expunge_due = 0;
		h->exists--;
		if (u.qresync) {
			m.vanished = "10";
		} else {
			m.expunged = gone;
			m.n_expunged = 1;
		}
	} else if ((h->mode & 4) && h->turn % 5 == 0 && h->exists < FOLDER_MESSAGES + 2) {
		h->exists++; /* new mail */
	}
	m.exists = h->exists;
	ipc_writer_init(&w);
	proto_store_updates_result_encode(&m, &w);
	reply(h, IMSG_STORE_UPDATES_RESULT, &w, -1);
}

static void answer_copy(struct harness *h, const struct request *r)
{
	struct proto_store_copy *m = xcalloc(1, sizeof(*m));
	const char *why;

	CHECK(proto_store_copy_decode(m, r->data, r->len, &why) == 0);
	if (refuse(h)) {
		reply_result(h, PROTO_STORE_NO, "TRYCREATE");
	} else {
		h->expunge_due |= m->move != 0;
		reply_result(h, PROTO_STORE_OK, "COPYUID 77 10:11 1:2");
	}
	free(m);
}

static void answer_append(struct harness *h, const struct request *r)
{
	struct proto_store_append m;
	const char *why;
	struct stat st;

	CHECK(proto_store_append_decode(&m, r->data, r->len, &why) == 0);
	/* the message file holds exactly what was announced */
	CHECK(r->fd >= 0 && fstat(r->fd, &st) == 0 && (uint64_t)st.st_size == m.size);
	CHECK(m.size <= cfg.imap.append_limit);
	reply_result(h, refuse(h) ? PROTO_STORE_NO : PROTO_STORE_OK,
	             refuse(h) ? "OVERQUOTA" : "APPENDUID 42 13");
}

static void answer_mailbox(struct harness *h, const struct request *r)
{
	struct proto_store_mailbox m;
	const char *why;

	CHECK(proto_store_mailbox_decode(&m, r->data, r->len, &why) == 0);
	reply_result(h, refuse(h) ? PROTO_STORE_NO : PROTO_STORE_OK,
	             refuse(h) ? "ALREADYEXISTS" : "");
}

static void answer_other(struct harness *h, const struct request *r)
{
	struct proto_store_login l;
	struct proto_store_unselect u;
	struct proto_store_expunge *e;
	const char *why;

	switch (r->type) {
	case IMSG_STORE_LOGIN:
		CHECK(proto_store_login_decode(&l, r->data, r->len, &why) == 0);
		CHECK(l.service == STORE_SERVICE_IMAP && !h->logged_in);
		h->logged_in = !refuse(h);
		reply_result(h, refuse(h) ? PROTO_STORE_NO : PROTO_STORE_OK,
		             refuse(h) ? "LIMIT" : "");
		break;
	case IMSG_STORE_LOGOUT:
		CHECK(r->len == 0 && h->logged_in);
		h->logged_in = 0;
		break;
	case IMSG_STORE_UNSELECT:
		CHECK(proto_store_unselect_decode(&u, r->data, r->len, &why) == 0);
		h->exists = 0;
		reply_result(h, PROTO_STORE_OK, "");
		break;
	case IMSG_STORE_EXPUNGE:
		e = xcalloc(1, sizeof(*e));
		CHECK(proto_store_expunge_decode(e, r->data, r->len, &why) == 0);
		free(e);
		h->expunge_due = !refuse(h);
		reply_result(h, refuse(h) ? PROTO_STORE_NO : PROTO_STORE_OK, "");
		break;
	default:
		CHECK(0); /* the session sends nothing else */
	}
}

/* Answers the oldest request. */
static void answer_one(struct harness *h)
{
	struct request r = h->q[0];

	memmove(h->q, h->q + 1, --h->n_q * sizeof(h->q[0]));
	/* only APPEND carries a file */
	CHECK((r.fd >= 0) == (r.type == IMSG_STORE_APPEND));
	switch (r.type) {
	case IMSG_STORE_LIST:
		answer_list(h, &r);
		break;
	case IMSG_STORE_STATUS:
		answer_status(h, &r);
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
	case IMSG_STORE_SEARCH:
		answer_search(h, &r);
		break;
	case IMSG_STORE_UPDATES:
		answer_updates(h, &r);
		break;
	case IMSG_STORE_COPY:
		answer_copy(h, &r);
		break;
	case IMSG_STORE_APPEND:
		answer_append(h, &r);
		break;
	case IMSG_STORE_MAILBOX:
		answer_mailbox(h, &r);
		break;
	default:
		answer_other(h, &r);
	}
	if (r.fd >= 0)
		close(r.fd);
	free(r.data);
	h->requests++;
}

/* Answers what is pending; 1 when something was. */
static int answer(struct harness *h)
{
	int busy = 0;

	if ((h->mode & 2) && h->turn % 2 == 0)
		return h->n_q > 0 || h->pending_auth; /* late: every other turn */
	while (h->n_q > 0) {
		answer_one(h);
		busy = 1;
	}
	if (h->pending_auth && h->s != NULL) {
		h->pending_auth = 0;
		imap_session_auth_done(h->s, h->auth_ok, "alice@example.org");
		busy = 1;
	}
	if ((h->mode & 4) && h->s != NULL && h->s->state == IMAP_STATE_SELECTED && h->turn % 7 == 3)
		imap_session_store_reply(h->s, IMSG_STORE_CHANGED, NULL, 0, -1);
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

static char message_dir[64];

static void remove_message(void)
{
	unlink(message_path);
	rmdir(message_dir);
}

/* Writes the message file (removed at exit) and the texts the store's
 * cache would hold for it. */
static void make_message(void)
{
	size_t len;
	char *crlf;
	struct mime_message *m;
	int fd;

	snprintf(message_dir, sizeof(message_dir), "/tmp/fuzz_imap_session.XXXXXX");
	CHECK(mkdtemp(message_dir) != NULL);
	snprintf(message_path, sizeof(message_path), "%s/msg", message_dir);
	fd = open(message_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0 && write_all(fd, message_text, sizeof(message_text) - 1) == 0);
	close(fd);
	atexit(remove_message);
	crlf = mail_to_crlf(message_text, sizeof(message_text) - 1, &len);
	message_crlf_size = len;
	m = mime_parse(crlf, len);
	envelope_text = mime_envelope(m);
	bodystructure_text = mime_bodystructure(m, 1);
	body_text = mime_bodystructure(m, 0);
	headers_text = xmalloc(m->root.header_end + 1);
	memcpy(headers_text, crlf, m->root.header_end);
	headers_text[m->root.header_end] = '\0';
	mime_free(&m);
	free(crlf);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	signal(SIGPIPE, SIG_IGN);
	config_defaults(&cfg);
	snprintf(cfg.hostname, sizeof(cfg.hostname), "imap.test");
	cfg.imap.append_limit = 8192;
	cfg.imap.commands_per_second = 0; /* no pause: the loop has no time */
	cfg.n_listeners = 1;
	snprintf(cfg.listeners[0].name, sizeof(cfg.listeners[0].name), "imap");
	cfg.listeners[0].protocol = LISTENER_IMAP;
	cfg.listeners[0].tls = LISTENER_TLS_REQUIRED;
	make_message();
	show = getenv("FUZZ_SHOW") != NULL;
	return 0;
}

/* Reads what the server sent; returns the octets, or -1 at its end. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness h = {0};
	struct imap_env env;
	size_t off = 2, chunk, out = 0;
	unsigned fds = open_fds();
	int sv[2], shut = 0;

	if (size < 2)
		return 0;
	h.base = event_base_new();
	h.mode = data[0];
	env = (struct imap_env){.base = h.base,
	                        .cfg = &cfg,
	                        .owner = &h,
	                        .auth_check = auth_check,
	                        .store_send = store_send,
	                        .closed = closed};
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
	h.s = imap_session_new(&env, &cfg.listeners[0], sv[0], NULL, 0, 1);
	CHECK(h.s != NULL);
	if (!(h.mode & 1))
		imap_session_test_assume_tls(h.s);
	chunk = 1 + data[1] % 64;
	if (data[1] >= 0xc0)
		chunk = size;
	while (h.s != NULL && h.turn++ < MAX_TURNS) {
		int busy = 0;
		ssize_t got;

		if (off < size) {
			size_t n = size - off < chunk ? size - off : chunk;
			ssize_t w = write(sv[1], data + off, n);
			if (w > 0)
				off += (size_t)w;
			busy = 1;
		}
		event_base_loop(h.base, EVLOOP_NONBLOCK);
		got = drain(sv[1]);
		out += got > 0 ? (size_t)got : 0;
		busy |= answer(&h);
		busy |= h.s != NULL && h.s->wait != IMAP_WAIT_NONE;
		if (!busy && off >= size && !shut && h.turn > 4) {
			/* all sent and answered: the client hangs up */
			shutdown(sv[1], SHUT_WR);
			shut = 1;
		}
	}
	/* a session that never finished is freed by EOF or must be stuck */
	CHECK(h.s == NULL);
	/* LOGOUT is sent last; nothing else waits */
	while (h.n_q > 0)
		answer_one(&h);
	CHECK(!h.logged_in);
	/* the closing io lets the last lines leave, then closes */
	for (int i = 0; i < 100; i++) {
		ssize_t got;

		event_base_loop(h.base, EVLOOP_NONBLOCK);
		got = drain(sv[1]);
		if (got < 0)
			break;
		out += (size_t)got;
	}
	CHECK(out <= OUTPUT_BASE + OUTPUT_PER_OCTET * size);
	close(sv[1]);
	event_base_free(h.base);
	CHECK(open_fds() == fds);
	return 0;
}
