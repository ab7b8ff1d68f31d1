/*
 * test_store_harness.h: what the store role's unit tests share: a store
 * in a fresh data directory, a peer whose replies are captured in order,
 * typed requests built with proto/store.h's encoders, and deliveries
 * dropped into new/ as the queue makes them. Included by test_store*.c.
 */
#ifndef TEST_STORE_HARNESS_H
#define TEST_STORE_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/config.h"
#include "lib/ipc.h"
#include "lib/util.h"
#include "proto/store.h"
#include "store/store.h"

#define H_REPLIES_MAX 4096

struct h_reply {
	uint32_t type;
	uint64_t id;
	unsigned char *data;
	size_t len;
	int fd;
};

struct harness {
	char dir[256], old_cwd[4096];
	struct config cfg;
	struct event_base *base;
	struct store *store;
	struct store_peer *peer;
	struct h_reply r[H_REPLIES_MAX];
	unsigned n, next; /* captured, and the next to look at */
	unsigned delivered;
};

static inline void h_capture(void *arg, uint32_t type, uint64_t id, struct ipc_writer *w, int fd)
{
	struct harness *h = arg;
	struct h_reply *r;

	assert_true(h->n < H_REPLIES_MAX);
	r = &h->r[h->n++];
	r->type = type;
	r->id = id;
	r->len = w->len;
	r->data = xmalloc(w->len + 1);
	if (w->len > 0)
		memcpy(r->data, w->buf, w->len);
	r->fd = fd;
	ipc_writer_free(w);
}

static inline void h_clear(struct harness *h)
{
	unsigned i;

	for (i = 0; i < h->n; i++) {
		free(h->r[i].data);
		if (h->r[i].fd >= 0)
			close(h->r[i].fd);
	}
	h->n = h->next = 0;
}

static inline int h_rm(const char *path)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	return system(cmd);
}

static inline int h_setup(void **state)
{
	struct harness *h = xcalloc(1, sizeof(*h));

	strcpy(h->dir, "/tmp/test_store.XXXXXX");
	assert_non_null(mkdtemp(h->dir));
	assert_non_null(getcwd(h->old_cwd, sizeof(h->old_cwd)));
	assert_int_equal(chdir(h->dir), 0);
	strcpy(h->cfg.hostname, "test.example");
	h->cfg.imap.sessions_per_user = 3;
	h->base = event_base_new();
	h->store = store_new(h->base, &h->cfg);
	h->peer = store_peer_new(h->store, h_capture, h);
	*state = h;
	return 0;
}

static inline int h_teardown(void **state)
{
	struct harness *h = *state;

	store_peer_free(&h->peer);
	store_free(&h->store);
	event_base_free(h->base);
	h_clear(h);
	assert_int_equal(chdir(h->old_cwd), 0);
	h_rm(h->dir);
	free(h);
	return 0;
}

/* Sends TYPE with the payload of W (freed) and FD. */
static inline void h_send(struct harness *h, uint32_t type, uint64_t id, struct ipc_writer *w,
                          int fd)
{
	store_request(h->peer, type, id, w->buf, w->len, fd);
	ipc_writer_free(w);
}

/* The next captured reply, which must be of TYPE. */
static inline struct h_reply *h_take(struct harness *h, uint32_t type)
{
	assert_true(h->next < h->n);
	assert_int_equal(h->r[h->next].type, type);
	return &h->r[h->next++];
}

static inline void h_none_left(struct harness *h)
{
	assert_int_equal(h->next, h->n);
}

/* The next reply as a RESULT; checks STATUS and returns it. */
static inline struct proto_store_result h_result(struct harness *h, uint32_t status)
{
	struct h_reply *r = h_take(h, IMSG_STORE_RESULT);
	struct proto_store_result m;
	const char *why;

	assert_int_equal(proto_store_result_decode(&m, r->data, r->len, &why), 0);
	if (m.status != status)
		fail_msg("status %u, wanted %u: [%s] %s", m.status, status, m.code, m.text);
	return m;
}

static inline void h_login(struct harness *h, uint64_t id, const char *user, uint32_t service)
{
	struct proto_store_login m = {.service = service};
	struct ipc_writer w;

	strlcpy_checked(m.user, user, sizeof(m.user));
	ipc_writer_init(&w);
	proto_store_login_encode(&m, &w);
	h_send(h, IMSG_STORE_LOGIN, id, &w, -1);
}

static inline void h_mailbox(struct harness *h, uint64_t id, uint32_t op, const char *name,
                             const char *new_name)
{
	struct proto_store_mailbox m = {.op = op};
	struct ipc_writer w;

	strlcpy_checked(m.name, name, sizeof(m.name));
	strlcpy_checked(m.new_name, new_name, sizeof(m.new_name));
	ipc_writer_init(&w);
	proto_store_mailbox_encode(&m, &w);
	h_send(h, IMSG_STORE_MAILBOX, id, &w, -1);
}

static inline void h_list(struct harness *h, uint64_t id, int subscribed_only,
                          struct proto_store_list_result *res)
{
	struct proto_store_list m = {.subscribed_only = (uint32_t)subscribed_only};
	struct ipc_writer w;
	struct h_reply *r;
	const char *why;

	ipc_writer_init(&w);
	proto_store_list_encode(&m, &w);
	h_send(h, IMSG_STORE_LIST, id, &w, -1);
	r = h_take(h, IMSG_STORE_LIST_RESULT);
	assert_int_equal(proto_store_list_result_decode(res, r->data, r->len, &why), 0);
}

/* The attributes of NAME in RES, or -1 when it is not listed. */
static inline long h_attrs(const struct proto_store_list_result *res, const char *name)
{
	unsigned i;

	for (i = 0; i < res->n_folders; i++)
		if (strcmp(res->folders[i].name, name) == 0)
			return res->folders[i].attrs;
	return -1;
}

/* SELECT (or EXAMINE, or POP3): the answer decoded into *RES. Items sent
 * before it (QRESYNC) stay to be taken before. */
static inline void h_select_req(struct harness *h, uint64_t id, const char *name, int readonly,
                                int pop3, uint32_t uidvalidity, uint64_t modseq, const char *known)
{
	struct proto_store_select *m = xcalloc(1, sizeof(*m));
	struct ipc_writer w;

	strlcpy_checked(m->name, name, sizeof(m->name));
	m->readonly = (uint32_t)readonly;
	m->pop3 = (uint32_t)pop3;
	m->qresync_uidvalidity = uidvalidity;
	m->qresync_modseq = modseq;
	strlcpy_checked(m->qresync_known_uids, known, sizeof(m->qresync_known_uids));
	ipc_writer_init(&w);
	proto_store_select_encode(m, &w);
	h_send(h, IMSG_STORE_SELECT, id, &w, -1);
	free(m);
}

static inline void h_select_result(struct harness *h, struct proto_store_select_result *res)
{
	struct h_reply *r = h_take(h, IMSG_STORE_SELECT_RESULT);
	const char *why;

	assert_int_equal(proto_store_select_result_decode(res, r->data, r->len, &why), 0);
}

static inline void h_select(struct harness *h, uint64_t id, const char *name, int readonly,
                            struct proto_store_select_result *res)
{
	h_select_req(h, id, name, readonly, 0, 0, 0, "");
	h_select_result(h, res);
}

static inline void h_fetch(struct harness *h, uint64_t id, int uid, const char *set, uint32_t want,
                           uint32_t start, uint32_t max)
{
	struct proto_store_fetch *m = xcalloc(1, sizeof(*m));
	struct ipc_writer w;

	m->uid = (uint32_t)uid;
	strlcpy_checked(m->set, set, sizeof(m->set));
	m->want = want;
	m->start = start;
	m->max = max;
	ipc_writer_init(&w);
	proto_store_fetch_encode(m, &w);
	h_send(h, IMSG_STORE_FETCH, id, &w, -1);
	free(m);
}

static inline void h_flags(struct harness *h, uint64_t id, int uid, const char *set, uint32_t op,
                           uint32_t flags, const char *keywords, uint64_t unchangedsince)
{
	struct proto_store_flags *m = xcalloc(1, sizeof(*m));
	struct ipc_writer w;

	m->uid = (uint32_t)uid;
	strlcpy_checked(m->set, set, sizeof(m->set));
	m->op = op;
	m->flags = flags;
	strlcpy_checked(m->keywords, keywords, sizeof(m->keywords));
	m->unchangedsince = unchangedsince;
	m->max = PROTO_STORE_FETCH_BATCH;
	ipc_writer_init(&w);
	proto_store_flags_encode(m, &w);
	h_send(h, IMSG_STORE_FLAGS, id, &w, -1);
	free(m);
}

/* The next FETCH_ITEM, decoded (free with proto_store_item_free). */
static inline struct h_reply *h_item(struct harness *h, struct proto_store_item *it)
{
	struct h_reply *r = h_take(h, IMSG_STORE_FETCH_ITEM);
	const char *why;

	assert_int_equal(proto_store_item_decode(it, r->data, r->len, &why), 0);
	return r;
}

static inline void h_done(struct harness *h, struct proto_store_fetch_done *d)
{
	struct h_reply *r = h_take(h, IMSG_STORE_FETCH_DONE);
	const char *why;

	assert_int_equal(proto_store_fetch_done_decode(d, r->data, r->len, &why), 0);
}

static inline void h_updates(struct harness *h, uint64_t id, int expunges, int qresync,
                             struct proto_store_updates_result *res)
{
	struct proto_store_updates m = {.expunges = (uint32_t)expunges,
	                                .qresync = (uint32_t)qresync};
	struct ipc_writer w;

	ipc_writer_init(&w);
	proto_store_updates_encode(&m, &w);
	h_send(h, IMSG_STORE_UPDATES, id, &w, -1);
	(void)res;
}

static inline void h_updates_result(struct harness *h, struct proto_store_updates_result *res)
{
	struct h_reply *r = h_take(h, IMSG_STORE_UPDATES_RESULT);
	const char *why;

	assert_int_equal(proto_store_updates_result_decode(res, r->data, r->len, &why), 0);
}

/* Drops a message into DIR/new/ as a delivery would (LF line ends). */
static inline void h_deliver(struct harness *h, const char *dir, const char *text)
{
	char tmp[1024], path[1024];
	int fd;

	h->delivered++;
	snprintf(tmp, sizeof(tmp), "%s/tmp/17000000%02u.M1P1Q%u.test.example", dir, h->delivered,
	         h->delivered);
	snprintf(path, sizeof(path), "%s/new/17000000%02u.M1P1Q%u.test.example", dir, h->delivered,
	         h->delivered);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, text, strlen(text)), 0);
	close(fd);
	assert_int_equal(rename(tmp, path), 0);
}

/* How many files DIR holds whose names contain WHAT. */
static inline unsigned h_files_with(const char *dir, const char *what)
{
	struct dirent *de;
	unsigned n = 0;
	DIR *d = opendir(dir);

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.' && strstr(de->d_name, what) != NULL;
	closedir(d);
	return n;
}

#define H_USER "alice@example.com"
#define H_DIR "mail/example.com/alice"

#endif
