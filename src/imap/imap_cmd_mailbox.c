/*
 * imap_cmd_mailbox.c: the authenticated state's mailbox commands: SELECT
 * and EXAMINE (RFC 9051 6.3.2, 6.3.3; CONDSTORE and QRESYNC parameters,
 * RFC 7162 3.1.8, 3.2.5), CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE
 * (6.3.4 - 6.3.8), NAMESPACE (6.3.10) and STATUS (6.3.11, RFC 8438 SIZE,
 * RFC 7162 HIGHESTMODSEQ), each one store request. LIST and LSUB are in
 * imap_cmd_list.c, which shares the STATUS items from here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "imap/imap_fetch.h"
#include "imap/imap_parse.h"
#include "imap/imap_session_private.h"
#include "lib/ipc.h"
#include "lib/util.h"
#include "proto/proto.h"
#include "proto/store.h"

/* ---- SELECT and EXAMINE ------------------------------------------------------ */

struct imap_select_ctx {
	struct imap_out fetches; /* QRESYNC's changed messages, printed after the counts */
	int qresync;
};

static void imap_select_ctx_free(void *p)
{
	struct imap_select_ctx *c = p;

	free(c->fetches.buf);
	free(c);
}

/* The counts of a selected mailbox (RFC 9051 7.1, 7.3; rev1: RECENT, UNSEEN). */
static void imap_select_print(struct imap_session *s, const struct proto_store_select_result *r)
{
	struct imap_out o = {NULL, 0, 0};
	int rev1 = !(s->enabled & IMAP_ENABLED_REV2);

	imap_out_printf(&o, "* FLAGS ");
	imap_fetch_out_flags(&o, STORE_FLAGS_SETTABLE, r->keywords, 0);
	imap_out_printf(&o, "\r\n* OK [PERMANENTFLAGS (");
	if (!r->readonly) {
		imap_fetch_out_flags(&o, STORE_FLAGS_SETTABLE, r->keywords, 0);
		o.len--; /* the list's ")" */
		imap_out_printf(&o, " \\*");
	}
	imap_out_printf(&o, ")] Flags permitted\r\n* %u EXISTS\r\n", r->exists);
	if (rev1)
		imap_out_printf(&o, "* %u RECENT\r\n", r->recent);
	if (rev1 && r->first_unseen != 0)
		imap_out_printf(&o, "* OK [UNSEEN %u] First unseen\r\n", r->first_unseen);
	imap_out_printf(
	    &o, "* OK [UIDVALIDITY %u] UIDs valid\r\n* OK [UIDNEXT %u] Predicted next UID\r\n",
	    r->uidvalidity, r->uidnext);
	imap_out_printf(&o, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
	                (unsigned long long)r->highestmodseq);
	if (r->vanished != NULL && r->vanished[0] != '\0')
		imap_out_printf(&o, "* VANISHED (EARLIER) %s\r\n", r->vanished);
	imap_out_flush(s, &o);
	free(o.buf);
}

static void imap_select_reply(struct imap_session *s, uint32_t type, const void *data, size_t len,
                              int fd)
{
	struct imap_select_ctx *c = s->cmd.data;
	struct proto_store_select_result r;
	struct proto_store_item item;
	struct imap_reply rep;
	const char *why;

	if (fd >= 0)
		close(fd);
	if (type == IMSG_STORE_FETCH_ITEM && proto_store_item_decode(&item, data, len, &why) == 0) {
		imap_out_flag_fetch(s, &c->fetches, &item, 0);
		proto_store_item_free(&item);
		return;
	}
	if (type != IMSG_STORE_SELECT_RESULT ||
	    proto_store_select_result_decode(&r, data, len, &why) < 0) {
		rep = imap_reply_make(IMAP_NO, "SERVERBUG", "The mail store did not answer");
		imap_command_done(s, &rep);
		return;
	}
	if (r.status != PROTO_STORE_OK) {
		rep = imap_reply_from_store(r.status, r.code, r.text, "");
	} else {
		imap_select_print(s, &r);
		imap_out_flush(s, &c->fetches);
		s->state = IMAP_STATE_SELECTED;
		s->readonly = r.readonly != 0;
		s->exists = r.exists;
		s->recent = r.recent;
		s->uidvalidity = r.uidvalidity;
		s->highestmodseq = r.highestmodseq;
		rep = imap_reply_make(IMAP_OK, s->readonly ? "READ-ONLY" : "READ-WRITE",
		                      "%s completed", s->cmd.name);
	}
	proto_store_select_result_free(&r);
	imap_command_done(s, &rep);
}

/* (QRESYNC (uidvalidity modseq [known-uids [seq-match]])), RFC 7162 3.2.5. */
static int imap_select_qresync(const struct imap_arg *a, struct proto_store_select *m)
{
	char *end;

	if (a->type != IMAP_ARG_LIST || a->n < 2 || a->n > 4 || a->list[0].type != IMAP_ARG_ATOM ||
	    a->list[1].type != IMAP_ARG_ATOM)
		return -1;
	m->qresync_uidvalidity = (uint32_t)strtoul(a->list[0].str, &end, 10);
	if (*end != '\0' || m->qresync_uidvalidity == 0)
		return -1;
	m->qresync_modseq = strtoull(a->list[1].str, &end, 10);
	if (*end != '\0' || m->qresync_modseq == 0)
		return -1;
	if (a->n >= 3 && (a->list[2].type != IMAP_ARG_ATOM ||
	                  strlcpy_checked(m->qresync_known_uids, a->list[2].str,
	                                  sizeof(m->qresync_known_uids)) < 0))
		return -1;
	return 0;
}

/* The optional parameter list: CONDSTORE, or QRESYNC once enabled. */
static int imap_select_params(struct imap_session *s, const struct imap_arg *a,
                              struct proto_store_select *m, int *qresync_r)
{
	unsigned i;

	if (a->type != IMAP_ARG_LIST)
		return -1;
	for (i = 0; i < a->n; i++) {
		if (imap_arg_is(&a->list[i], "CONDSTORE")) {
			s->enabled |= IMAP_ENABLED_CONDSTORE;
		} else if (imap_arg_is(&a->list[i], "QRESYNC") && i + 1 < a->n &&
		           (s->enabled & IMAP_ENABLED_QRESYNC) &&
		           imap_select_qresync(&a->list[i + 1], m) == 0) {
			*qresync_r = 1;
			i++;
		} else {
			return -1;
		}
	}
	return 0;
}

static struct imap_reply imap_select_common(struct imap_session *s, const struct imap_arg *args,
                                            unsigned n, int readonly)
{
	struct proto_store_select *m;
	struct imap_select_ctx *c;
	struct ipc_writer w;
	const char *why;
	int qresync = 0;

	m = xcalloc(1, sizeof(*m));
	if (n < 1 || n > 2 || imap_mailbox_arg(s, &args[0], m->name, sizeof(m->name), &why) < 0 ||
	    (n == 2 && imap_select_params(s, &args[1], m, &qresync) < 0)) {
		free(m);
		return imap_reply_make(
		    IMAP_BAD, "", "Expected %s mailbox [(CONDSTORE | QRESYNC (...))]", s->cmd.name);
	}
	m->readonly = (uint32_t)readonly;
	s->cmd.no_updates = 1; /* the answer is the whole new state */
	/* RFC 9051 6.3.2: the current mailbox is deselected, even when this fails */
	if (s->state == IMAP_STATE_SELECTED &&
	    (s->enabled & (IMAP_ENABLED_REV2 | IMAP_ENABLED_QRESYNC)))
		imap_untagged(s, "OK [CLOSED] Previous mailbox closed");
	s->state = IMAP_STATE_AUTH;
	free(s->saved_uids);
	s->saved_uids = NULL;
	snprintf(s->mailbox, sizeof(s->mailbox), "%s", m->name);
	c = xcalloc(1, sizeof(*c));
	c->qresync = qresync;
	s->cmd.data = c;
	s->cmd.data_free = imap_select_ctx_free;
	ipc_writer_init(&w);
	proto_store_select_encode(m, &w);
	free(m);
	imap_store_request(s, IMSG_STORE_SELECT, &w, -1, imap_select_reply);
	return imap_pending();
}

struct imap_reply imap_cmd_select(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	return imap_select_common(s, args, n, 0);
}

struct imap_reply imap_cmd_examine(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	return imap_select_common(s, args, n, 1);
}

/* ---- CREATE, DELETE, RENAME, (UN)SUBSCRIBE ------------------------------------- */

static void imap_mailbox_reply(struct imap_session *s, uint32_t type, const void *data, size_t len,
                               int fd)
{
	struct imap_reply r = imap_reply_from_store_result(type, data, len, fd, "Completed");

	imap_command_done(s, &r);
}

/* One IMSG_STORE_MAILBOX for OP on ARGS[0] (and ARGS[1] for RENAME). A
 * trailing "/" is dropped (RFC 9051 6.3.4: CREATE "a/" creates "a"). */
static struct imap_reply imap_mailbox_op(struct imap_session *s, const struct imap_arg *args,
                                         unsigned n, uint32_t op)
{
	struct proto_store_mailbox m;
	struct ipc_writer w;
	const char *why = "Invalid mailbox name";
	unsigned want = op == STORE_MAILBOX_RENAME ? 2 : 1;
	size_t len;

	memset(&m, 0, sizeof(m));
	m.op = op;
	if (n != want || imap_mailbox_arg(s, &args[0], m.name, sizeof(m.name), &why) < 0 ||
	    (want == 2 && imap_mailbox_arg(s, &args[1], m.new_name, sizeof(m.new_name), &why) < 0))
		return imap_reply_make(IMAP_BAD, "", "%s", why);
	len = strlen(m.name);
	if (op == STORE_MAILBOX_CREATE && len > 1 && m.name[len - 1] == '/')
		m.name[len - 1] = '\0';
	if (m.name[0] == '\0' || (want == 2 && m.new_name[0] == '\0'))
		return imap_reply_make(IMAP_NO, "CANNOT", "Empty mailbox name");
	ipc_writer_init(&w);
	proto_store_mailbox_encode(&m, &w);
	imap_store_request(s, IMSG_STORE_MAILBOX, &w, -1, imap_mailbox_reply);
	return imap_pending();
}

struct imap_reply imap_cmd_create(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	return imap_mailbox_op(s, args, n, STORE_MAILBOX_CREATE);
}

struct imap_reply imap_cmd_delete(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	return imap_mailbox_op(s, args, n, STORE_MAILBOX_DELETE);
}

struct imap_reply imap_cmd_rename(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	return imap_mailbox_op(s, args, n, STORE_MAILBOX_RENAME);
}

struct imap_reply imap_cmd_subscribe(struct imap_session *s, const struct imap_arg *args,
                                     unsigned n)
{
	return imap_mailbox_op(s, args, n, STORE_MAILBOX_SUBSCRIBE);
}

struct imap_reply imap_cmd_unsubscribe(struct imap_session *s, const struct imap_arg *args,
                                       unsigned n)
{
	return imap_mailbox_op(s, args, n, STORE_MAILBOX_UNSUBSCRIBE);
}

/* One personal namespace, no prefix, "/" between levels. */
struct imap_reply imap_cmd_namespace(struct imap_session *s, const struct imap_arg *args,
                                     unsigned n)
{
	imap_untagged(s, "NAMESPACE ((\"\" \"/\")) NIL NIL");
	return imap_reply_make(IMAP_OK, "", "NAMESPACE completed");
}

/* ---- STATUS ------------------------------------------------------------------ */

static const struct {
	const char *name;
	unsigned bit;
} imap_status_names[] = {
    {"MESSAGES", IMAP_STATUS_MESSAGES},       {"UIDNEXT", IMAP_STATUS_UIDNEXT},
    {"UIDVALIDITY", IMAP_STATUS_UIDVALIDITY}, {"UNSEEN", IMAP_STATUS_UNSEEN},
    {"DELETED", IMAP_STATUS_DELETED},         {"SIZE", IMAP_STATUS_SIZE},
    {"RECENT", IMAP_STATUS_RECENT},           {"HIGHESTMODSEQ", IMAP_STATUS_HIGHESTMODSEQ},
};
#define IMAP_N_STATUS (sizeof(imap_status_names) / sizeof(imap_status_names[0]))

int imap_status_items(struct imap_session *s, const struct imap_arg *a, unsigned *items_r)
{
	unsigned i, k;

	*items_r = 0;
	if (a->type != IMAP_ARG_LIST || a->n == 0)
		return -1;
	for (i = 0; i < a->n; i++) {
		for (k = 0; k < IMAP_N_STATUS; k++)
			if (imap_arg_is(&a->list[i], imap_status_names[k].name))
				break;
		if (k == IMAP_N_STATUS)
			return -1;
		*items_r |= imap_status_names[k].bit;
	}
	/* RFC 7162 3.1: STATUS (HIGHESTMODSEQ) enables CONDSTORE */
	if (*items_r & IMAP_STATUS_HIGHESTMODSEQ)
		s->enabled |= IMAP_ENABLED_CONDSTORE;
	return 0;
}

void imap_out_status(const struct imap_session *s, struct imap_out *o, const char *name,
                     unsigned items, const struct proto_store_status_result *r)
{
	const uint64_t v[] = {r->messages, r->uidnext, r->uidvalidity, r->unseen,
	                      r->deleted,  r->size,    r->recent,      r->highestmodseq};
	const char *sep = "";
	unsigned k;

	imap_out_printf(o, "* STATUS ");
	imap_out_mailbox(s, o, name);
	imap_out_printf(o, " (");
	for (k = 0; k < IMAP_N_STATUS; k++) {
		if (!(items & imap_status_names[k].bit))
			continue;
		imap_out_printf(o, "%s%s %llu", sep, imap_status_names[k].name,
		                (unsigned long long)v[k]);
		sep = " ";
	}
	imap_out_printf(o, ")\r\n");
}

struct imap_status_ctx {
	char name[PROTO_STORE_NAME_MAX];
	unsigned items;
};

static void imap_status_reply(struct imap_session *s, uint32_t type, const void *data, size_t len,
                              int fd)
{
	struct imap_status_ctx *c = s->cmd.data;
	struct proto_store_status_result m;
	struct imap_out o = {NULL, 0, 0};
	struct imap_reply r;
	const char *why;

	if (fd >= 0)
		close(fd);
	if (type != IMSG_STORE_STATUS_RESULT ||
	    proto_store_status_result_decode(&m, data, len, &why) < 0) {
		r = imap_reply_make(IMAP_NO, "SERVERBUG", "The mail store did not answer");
	} else if (m.status != PROTO_STORE_OK) {
		r = imap_reply_from_store(m.status, m.code, m.text, "");
	} else {
		imap_out_status(s, &o, c->name, c->items, &m);
		imap_out_flush(s, &o);
		free(o.buf);
		r = imap_reply_make(IMAP_OK, "", "STATUS completed");
	}
	imap_command_done(s, &r);
}

struct imap_reply imap_cmd_status(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	struct proto_store_status m;
	struct imap_status_ctx *c;
	struct ipc_writer w;
	const char *why;
	unsigned items;

	memset(&m, 0, sizeof(m));
	if (n != 2 || imap_mailbox_arg(s, &args[0], m.name, sizeof(m.name), &why) < 0 ||
	    imap_status_items(s, &args[1], &items) < 0)
		return imap_reply_make(IMAP_BAD, "", "Expected STATUS mailbox (items)");
	c = xcalloc(1, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", m.name);
	c->items = items;
	s->cmd.data = c;
	s->cmd.data_free = free;
	ipc_writer_init(&w);
	proto_store_status_encode(&m, &w);
	imap_store_request(s, IMSG_STORE_STATUS, &w, -1, imap_status_reply);
	return imap_pending();
}
