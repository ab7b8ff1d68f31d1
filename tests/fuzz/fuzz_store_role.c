/*
 * fuzz_store_role.c: libFuzzer harness for the store role (src/store/:
 * store.c and the files it calls, the mailbox index under them) as a
 * dispatcher's channel feeds it: a store made with store_new() in a data
 * directory emptied before each input, whose peer's replies are captured;
 * session 1 is logged in with INBOX selected and session 2 logged in,
 * with four messages delivered, before the input starts.
 *
 * Input: records as fuzz_ipc_input.h describes. Targets: 0 the record's
 * type and payload as they are (an fd, when asked, is a file holding the
 * payload); 1 a well-formed request built from the payload, its kind
 * chosen by TYPE (folder names, sets, flags and keywords picked from
 * tables of ordinary and hostile values or taken from the payload), so the
 * input reaches select, fetch, store, copy, search, expunge and append;
 * 2 a new delivery into INBOX (or the folder the payload names) and the
 * inotify flush; 3 the dispatcher hangs up and a new one logs session 1
 * in again. ID mode 1 or 2 makes the id a session number 1 to 3.
 *
 * Every reply must decode with the codec of its type and only FETCH_ITEM
 * may carry a file; the store must close every fd it was given; after
 * each input nothing may exist outside the data directory (it sits at the
 * bottom of a chain of directories that must stay as they are: a name
 * that escaped with "../" would show there).
 */
#include <dirent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/config.h"
#include "fuzz_ipc_input.h"
#include "lib/ipc.h"
#include "lib/util.h"
#include "proto/proto.h"
#include "proto/store.h"
#include "store/store.h"

#define USER "alice@example.com"
#define USER_DIR "mail/example.com/alice"
#define JAIL "jail/j1/j2/j3/j4"
#define JAIL_DEPTH 5 /* jail, j1 ... j4; data below */
#define DATA_DIR JAIL "/data"
#define REPLIES_MAX 100000
#define N_KINDS 14

static struct config cfg;
static int show; /* FUZZ_SHOW=1: each reply's type (and a RESULT's text) goes to fd 2 */

static const char *const names[] = {"INBOX",
                                    "Sent",
                                    "Trash",
                                    "Drafts",
                                    "Work",
                                    "Work/Sub",
                                    "inbox",
                                    "INBOX/child",
                                    "New",
                                    "../x",
                                    "a/../../b",
                                    "..",
                                    ".",
                                    "a/./b",
                                    "/abs",
                                    "a//b",
                                    "a/",
                                    "",
                                    "Sent/../..",
                                    "../../../../../../../../x",
                                    "a.b",
                                    "\xc3\xa9t\xc3\xa9",
                                    "&AOk-",
                                    "cur",
                                    "new",
                                    "tmp",
                                    "Work/..",
                                    "x\x01y",
                                    "*",
                                    "%",
                                    "a\\b",
                                    "\xff\xfe",
                                    "maildirfolder",
                                    "~",
                                    "-",
                                    "Archive",
                                    "Junk",
                                    "INBOX/../../x",
                                    "..a",
                                    "a..",
                                    "Trash/Sub/Deep/Deeper"};
#define N_NAMES (sizeof(names) / sizeof(names[0]))

static const char *const sets[] = {
    "1",   "1:*", "*",  "2:3",         "1,3",  "4294967295", "0",    "1:4294967295",
    "5:1", "$",   "",   "1:2,2:3,*:1", "10:*", "3",          "2",    "1:2",
    "4:*", ",",   "1:", ":",           "a",    "4294967296", "1,*,2"};
#define N_SETS (sizeof(sets) / sizeof(sets[0]))

static const char *const users[] = {USER,
                                    "bob@example.com",
                                    "ALICE@EXAMPLE.COM",
                                    "../x@example.com",
                                    "x@../..",
                                    "x@",
                                    "@y",
                                    "a/b@c",
                                    ".@.",
                                    "..@..",
                                    "",
                                    "nobody",
                                    "a@b/../../c",
                                    "very.long.local.part@example.com"};
#define N_USERS (sizeof(users) / sizeof(users[0]))

static const char *const texts[] = {"",        "$Forwarded", "$Label1 $Label2", "a b c",
                                    "\\Seen",  "bad(kw",     "x y x",           "alice",
                                    "Subject", "body",       "\xc3\xa9"};
#define N_TEXTS (sizeof(texts) / sizeof(texts[0]))

static const char message[] = "From: Alice <alice@example.org>\r\n"
                              "Subject: hello\r\n"
                              "Date: Wed, 7 Feb 2024 10:20:30 +0100\r\n"
                              "\r\n"
                              "body text\r\n";

struct harness {
	struct event_base *base;
	struct store *store;
	struct store_peer *peer;
	unsigned replies, deliveries;
};

/* ---- replies ------------------------------------------------------------- */

static void check_reply(uint32_t type, const void *data, size_t len)
{
	union {
		struct proto_store_result result;
		struct proto_store_list_result list;
		struct proto_store_status_result status;
		struct proto_store_select_result select;
		struct proto_store_item item;
		struct proto_store_fetch_done done;
		struct proto_store_search_result search;
		struct proto_store_updates_result updates;
	} m;
	const char *why;

	if (show)
		dprintf(2, "reply %u (%zu octets)\n", type, len);
	switch (type) {
	case IMSG_STORE_RESULT:
		CHECK(proto_store_result_decode(&m.result, data, len, &why) == 0);
		if (show)
			dprintf(2, "  result %u [%s] %s\n", m.result.status, m.result.code,
			        m.result.text);
		break;
	case IMSG_STORE_LIST_RESULT:
		CHECK(proto_store_list_result_decode(&m.list, data, len, &why) == 0);
		proto_store_list_result_free(&m.list);
		break;
	case IMSG_STORE_STATUS_RESULT:
		CHECK(proto_store_status_result_decode(&m.status, data, len, &why) == 0);
		break;
	case IMSG_STORE_SELECT_RESULT:
		CHECK(proto_store_select_result_decode(&m.select, data, len, &why) == 0);
		proto_store_select_result_free(&m.select);
		break;
	case IMSG_STORE_FETCH_ITEM:
		CHECK(proto_store_item_decode(&m.item, data, len, &why) == 0);
		proto_store_item_free(&m.item);
		break;
	case IMSG_STORE_FETCH_DONE:
		CHECK(proto_store_fetch_done_decode(&m.done, data, len, &why) == 0);
		proto_store_fetch_done_free(&m.done);
		break;
	case IMSG_STORE_SEARCH_RESULT:
		CHECK(proto_store_search_result_decode(&m.search, data, len, &why) == 0);
		proto_store_search_result_free(&m.search);
		break;
	case IMSG_STORE_UPDATES_RESULT:
		CHECK(proto_store_updates_result_decode(&m.updates, data, len, &why) == 0);
		proto_store_updates_result_free(&m.updates);
		break;
	case IMSG_STORE_CHANGED:
		CHECK(len == 0);
		break;
	default:
		CHECK(0); /* the store sends nothing else to a dispatcher */
	}
}

static void capture(void *arg, uint32_t type, uint64_t id, struct ipc_writer *w, int fd)
{
	struct harness *h = arg;

	CHECK(++h->replies <= REPLIES_MAX);
	CHECK(w->len <= IPC_MAX_PAYLOAD);
	check_reply(type, w->buf, w->len);
	CHECK(fd < 0 || type == IMSG_STORE_FETCH_ITEM);
	if (fd >= 0) {
		struct stat st;
		CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode));
		close(fd);
	}
	ipc_writer_free(w);
}

/* ---- requests ------------------------------------------------------------ */

/* The payload read as the parts of a request. */
struct reader {
	const uint8_t *p;
	size_t left;
};

static unsigned take8(struct reader *r)
{
	if (r->left == 0)
		return 0;
	r->left--;
	return *r->p++;
}

static uint32_t take32(struct reader *r)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t)take8(r) << (8 * i);
	return v;
}

/* A string: from TABLE, or (a first octet from 0xf0 on) the next octets
 * as they are, as many as the second octet says (NULs cut it short). */
static void take_text(struct reader *r, const char *const *table, size_t n, char *out, size_t size)
{
	unsigned b = take8(r);
	size_t len, i;

	if (b < 0xf0 || r->left == 0) {
		snprintf(out, size, "%s", table[b % n]);
		return;
	}
	len = take8(r);
	if (b == 0xff)
		len = len * 8; /* long names */
	for (i = 0; i < len && i + 1 < size; i++)
		out[i] = r->left > 0 ? (char)take8(r) : 'x';
	out[i] = '\0';
}

static void send_built(struct harness *h, uint32_t type, uint64_t id, struct ipc_writer *w, int fd)
{
	store_request(h->peer, type, id, w->buf, w->len, fd);
	ipc_writer_free(w);
}

static void build_select(struct harness *h, uint64_t id, struct reader *r)
{
	struct proto_store_select *m = xcalloc(1, sizeof(*m));
	struct ipc_writer w;
	unsigned b;

	take_text(r, names, N_NAMES, m->name, sizeof(m->name));
	b = take8(r);
	m->readonly = b & 1;
	m->pop3 = (b >> 1) & 1;
	if (b & 4) {
		m->qresync_uidvalidity = take32(r);
		m->qresync_modseq = take32(r);
		take_text(r, sets, N_SETS, m->qresync_known_uids, sizeof(m->qresync_known_uids));
	}
	ipc_writer_init(&w);
	proto_store_select_encode(m, &w);
	free(m);
	send_built(h, IMSG_STORE_SELECT, id, &w, -1);
}

static void build_fetch(struct harness *h, uint64_t id, struct reader *r)
{
	struct proto_store_fetch *m = xcalloc(1, sizeof(*m));
	struct ipc_writer w;
	unsigned b = take8(r);

	m->uid = b & 1;
	m->vanished = (b >> 1) & 1;
	take_text(r, sets, N_SETS, m->set, sizeof(m->set));
	m->want = take32(r) & 0x3ff;
	m->changedsince = (b & 4) ? take8(r) : 0;
	m->start = (b & 8) ? take8(r) : 0;
	m->max = (b & 16) ? take32(r) : PROTO_STORE_FETCH_BATCH;
	ipc_writer_init(&w);
	proto_store_fetch_encode(m, &w);
	free(m);
	send_built(h, IMSG_STORE_FETCH, id, &w, -1);
}

static void build_flags(struct harness *h, uint64_t id, struct reader *r)
{
	struct proto_store_flags *m = xcalloc(1, sizeof(*m));
	struct ipc_writer w;
	unsigned b = take8(r);

	m->uid = b & 1;
	m->op = (b >> 1) % 4; /* 3: not an operation */
	take_text(r, sets, N_SETS, m->set, sizeof(m->set));
	m->flags = take8(r) & ((b & 8) ? 0xff : STORE_FLAGS_SETTABLE);
	take_text(r, texts, N_TEXTS, m->keywords, sizeof(m->keywords));
	m->unchangedsince = (b & 16) ? take8(r) : 0;
	m->start = (b & 32) ? take8(r) : 0;
	m->max = (b & 64) ? take32(r) : PROTO_STORE_FETCH_BATCH;
	ipc_writer_init(&w);
	proto_store_flags_encode(m, &w);
	free(m);
	send_built(h, IMSG_STORE_FLAGS, id, &w, -1);
}

static void build_search(struct harness *h, uint64_t id, struct reader *r)
{
	struct proto_store_search_node nodes[16];
	struct proto_store_search m = {.nodes = nodes};
	char args[16][128];
	struct ipc_writer w;
	unsigned b = take8(r), n = 1 + (b >> 1) % 16;

	m.uid = b & 1;
	memset(nodes, 0, sizeof(nodes));
	for (unsigned i = 0; i < n; i++) {
		unsigned k = take8(r);
		nodes[i].key = k % (SEARCH_YOUNGER + 2);
		nodes[i].count = k >> 6;
		nodes[i].number = take8(r) * (uint64_t)((k & 32) ? 86400 : 1);
		if (k & 16)
			nodes[i].number += 1700000000;
		take_text(r, texts, N_TEXTS, nodes[i].field, sizeof(nodes[i].field));
		if (nodes[i].key == SEARCH_SEQSET || nodes[i].key == SEARCH_UIDSET)
			take_text(r, sets, N_SETS, args[i], sizeof(args[i]));
		else
			take_text(r, texts, N_TEXTS, args[i], sizeof(args[i]));
		nodes[i].arg = args[i];
	}
	m.n_nodes = n;
	ipc_writer_init(&w);
	proto_store_search_encode(&m, &w);
	send_built(h, IMSG_STORE_SEARCH, id, &w, -1);
}

/* A file holding the rest of the payload, or the message when it is empty. */
static int message_fd(struct reader *r, uint64_t *size_r)
{
	char path[] = "../../../../../../append.XXXXXX"; /* beside the jail, not in it */
	const void *data = r->left > 0 ? (const void *)r->p : message;
	size_t len = r->left > 0 ? r->left : sizeof(message) - 1;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	unlink(path);
	CHECK(write_all(fd, data, len) == 0);
	lseek(fd, 0, SEEK_SET);
	*size_r = len;
	r->left = 0;
	return fd;
}

static void build_append(struct harness *h, uint64_t id, struct reader *r)
{
	struct proto_store_append m = {0};
	struct ipc_writer w;
	unsigned b;
	int fd;

	take_text(r, names, N_NAMES, m.mailbox, sizeof(m.mailbox));
	b = take8(r);
	m.flags = b & ((b & 0x80) ? 0xff : STORE_FLAGS_SETTABLE);
	take_text(r, texts, N_TEXTS, m.keywords, sizeof(m.keywords));
	m.internaldate = (b & 0x40) ? (int64_t)take32(r) : 0;
	m.tz_minutes = (int32_t)(take8(r) * 7) - 900;
	fd = message_fd(r, &m.size);
	if (b & 0x20)
		m.size += take8(r) + 1; /* a size that is not the file's */
	ipc_writer_init(&w);
	proto_store_append_encode(&m, &w);
	send_built(h, IMSG_STORE_APPEND, id, &w, (b & 0x10) ? -1 : fd);
	if (b & 0x10)
		close(fd);
}

static void build_mailbox(struct harness *h, uint64_t id, struct reader *r, unsigned b)
{
	struct proto_store_mailbox m = {.op = b % 6};
	struct ipc_writer w;

	take_text(r, names, N_NAMES, m.name, sizeof(m.name));
	if (m.op == STORE_MAILBOX_RENAME)
		take_text(r, names, N_NAMES, m.new_name, sizeof(m.new_name));
	ipc_writer_init(&w);
	proto_store_mailbox_encode(&m, &w);
	send_built(h, IMSG_STORE_MAILBOX, id, &w, -1);
}

static void build_small(struct harness *h, unsigned kind, uint64_t id, struct reader *r)
{
	struct ipc_writer w;
	unsigned b = take8(r);

	ipc_writer_init(&w);
	if (kind == 0) {
		struct proto_store_login m = {.service = b % 3};
		take_text(r, users, N_USERS, m.user, sizeof(m.user));
		proto_store_login_encode(&m, &w);
		send_built(h, IMSG_STORE_LOGIN, id, &w, -1);
	} else if (kind == 1) {
		send_built(h, IMSG_STORE_LOGOUT, id, &w, -1);
	} else if (kind == 2) {
		struct proto_store_list m = {.subscribed_only = b & 1};
		proto_store_list_encode(&m, &w);
		send_built(h, IMSG_STORE_LIST, id, &w, -1);
	} else if (kind == 4) {
		struct proto_store_status m;
		take_text(r, names, N_NAMES, m.name, sizeof(m.name));
		proto_store_status_encode(&m, &w);
		send_built(h, IMSG_STORE_STATUS, id, &w, -1);
	} else if (kind == 6) {
		struct proto_store_unselect m = {.expunge = b & 1};
		proto_store_unselect_encode(&m, &w);
		send_built(h, IMSG_STORE_UNSELECT, id, &w, -1);
	} else if (kind == 10) {
		struct proto_store_copy *m = xcalloc(1, sizeof(*m));
		m->uid = b & 1;
		m->move = (b >> 1) & 1;
		take_text(r, sets, N_SETS, m->set, sizeof(m->set));
		take_text(r, names, N_NAMES, m->destination, sizeof(m->destination));
		proto_store_copy_encode(m, &w);
		free(m);
		send_built(h, IMSG_STORE_COPY, id, &w, -1);
	} else if (kind == 12) {
		struct proto_store_expunge *m = xcalloc(1, sizeof(*m));
		m->uid_only = b & 1;
		take_text(r, sets, N_SETS, m->uids, sizeof(m->uids));
		proto_store_expunge_encode(m, &w);
		free(m);
		send_built(h, IMSG_STORE_EXPUNGE, id, &w, -1);
	} else {
		struct proto_store_updates m = {.expunges = b & 1, .qresync = (b >> 1) & 1};
		proto_store_updates_encode(&m, &w);
		send_built(h, IMSG_STORE_UPDATES, id, &w, -1);
	}
}

/* A well-formed request of kind TYPE % N_KINDS built from the payload. */
static void build_request(struct harness *h, uint32_t type, uint64_t id, const uint8_t *p,
                          size_t len)
{
	struct reader r = {p, len};
	unsigned kind = type % N_KINDS;

	switch (kind) {
	case 3:
		build_mailbox(h, id, &r, type / N_KINDS);
		break;
	case 5:
		build_select(h, id, &r);
		break;
	case 7:
		build_fetch(h, id, &r);
		break;
	case 8:
		build_flags(h, id, &r);
		break;
	case 9:
		build_search(h, id, &r);
		break;
	case 11:
		build_append(h, id, &r);
		break;
	default:
		build_small(h, kind, id, &r);
	}
}

/* ---- the data directory -------------------------------------------------- */

/* Drops a message into DIR/new/ as the queue does. */
static void deliver(struct harness *h, const char *dir)
{
	char tmp[1200], path[1200];
	int fd;

	h->deliveries++;
	snprintf(tmp, sizeof(tmp), "%s/tmp/1700000%03u.M1P1Q%u.fuzz", dir, h->deliveries,
	         h->deliveries);
	snprintf(path, sizeof(path), "%s/new/1700000%03u.M1P1Q%u.fuzz", dir, h->deliveries,
	         h->deliveries);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return; /* no such folder */
	CHECK(write_all(fd, "Subject: delivered\n\nnew mail\n", 29) == 0);
	close(fd);
	if (rename(tmp, path) < 0)
		unlink(tmp);
}

static void turns(struct harness *h, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		event_base_loop(h->base, EVLOOP_NONBLOCK);
}

static void login(struct harness *h, uint64_t id)
{
	struct reader r = {(const uint8_t *)"\0\0", 2};

	build_small(h, 0, id, &r); /* LOGIN USER, IMAP */
}

static void select_inbox(struct harness *h, uint64_t id)
{
	struct reader r = {(const uint8_t *)"\0\0", 2};

	build_select(h, id, &r);
}

/* DIR holds exactly one entry, ONLY (NULL: none). */
static void check_only(const char *dir, const char *only)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned n = 0;

	CHECK(d != NULL);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		CHECK(only != NULL && strcmp(de->d_name, only) == 0);
		n++;
	}
	closedir(d);
	CHECK(n == (only != NULL));
}

/* Nothing escaped the data directory: the chain above it is unchanged. */
static void check_jail(void)
{
	static const char *const chain[JAIL_DEPTH + 1] = {"jail", "j1", "j2", "j3", "j4", "data"};
	char dir[256] = ".";

	for (unsigned i = 0; i <= JAIL_DEPTH; i++) {
		check_only(dir, chain[i]);
		snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/%s", chain[i]);
	}
}

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

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	config_defaults(&cfg);
	snprintf(cfg.hostname, sizeof(cfg.hostname), "store.test");
	cfg.imap.sessions_per_user = 3;
	show = getenv("FUZZ_SHOW") != NULL;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	struct fuzz_record rec;
	struct harness h = {0};
	unsigned fds = open_fds();
	int back = fuzz_scratch_enter();

	CHECK(mkdir("jail", 0700) == 0 && mkdir("jail/j1", 0700) == 0 &&
	      mkdir("jail/j1/j2", 0700) == 0 && mkdir("jail/j1/j2/j3", 0700) == 0 &&
	      mkdir(JAIL, 0700) == 0 && mkdir(DATA_DIR, 0700) == 0 && chdir(DATA_DIR) == 0);
	h.base = event_base_new();
	h.store = store_new(h.base, &cfg);
	h.peer = store_peer_new(h.store, capture, &h);
	login(&h, 1);
	login(&h, 2);
	for (int i = 0; i < 4; i++)
		deliver(&h, USER_DIR);
	select_inbox(&h, 1);
	while (fuzz_next_record(&in, &rec)) {
		uint64_t id = rec.id;
		int fd = -1;

		if (FUZZ_OP_IDMODE(rec.op) == FUZZ_ID_REF ||
		    FUZZ_OP_IDMODE(rec.op) == FUZZ_ID_REF_NAMED)
			id = 1 + rec.id % 3;
		switch (FUZZ_OP_TARGET(rec.op)) {
		case 0:
			if (FUZZ_OP_FD(rec.op)) {
				struct reader r = {rec.payload, rec.len};
				uint64_t ignored;
				fd = message_fd(&r, &ignored);
			}
			store_request(h.peer, rec.type, id, rec.payload, rec.len, fd);
			break;
		case 1:
			build_request(&h, rec.type, id, rec.payload, rec.len);
			break;
		case 2:
			if (rec.len > 0 && rec.payload[0] < N_NAMES && rec.payload[0] > 0) {
				char dir[1024];
				snprintf(dir, sizeof(dir), USER_DIR "/.%s", names[rec.payload[0]]);
				deliver(&h, dir);
			} else {
				deliver(&h, USER_DIR);
			}
			store_watch_flush(h.store);
			break;
		case 3:
			store_peer_free(&h.peer);
			h.peer = store_peer_new(h.store, capture, &h);
			login(&h, 1);
			break;
		}
		turns(&h, FUZZ_OP_TURNS(rec.op));
	}
	store_watch_flush(h.store);
	turns(&h, 2);
	store_peer_free(&h.peer);
	store_free(&h.store);
	event_base_free(h.base);
	CHECK(chdir("../../../../../..") == 0);
	check_jail();
	fuzz_scratch_leave(back);
	CHECK(open_fds() == fds); /* every fd handed in was taken */
	return 0;
}
