/*
 * store.c: the store role's event loop (store_main), its channels (the
 * parent's, and one per dispatcher handed over with IMSG_CTL_ADD_CHANNEL),
 * the table that sends each request to its handler, and the replies every
 * handler shares. The handlers live in the files named by their job:
 *
 *   store_user.c     LOGIN, LOGOUT: users and their sessions
 *   store_folders.c  LIST, CREATE, DELETE, RENAME, (UN)SUBSCRIBE, STATUS
 *   store_subs.c     the subscriptions file, a new user's special folders
 *   store_names.c    IMAP folder names <-> Maildir++ directories
 *   store_open.c     the open folders, shared by the sessions
 *   store_watch.c    inotify on the open folders: new mail, other tools
 *   store_view.c     SELECT, UNSELECT, UPDATES: the sessions' views
 *   store_set.c      sequence and UID sets resolved against a view
 *   store_fetch.c    FETCH;  store_flags.c  STORE
 *   store_cache.c    ENVELOPE, BODYSTRUCTURE, BODY and headers, cached
 *   store_search.c   SEARCH programs
 *   store_copy.c     COPY, MOVE, APPEND, EXPUNGE
 *
 * A request for a session that has not logged in is answered NO; one that
 * does not decode is logged and answered BAD. Replies go out in the order
 * of the requests, since every request is answered before the next is read.
 */
#include "store/store.h"

#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/config.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/readiness.h"
#include "lib/util.h"
#include "proto/ctl.h"
#include "store/store_private.h"

enum store_need {
	STORE_NEED_NONE,
	STORE_NEED_LOGIN,
	STORE_NEED_SELECTED,
};

struct store_command {
	uint32_t type, reply;
	enum store_need need;
	void (*handle)(struct store_req *r);
};

static const struct store_command store_commands[] = {
    {IMSG_STORE_LOGIN, IMSG_STORE_RESULT, STORE_NEED_NONE, store_user_login},
    {IMSG_STORE_LOGOUT, 0, STORE_NEED_LOGIN, store_user_logout},
    {IMSG_STORE_LIST, IMSG_STORE_LIST_RESULT, STORE_NEED_LOGIN, store_folders_list},
    {IMSG_STORE_MAILBOX, IMSG_STORE_RESULT, STORE_NEED_LOGIN, store_folders_mailbox},
    {IMSG_STORE_STATUS, IMSG_STORE_STATUS_RESULT, STORE_NEED_LOGIN, store_folders_status},
    {IMSG_STORE_SELECT, IMSG_STORE_SELECT_RESULT, STORE_NEED_LOGIN, store_view_select},
    {IMSG_STORE_UNSELECT, IMSG_STORE_RESULT, STORE_NEED_SELECTED, store_view_unselect},
    {IMSG_STORE_FETCH, IMSG_STORE_FETCH_DONE, STORE_NEED_SELECTED, store_fetch_handle},
    {IMSG_STORE_FLAGS, IMSG_STORE_FETCH_DONE, STORE_NEED_SELECTED, store_flags_handle},
    {IMSG_STORE_SEARCH, IMSG_STORE_SEARCH_RESULT, STORE_NEED_SELECTED, store_search_handle},
    {IMSG_STORE_COPY, IMSG_STORE_RESULT, STORE_NEED_SELECTED, store_copy_handle},
    {IMSG_STORE_APPEND, IMSG_STORE_RESULT, STORE_NEED_LOGIN, store_append_handle},
    {IMSG_STORE_EXPUNGE, IMSG_STORE_RESULT, STORE_NEED_SELECTED, store_expunge_handle},
    {IMSG_STORE_UPDATES, IMSG_STORE_UPDATES_RESULT, STORE_NEED_LOGIN, store_view_updates},
};

unsigned store_sessions_limit(const struct config *cfg)
{
	return cfg->imap.sessions_per_user;
}

const char *store_hostname(const struct store *s)
{
	return s->cfg->hostname;
}

void store_send(struct store_peer *p, uint32_t type, uint64_t id, struct ipc_writer *w, int fd)
{
	p->send(p->send_arg, type, id, w, fd);
}

void store_reply_result(const struct store_req *r, uint32_t status, const char *code,
                        const char *text)
{
	struct proto_store_result m = {.status = status};
	struct ipc_writer w;

	strlcpy_checked(m.code, code, sizeof(m.code));
	strlcpy_checked(m.text, text, sizeof(m.text));
	ipc_writer_init(&w);
	proto_store_result_encode(&m, &w);
	store_send(r->peer, IMSG_STORE_RESULT, r->id, &w, -1);
}

/* The status answers of the replies that are not RESULT. */
static void store_reply_other(const struct store_req *r, struct ipc_writer *w, uint32_t status,
                              const char *code, const char *text)
{
	switch (r->reply) {
	case IMSG_STORE_LIST_RESULT: {
		struct proto_store_list_result m = {.status = status};
		strlcpy_checked(m.text, text, sizeof(m.text));
		proto_store_list_result_encode(&m, w);
		break;
	}
	case IMSG_STORE_STATUS_RESULT: {
		struct proto_store_status_result m = {.status = status};
		strlcpy_checked(m.code, code, sizeof(m.code));
		strlcpy_checked(m.text, text, sizeof(m.text));
		proto_store_status_result_encode(&m, w);
		break;
	}
	case IMSG_STORE_SELECT_RESULT: {
		struct proto_store_select_result m = {.status = status, .vanished = ""};
		strlcpy_checked(m.code, code, sizeof(m.code));
		strlcpy_checked(m.text, text, sizeof(m.text));
		proto_store_select_result_encode(&m, w);
		break;
	}
	case IMSG_STORE_FETCH_DONE: {
		struct proto_store_fetch_done m = {
		    .status = status, .vanished = "", .modified = ""};
		strlcpy_checked(m.code, code, sizeof(m.code));
		strlcpy_checked(m.text, text, sizeof(m.text));
		proto_store_fetch_done_encode(&m, w);
		break;
	}
	case IMSG_STORE_SEARCH_RESULT: {
		struct proto_store_search_result m = {.status = status};
		strlcpy_checked(m.code, code, sizeof(m.code));
		strlcpy_checked(m.text, text, sizeof(m.text));
		proto_store_search_result_encode(&m, w);
		break;
	}
	default: { /* UPDATES_RESULT has no status: nothing changed */
		struct proto_store_updates_result m = {.vanished = ""};
		proto_store_updates_result_encode(&m, w);
	}
	}
}

void store_reply_status(const struct store_req *r, uint32_t status, const char *code,
                        const char *text)
{
	struct ipc_writer w;

	if (r->reply == 0)
		return; /* LOGOUT has no answer */
	if (r->reply == IMSG_STORE_RESULT) {
		store_reply_result(r, status, code, text);
		return;
	}
	ipc_writer_init(&w);
	store_reply_other(r, &w, status, code, text);
	store_send(r->peer, r->reply, r->id, &w, -1);
}

void store_reply_bad(const struct store_req *r, const char *why)
{
	char v[PROTO_STORE_TEXT_MAX];

	log_error("event=ipc-error type=%u session=%llu reason=%s", r->type,
	          (unsigned long long)r->id, log_value(why, v, sizeof(v)));
	store_reply_status(r, PROTO_STORE_BAD, "", "Malformed request");
}

void store_request(struct store_peer *p, uint32_t type, uint64_t id, const void *data, size_t len,
                   int fd)
{
	struct store_req r = {
	    .peer = p, .id = id, .type = type, .data = data, .len = len, .fd = fd};
	const struct store_command *c = NULL;
	size_t i;

	for (i = 0; i < sizeof(store_commands) / sizeof(store_commands[0]); i++)
		if (store_commands[i].type == type)
			c = &store_commands[i];
	if (c == NULL) {
		log_error("event=ipc-error reason=\"unexpected message %u from dispatcher\"", type);
		if (fd >= 0)
			close(fd);
		return;
	}
	r.reply = c->reply;
	r.session = store_session_find(p, id);
	if (c->need != STORE_NEED_NONE && r.session == NULL)
		store_reply_status(&r, PROTO_STORE_NO, "", "Not logged in");
	else if (c->need == STORE_NEED_SELECTED && r.session->folder == NULL)
		store_reply_status(&r, PROTO_STORE_NO, "", "No folder selected");
	else {
		c->handle(&r);
		return; /* the handler closes r.fd */
	}
	if (fd >= 0)
		close(fd);
}

/* ---- the store and its peers ---- */

struct store *store_new(struct event_base *base, const struct config *cfg)
{
	struct store *s = xcalloc(1, sizeof(*s));

	s->base = base;
	s->cfg = cfg;
	s->sessions_per_user = store_sessions_limit(cfg);
	LIST_INIT(&s->users);
	LIST_INIT(&s->folders);
	LIST_INIT(&s->peers);
	s->watch = store_watch_new(s);
	return s;
}

void store_free(struct store **sp)
{
	struct store *s = *sp;
	struct store_peer *p;

	if (s == NULL)
		return;
	while ((p = LIST_FIRST(&s->peers)) != NULL)
		store_peer_free(&p);
	/* the folders no session uses any more, kept open for the next SELECT */
	store_folders_close_idle(s);
	store_watch_free(&s->watch);
	free(s);
	*sp = NULL;
}

struct store_peer *store_peer_new(struct store *s, store_send_fn *send, void *arg)
{
	struct store_peer *p = xcalloc(1, sizeof(*p));
	unsigned i;

	p->store = s;
	p->send = send;
	p->send_arg = arg;
	for (i = 0; i < STORE_SESSION_BUCKETS; i++)
		LIST_INIT(&p->buckets[i]);
	LIST_INSERT_HEAD(&s->peers, p, entry);
	return p;
}

/* Every session of the peer ends with it. */
void store_peer_free(struct store_peer **pp)
{
	struct store_peer *p = *pp;
	struct store_session *sess;
	unsigned i;

	if (p == NULL)
		return;
	for (i = 0; i < STORE_SESSION_BUCKETS; i++)
		while ((sess = LIST_FIRST(&p->buckets[i])) != NULL)
			store_session_free(sess);
	LIST_REMOVE(p, entry);
	if (p->ch != NULL)
		ipc_channel_free(&p->ch);
	free(p);
	*pp = NULL;
}

/* ---- the role: channels ---- */

struct store_role {
	struct config cfg;
	struct event_base *base;
	struct store *store;
};

static void store_channel_send(void *arg, uint32_t type, uint64_t id, struct ipc_writer *w, int fd)
{
	struct store_peer *p = arg;

	proto_send(p->ch, type, id, w, fd);
}

static void store_channel_handler(struct ipc_channel *ch, uint32_t type, uint64_t id,
                                  const void *data, size_t len, int fd, void *arg)
{
	store_request(arg, type, id, data, len, fd);
}

/* A dispatcher went away: its sessions end (store_peer_free). */
static void store_channel_closed(struct ipc_channel *ch, void *arg)
{
	struct store_peer *p = arg;

	store_peer_free(&p);
}

static void store_add_channel(struct store_role *role, int fd)
{
	struct store_peer *p = store_peer_new(role->store, store_channel_send, NULL);

	p->send_arg = p;
	p->ch = ipc_channel_new(role->base, fd, store_channel_handler, store_channel_closed, p);
}

static void store_parent_handler(struct ipc_channel *ch, uint32_t type, uint64_t id,
                                 const void *data, size_t len, int fd, void *arg)
{
	struct store_role *role = arg;
	struct proto_ctl_config cfg_msg;
	const char *why;

	if (type == IMSG_CTL_ADD_CHANNEL && fd >= 0 &&
	    proto_ctl_add_channel_decode(data, len, &why) == 0) {
		store_add_channel(role, fd);
		return;
	}
	if (type == IMSG_CTL_CONFIG && proto_ctl_config_decode(&cfg_msg, data, len, &why) == 0) {
		/* the file's text: parsed here, kept only if good */
		config_reload_text(&role->cfg, cfg_msg.path, cfg_msg.text, cfg_msg.text_len);
		role->store->sessions_per_user = store_sessions_limit(&role->cfg);
	} else if (type == IMSG_CTL_CONFIG) {
		log_error("event=reload-failed reason=\"%s\"", why);
	} else {
		log_error("event=ipc-error reason=\"unexpected message %u from parent\"", type);
	}
	if (fd >= 0)
		close(fd);
}

static void store_parent_closed(struct ipc_channel *ch, void *arg)
{
	struct store_role *role = arg;

	event_base_loopexit(role->base, NULL);
}

static void store_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct store_role *role = arg;

	event_base_loopexit(role->base, NULL);
}

int store_main(const struct config *cfg, int parent_fd)
{
	struct store_role *role = xcalloc(1, sizeof(*role));
	struct event *ev_term, *ev_int;

	memcpy(&role->cfg, cfg, sizeof(role->cfg));
	if (mkdir_p("mail", 0700) < 0)
		log_error("event=store-error reason=\"cannot create mail/\"");
	role->base = event_base_new();
	role->store = store_new(role->base, &role->cfg);
	ev_term = evsignal_new(role->base, SIGTERM, store_signal_cb, role);
	ev_int = evsignal_new(role->base, SIGINT, store_signal_cb, role);
	event_add(ev_term, NULL);
	event_add(ev_int, NULL);
	ipc_channel_new(role->base, parent_fd, store_parent_handler, store_parent_closed, role);
	readiness_report(); /* the parent waits for it before READY=1 */
	event_base_dispatch(role->base);
	store_free(&role->store);
	log_info("event=stopped");
	return 0;
}
