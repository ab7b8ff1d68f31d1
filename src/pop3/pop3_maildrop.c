/*
 * pop3_maildrop.c: the POP3 session's conversation with the store role
 * (proto/store.h) about its maildrop: after the password was accepted,
 * IMSG_STORE_LOGIN (service POP3), IMSG_STORE_SELECT of INBOX with pop3 =
 * 1 (exclusive: a second POP3 session is answered -ERR [IN-USE]), then
 * IMSG_STORE_FETCH "1:*" of the flags and sizes, in batches, into a compact
 * array (UID, size, DELE's mark); and QUIT's UPDATE state (RFC 1939 6):
 * +\Deleted on the marked UIDs with IMSG_STORE_FLAGS, then
 * IMSG_STORE_EXPUNGE of only those UIDs, in rounds of one UID set each.
 * Called by pop3_session.c and pop3_command.c.
 *
 * UIDL is "uidvalidity.uid": stable across sessions while the folder's
 * UIDVALIDITY holds, and the same messages IMAP shows in INBOX.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "lib/io.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/util.h"
#include "pop3/pop3_session_private.h"
#include "proto/store.h"

void pop3_maildrop_uidl(const struct pop3_session *s, unsigned index, char *buf, size_t size)
{
	snprintf(buf, size, "%u.%u", s->uidvalidity, s->msgs[index].uid);
}

void pop3_maildrop_open(struct pop3_session *s)
{
	struct proto_store_login m;
	struct ipc_writer w;

	memset(&m, 0, sizeof(m));
	strlcpy_checked(m.user, s->user, sizeof(m.user));
	m.service = STORE_SERVICE_POP3;
	ipc_writer_init(&w);
	proto_store_login_encode(&m, &w);
	s->store_login = 1; /* from now on the store may know us: LOGOUT at the end */
	s->wait = POP3_WAIT_LOGIN;
	pop3_store_send(s, IMSG_STORE_LOGIN, &w);
}

/* The maildrop could not be opened: the -ERR, and the end (a new login
 * on this connection would only meet the same refusal). */
static void pop3_maildrop_refused(struct pop3_session *s, const char *code, const char *text)
{
	log_info("event=pop3-maildrop session=%s result=refused code=%s", s->id,
	         code[0] ? code : "none");
	s->wait = POP3_WAIT_NONE;
	if (strcmp(code, "IN-USE") == 0)
		pop3_reply(s, "-ERR [IN-USE] Maildrop in use by another POP3 session");
	else
		pop3_reply(s, "-ERR [SYS/TEMP] %s", text[0] ? text : "Cannot open the maildrop");
	pop3_close_after_reply(s);
}

static void pop3_maildrop_select(struct pop3_session *s)
{
	struct proto_store_select *m = xcalloc(1, sizeof(*m));
	struct ipc_writer w;

	strlcpy_checked(m->name, "INBOX", sizeof(m->name));
	m->pop3 = 1;
	ipc_writer_init(&w);
	proto_store_select_encode(m, &w);
	free(m);
	s->wait = POP3_WAIT_SELECT;
	pop3_store_send(s, IMSG_STORE_SELECT, &w);
}

/* Asks for the next batch of UIDs and sizes, or (QUIT) of the flags
 * change: START messages were reported already. */
static void pop3_maildrop_fetch(struct pop3_session *s, uint32_t start)
{
	struct proto_store_fetch *m = xcalloc(1, sizeof(*m));
	struct ipc_writer w;

	strlcpy_checked(m->set, "1:*", sizeof(m->set));
	m->want = STORE_WANT_FLAGS | STORE_WANT_SIZE;
	m->start = start;
	m->max = PROTO_STORE_FETCH_BATCH;
	ipc_writer_init(&w);
	proto_store_fetch_encode(m, &w);
	free(m);
	s->wait = POP3_WAIT_SCAN;
	pop3_store_send(s, IMSG_STORE_FETCH, &w);
}

/* The maildrop is open: TRANSACTION, with the idle time of a logged-in
 * session and no more login deadline. */
static void pop3_maildrop_ready(struct pop3_session *s)
{
	uint64_t size = 0;

	for (unsigned i = 0; i < s->n_msgs; i++)
		size += s->msgs[i].size;
	s->wait = POP3_WAIT_NONE;
	s->state = POP3_STATE_TRANSACTION;
	io_clear_deadline(s->io);
	io_set_timeout(s->io, s->env->cfg->imap.pop3_timeout);
	log_info("event=pop3-maildrop session=%s result=ok messages=%u size=%llu", s->id, s->n_msgs,
	         (unsigned long long)size);
	pop3_reply(s, "+OK Maildrop has %u messages (%llu octets)", s->n_msgs,
	           (unsigned long long)size);
}

void pop3_maildrop_selected(struct pop3_session *s, const void *data, size_t len)
{
	struct proto_store_select_result m;
	const char *why;

	if (proto_store_select_result_decode(&m, data, len, &why) < 0) {
		pop3_store_failed(s, why);
		return;
	}
	if (m.status != PROTO_STORE_OK) {
		pop3_maildrop_refused(s, m.code, m.text);
	} else if (m.exists > POP3_MESSAGES_MAX) {
		pop3_maildrop_refused(s, "", "Maildrop too large for POP3; use IMAP");
	} else {
		s->uidvalidity = m.uidvalidity;
		s->exists = m.exists;
		s->msgs_cap = m.exists > 0 ? m.exists : 1;
		s->msgs = xcalloc(s->msgs_cap, sizeof(s->msgs[0]));
		if (m.exists == 0)
			pop3_maildrop_ready(s);
		else
			pop3_maildrop_fetch(s, 0);
	}
	proto_store_select_result_free(&m);
}

/* One message of the scan: kept in UID order, as the store numbers them. */
static int pop3_maildrop_add(struct pop3_session *s, const struct proto_store_item *m)
{
	if (s->n_msgs >= POP3_MESSAGES_MAX || m->seq != s->n_msgs + 1 ||
	    (s->n_msgs > 0 && m->uid <= s->msgs[s->n_msgs - 1].uid))
		return -1;
	if (s->n_msgs == s->msgs_cap) {
		s->msgs_cap *= 2;
		s->msgs = xrealloc(s->msgs, s->msgs_cap * sizeof(s->msgs[0]));
	}
	s->msgs[s->n_msgs].uid = m->uid;
	s->msgs[s->n_msgs].size = m->size;
	s->msgs[s->n_msgs].deleted = 0;
	s->n_msgs++;
	return 0;
}

void pop3_maildrop_item(struct pop3_session *s, const void *data, size_t len)
{
	struct proto_store_item m;
	const char *why;

	if (proto_store_item_decode(&m, data, len, &why) < 0) {
		pop3_store_failed(s, why);
		return;
	}
	s->scan_items++;
	if (s->wait == POP3_WAIT_SCAN && pop3_maildrop_add(s, &m) < 0)
		pop3_store_failed(s, "a scanned message out of order");
	proto_store_item_free(&m);
}

/* The UID set of the marked messages from s->quit_next on, as long as it
 * fits one request; ranges join marked neighbours (a UID between two of
 * them that is not in the maildrop was expunged and is never used again).
 * Returns how many messages it names; *next_r is where the next round
 * starts. */
static unsigned pop3_quit_set(struct pop3_session *s, char *buf, size_t size, unsigned *next_r)
{
	size_t len = 0;
	unsigned i = s->quit_next, n = 0, j;

	buf[0] = '\0';
	while (i < s->n_msgs && len + POP3_SET_SLACK < size) {
		if (!s->msgs[i].deleted) {
			i++;
			continue;
		}
		for (j = i; j + 1 < s->n_msgs && s->msgs[j + 1].deleted; j++)
			;
		len += (size_t)snprintf(buf + len, size - len, j > i ? "%s%u:%u" : "%s%u",
		                        len ? "," : "", s->msgs[i].uid, s->msgs[j].uid);
		n += j - i + 1;
		i = j + 1;
	}
	*next_r = i;
	return n;
}

/* +\Deleted on the UIDs of this round's set; START of the messages it
 * changed were reported already (the store reports them in batches). */
static void pop3_quit_flags_send(struct pop3_session *s, uint32_t start)
{
	struct proto_store_flags *m = xcalloc(1, sizeof(*m));
	struct ipc_writer w;

	m->uid = 1;
	strlcpy_checked(m->set, s->quit_set, sizeof(m->set));
	m->op = STORE_FLAGS_ADD;
	m->flags = STORE_FLAG_DELETED;
	m->start = start;
	m->max = PROTO_STORE_FETCH_BATCH;
	ipc_writer_init(&w);
	proto_store_flags_encode(m, &w);
	free(m);
	s->wait = POP3_WAIT_FLAGS;
	pop3_store_send(s, IMSG_STORE_FLAGS, &w);
}

/* The next round of QUIT's deletions, or its end: +OK, and the session
 * ends once it has left. */
static void pop3_quit_round(struct pop3_session *s)
{
	unsigned next, n;

	if (s->quit_set == NULL)
		s->quit_set = xmalloc(PROTO_STORE_SET_MAX);
	n = pop3_quit_set(s, s->quit_set, PROTO_STORE_SET_MAX, &next);
	if (n == 0) {
		s->wait = POP3_WAIT_NONE;
		log_info("event=pop3-update session=%s deleted=%u", s->id, s->removed);
		pop3_reply(s, "+OK %s POP3 signing off (%u messages deleted)",
		           s->env->cfg->hostname, s->removed);
		pop3_close_after_reply(s);
		return;
	}
	s->quit_next = next;
	s->quit_round = n;
	s->scan_items = 0;
	pop3_quit_flags_send(s, 0);
}

void pop3_maildrop_update(struct pop3_session *s)
{
	s->state = POP3_STATE_UPDATE;
	s->quit_next = 0;
	pop3_quit_round(s);
}

/* The marked messages of this round carry \Deleted: UID EXPUNGE them. */
static void pop3_quit_expunge(struct pop3_session *s)
{
	struct proto_store_expunge *m = xcalloc(1, sizeof(*m));
	struct ipc_writer w;

	m->uid_only = 1;
	strlcpy_checked(m->uids, s->quit_set, sizeof(m->uids));
	ipc_writer_init(&w);
	proto_store_expunge_encode(m, &w);
	free(m);
	s->wait = POP3_WAIT_EXPUNGE;
	pop3_store_send(s, IMSG_STORE_EXPUNGE, &w);
}

/* The end of a scan batch or of a flags change (a batch of its reports). */
void pop3_maildrop_done(struct pop3_session *s, const void *data, size_t len)
{
	struct proto_store_fetch_done m;
	const char *why;

	if (proto_store_fetch_done_decode(&m, data, len, &why) < 0) {
		pop3_store_failed(s, why);
		return;
	}
	if (m.status != PROTO_STORE_OK && s->wait == POP3_WAIT_FLAGS) {
		s->wait = POP3_WAIT_NONE;
		pop3_reply(s, "-ERR [SYS/TEMP] Some deleted messages not removed");
		pop3_close_after_reply(s);
	} else if (m.status != PROTO_STORE_OK) {
		pop3_maildrop_refused(s, m.code, m.text);
	} else if (s->wait == POP3_WAIT_SCAN && m.more) {
		pop3_maildrop_fetch(s, s->n_msgs);
	} else if (s->wait == POP3_WAIT_SCAN) {
		pop3_maildrop_ready(s);
	} else if (m.more) {
		pop3_quit_flags_send(s, s->scan_items);
	} else {
		pop3_quit_expunge(s);
	}
	proto_store_fetch_done_free(&m);
}

/* LOGIN's answer, or (QUIT) EXPUNGE's. */
void pop3_maildrop_result(struct pop3_session *s, const void *data, size_t len)
{
	struct proto_store_result m;
	const char *why;

	if (proto_store_result_decode(&m, data, len, &why) < 0) {
		pop3_store_failed(s, why);
		return;
	}
	if (s->wait == POP3_WAIT_LOGIN && m.status == PROTO_STORE_OK) {
		pop3_maildrop_select(s);
	} else if (s->wait == POP3_WAIT_LOGIN) {
		s->store_login = 0;
		pop3_maildrop_refused(s, m.code, m.text);
	} else if (m.status == PROTO_STORE_OK) {
		s->removed += s->quit_round;
		pop3_quit_round(s);
	} else {
		s->wait = POP3_WAIT_NONE;
		pop3_reply(s, "-ERR [SYS/TEMP] Some deleted messages not removed");
		pop3_close_after_reply(s);
	}
}
